package slackfake

import (
	"cmp"
	"encoding/base64"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Slack error codes and limits for conversations.history.
const (
	errInvalidTSOldest = "invalid_ts_oldest"
	errInvalidTSLatest = "invalid_ts_latest"
	errInvalidCursor   = "invalid_cursor"

	defaultHistoryLimit = 100
	maxHistoryLimit     = 999
	historyCursorPrefix = "next_ts:"
	// maxTSSeconds keeps a ts in microseconds inside an int64.
	maxTSSeconds = math.MaxInt64/1_000_000 - 1
)

// tsValue is a message ts as a number of microseconds, for ordering and
// for comparing with oldest and latest.
type tsValue int64

// parseTS reads a ts ("1700000000.000100", or whole seconds); false when it
// is not one.
func parseTS(s string) (tsValue, bool) {
	secs, frac, _ := strings.Cut(s, ".")
	if secs == "" || len(frac) > 6 {
		return 0, false
	}
	sec, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || sec < 0 || sec > maxTSSeconds {
		return 0, false
	}
	var micros int64
	if frac != "" {
		micros, err = strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64)
		if err != nil || micros < 0 {
			return 0, false
		}
	}
	return tsValue(sec*1_000_000 + micros), true
}

// conversationsHistoryLocked lists the channel's messages newest first, as
// Slack does: top-level messages and thread broadcasts only, each in its
// latest state, with metadata only when include_all_metadata is set.
func (s *Server) conversationsHistoryLocked(p map[string]string) apiResult {
	id := p["channel"]
	cv := s.conversationLocked(id)
	if !cv.found() {
		return fail(errChannelNotFound)
	}
	if res, allowed := s.needBotScopeLocked(cv.historyScope()); !allowed {
		return res
	}
	if !cv.botIn() {
		return fail(errNotInChannel)
	}
	// oldest and latest are exclusive unless inclusive is set.
	edge := tsValue(1)
	if truthy(p["inclusive"]) {
		edge = 0
	}
	lower, upper := tsValue(0), tsValue(1<<62)
	if v := p["oldest"]; v != "" {
		t, valid := parseTS(v)
		if !valid {
			return fail(errInvalidTSOldest)
		}
		lower = t + edge
	}
	if v := p["latest"]; v != "" {
		t, valid := parseTS(v)
		if !valid {
			return fail(errInvalidTSLatest)
		}
		upper = t - edge
	}
	if c := p["cursor"]; c != "" {
		t, valid := parseCursor(c)
		if !valid {
			return fail(errInvalidCursor)
		}
		upper = min(upper, t)
	}
	limit := defaultHistoryLimit
	if v := p["limit"]; v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			limit = min(n, maxHistoryLimit)
		}
	}
	withMeta := truthy(p["include_all_metadata"])

	type entry struct {
		ts tsValue
		m  Message
	}
	var in []entry
	for _, m := range s.current {
		if m.Channel != id || (m.ThreadTS != "" && m.ThreadTS != m.TS) {
			continue
		}
		t, valid := parseTS(m.TS)
		if valid && t >= lower && t <= upper {
			in = append(in, entry{t, m})
		}
	}
	slices.SortFunc(in, func(a, b entry) int { return cmp.Compare(b.ts, a.ts) })
	hasMore := len(in) > limit
	if hasMore {
		in = in[:limit]
	}
	msgs := make([]map[string]any, len(in))
	for i, e := range in {
		msgs[i] = botMessageJSON(e.m, false, withMeta)
	}
	body := map[string]any{"messages": msgs, "has_more": hasMore, "pin_count": 0}
	if hasMore {
		next := in[len(in)-1].ts - 1
		body["response_metadata"] = map[string]any{"next_cursor": encodeCursor(next)}
	}
	return ok(body)
}

func truthy(v string) bool { return v == "1" || v == "true" }

// encodeCursor and parseCursor make the opaque cursor that pages through
// history: the newest ts the next page may hold.
func encodeCursor(t tsValue) string {
	return base64.StdEncoding.EncodeToString([]byte(historyCursorPrefix + strconv.FormatInt(int64(t), 10)))
}

func parseCursor(c string) (tsValue, bool) {
	raw, err := base64.StdEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	n, found := strings.CutPrefix(string(raw), historyCursorPrefix)
	if !found {
		return 0, false
	}
	v, err := strconv.ParseInt(n, 10, 64)
	if err != nil || v < 0 {
		return 0, false
	}
	return tsValue(v), true
}
