package oktatest

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// cursor is what an after value stands for. Clients must treat it as
// opaque, so it is base64 of a format only the fake reads.
type cursor struct {
	epoch int
	// bounded cursors page through a published-ordered result; polling
	// ones resume the persistence-ordered stream.
	bounded bool
	// pos is, for polling, the persistence sequence already read; for
	// bounded queries, how many results were already returned.
	pos int64
	// at is when pos was reached (polling) or the query's since (bounded).
	at time.Time
	// until and desc complete a bounded query; after replaces since in
	// the next link, so the cursor carries it.
	until time.Time
	desc  bool
}

func (c cursor) encode() string {
	kind := "p"
	if c.bounded {
		kind = "b"
	}
	raw := fmt.Sprintf("%d:%s:%d:%d:%d:%t", c.epoch, kind, c.pos, c.at.UnixNano(), c.until.UnixNano(), c.desc)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeCursor(s string) (cursor, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, false
	}
	f := strings.Split(string(raw), ":")
	if len(f) != 6 || (f[1] != "p" && f[1] != "b") {
		return cursor{}, false
	}
	var c cursor
	var at, until int64
	var errs [5]error
	c.epoch, errs[0] = strconv.Atoi(f[0])
	c.pos, errs[1] = strconv.ParseInt(f[2], 10, 64)
	at, errs[2] = strconv.ParseInt(f[3], 10, 64)
	until, errs[3] = strconv.ParseInt(f[4], 10, 64)
	c.desc, errs[4] = strconv.ParseBool(f[5])
	if errors.Join(errs[:]...) != nil || c.pos < 0 {
		return cursor{}, false
	}
	c.bounded = f[1] == "b"
	c.at, c.until = time.Unix(0, at), time.Unix(0, until)
	return c, true
}
