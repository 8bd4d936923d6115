package oktatest

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	defaultLimit    = 100
	maxLimit        = 1000
	defaultSinceAge = 7 * 24 * time.Hour
	publishedLayout = "2006-01-02T15:04:05.000Z"
)

// Event is a System Log event for Log. Its JSON has the fields and shape of
// Okta's LogEvent; LogJSON takes arbitrary LogEvent JSON instead.
type Event struct {
	// UUID is the event's uuid (generated when empty).
	UUID string
	// Type is the eventType, e.g. "user.lifecycle.suspend".
	Type string
	// Published is when the event happened (default: the org's now). An
	// old time makes a late event: it is persisted now all the same.
	Published time.Time
	// Message is the displayMessage.
	Message string
	// Actor did it (default: the token owner).
	Actor User
	// Target is the affected user, served as the target of type "User";
	// a zero Target leaves the event without one.
	Target User
	// ClientIP is client.ipAddress.
	ClientIP string
}

// logEntry is one persisted event.
type logEntry struct {
	seq       int64
	uuid      string
	persisted time.Time
	published time.Time
	eventType string
	raw       json.RawMessage
}

// Log persists events now, in order, and returns their UUIDs.
func (s *Server) Log(evs ...Event) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(evs))
	for _, ev := range evs {
		now := s.now()
		if ev.UUID == "" {
			ev.UUID = newUUID()
		}
		if ev.Published.IsZero() {
			ev.Published = now
		}
		if ev.Actor.ID == "" && ev.Actor.Login == "" {
			if u := s.byID(s.owner); u != nil {
				ev.Actor = u.User
			}
		}
		raw, err := json.Marshal(renderEvent(ev))
		if err != nil {
			panic(err) // maps of strings always encode
		}
		s.persist(ev.UUID, ev.Type, ev.Published, raw, now)
		ids = append(ids, ev.UUID)
	}
	return ids
}

// LogJSON persists LogEvent JSON now: one object or an array of them. Each
// must have a uuid not logged before, an eventType and an RFC 3339
// published time. Nothing is persisted when any of them is unusable.
func (s *Server) LogJSON(data []byte) error {
	var raws []json.RawMessage
	trimmed := strings.TrimSpace(string(data))
	if strings.HasPrefix(trimmed, "[") {
		if err := json.Unmarshal(data, &raws); err != nil {
			return fmt.Errorf("oktatest: LogJSON: %w", err)
		}
	} else {
		raws = []json.RawMessage{json.RawMessage(trimmed)}
	}
	for i, raw := range raws {
		var compact bytes.Buffer
		if err := json.Compact(&compact, raw); err != nil {
			return fmt.Errorf("oktatest: LogJSON: event %d: %w", i, err)
		}
		raws[i] = compact.Bytes()
	}
	type head struct {
		UUID      string `json:"uuid"`
		EventType string `json:"eventType"`
		Published string `json:"published"`
	}
	heads := make([]head, len(raws))
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for _, e := range s.events {
		seen[e.uuid] = true
	}
	for i, raw := range raws {
		h := &heads[i]
		if err := json.Unmarshal(raw, h); err != nil {
			return fmt.Errorf("oktatest: LogJSON: event %d: %w", i, err)
		}
		if _, err := time.Parse(time.RFC3339Nano, h.Published); err != nil || h.UUID == "" || h.EventType == "" {
			return fmt.Errorf("oktatest: LogJSON: event %d needs a uuid, an eventType and an RFC 3339 published time", i)
		}
		if seen[h.UUID] {
			return fmt.Errorf("oktatest: LogJSON: event %d: uuid %q is already logged", i, h.UUID)
		}
		seen[h.UUID] = true
	}
	for i, raw := range raws {
		pub, _ := time.Parse(time.RFC3339Nano, heads[i].Published)
		s.persist(heads[i].UUID, heads[i].EventType, pub, raw, s.now())
	}
	return nil
}

// ExpireCursors makes every after cursor handed out so far answer 400, as a
// cursor Okta no longer honours would.
func (s *Server) ExpireCursors() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch++
}

func (s *Server) persist(uuid, typ string, published time.Time, raw json.RawMessage, now time.Time) {
	s.seq++
	s.events = append(s.events, &logEntry{seq: s.seq, uuid: uuid, persisted: now, published: published, eventType: typ, raw: raw})
}

// renderEvent builds the LogEvent JSON Okta would send for ev.
func renderEvent(ev Event) map[string]any {
	entity := func(u User) map[string]any {
		return map[string]any{"id": u.ID, "type": "User", "alternateId": u.Login, "displayName": displayName(u), "detailEntry": nil}
	}
	out := map[string]any{
		"uuid": ev.UUID, "published": ev.Published.UTC().Format(publishedLayout), "eventType": ev.Type,
		"version": "0", "severity": "INFO", "displayMessage": ev.Message, "legacyEventType": nil,
		"actor": entity(ev.Actor),
		"client": map[string]any{
			"userAgent": map[string]any{"rawUserAgent": "Mozilla/5.0", "os": "Mac OS X", "browser": "CHROME"},
			"zone":      "null", "device": "Computer", "id": nil, "ipAddress": ev.ClientIP,
			"geographicalContext": nil,
		},
		"outcome":               map[string]any{"result": "SUCCESS", "reason": nil},
		"target":                []any{},
		"transaction":           map[string]any{"type": "WEB", "id": "oktatest-" + ev.UUID, "detail": map[string]any{}},
		"debugContext":          map[string]any{"debugData": map[string]any{}},
		"authenticationContext": map[string]any{"authenticationStep": 0, "externalSessionId": "oktatest"},
		"securityContext":       map[string]any{},
		"request":               map[string]any{"ipChain": []any{}},
	}
	if ev.Target.ID != "" || ev.Target.Login != "" {
		out["target"] = []any{entity(ev.Target)}
	}
	return out
}

func displayName(u User) string {
	if u.DisplayName != "" {
		return u.DisplayName
	}
	if n := strings.TrimSpace(u.FirstName + " " + u.LastName); n != "" {
		return n
	}
	return u.Login
}

// newUUID returns a random version-4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// logQuery is a parsed GET /api/v1/logs.
type logQuery struct {
	limit  int
	desc   bool
	filter eventFilter
	raw    url.Values
}

// badParam is a 400 E0000053 with Okta's "Invalid parameter" wording.
type badParam string

func (e badParam) Error() string { return string(e) }

// serveLogs answers a System Log query with Okta's two query semantics:
// polling (no until, ASCENDING) and bounded.
func (s *Server) serveLogs(w http.ResponseWriter, r *http.Request, now time.Time) {
	q := r.URL.Query()
	lq, err := parseLogQuery(q)
	if err == nil && q.Has("since") && q.Has("after") {
		err = badParam("Invalid parameter: since and after cannot be used together")
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, codeInvalidParam, err.Error())
		return
	}
	var (
		page []*logEntry
		next url.Values
	)
	if q.Get("until") == "" && !lq.desc {
		page, next, err = s.polling(lq, now)
	} else {
		page, next, err = s.bounded(lq, now)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, codeInvalidParam, err.Error())
		return
	}
	w.Header().Add("Link", "<"+s.srv.URL+r.URL.RequestURI()+`>; rel="self"`)
	if next != nil {
		w.Header().Add("Link", "<"+s.srv.URL+logsPath+"?"+next.Encode()+`>; rel="next"`)
	}
	body := make([]json.RawMessage, len(page))
	for i, e := range page {
		body[i] = e.raw
	}
	writeJSON(w, body)
}

func parseLogQuery(q url.Values) (logQuery, error) {
	lq := logQuery{limit: defaultLimit, raw: q}
	if q.Has("q") {
		return lq, badParam("Invalid parameter: q (oktatest does not support keyword search)")
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxLimit {
			return lq, badParam("Invalid parameter: limit must be an integer between 0 and 1000")
		}
		lq.limit = n
	}
	switch q.Get("sortOrder") {
	case "", "ASCENDING":
	case "DESCENDING":
		lq.desc = true
	default:
		return lq, badParam("Invalid parameter: sortOrder must be ASCENDING or DESCENDING")
	}
	f, err := parseFilter(q.Get("filter"))
	if err != nil {
		return lq, badParam(fmt.Sprintf("Invalid filter '%s': %v", q.Get("filter"), err))
	}
	lq.filter = f
	return lq, nil
}

// timeParam parses an ISO 8601 (RFC 3339) query time; "" is the zero time.
func timeParam(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, badParam("Invalid parameter: " + name + " must be an ISO 8601 timestamp")
	}
	return t, nil
}

// sinceParam is since or its default, refused when it reaches past the
// retention window.
func (s *Server) sinceParam(q url.Values, until, now time.Time) (time.Time, error) {
	window := now.Add(-s.retention)
	since, err := timeParam(q, "since")
	switch {
	case err != nil:
		return since, err
	case since.IsZero():
		return maxTime(until.Add(-defaultSinceAge), window), nil
	case since.Before(window):
		return since, badParam(fmt.Sprintf("Invalid parameter: The since parameter is over %d days prior to the current day.",
			int(s.retention.Hours()/24)))
	}
	return since, nil
}

// polling serves a polling query: events in persistence order after the
// cursor (or persisted since since), with a next link always.
func (s *Server) polling(lq logQuery, now time.Time) ([]*logEntry, url.Values, error) {
	window := now.Add(-s.retention)
	var (
		from  int64 // events with seq > from
		since time.Time
	)
	if a := lq.raw.Get("after"); a != "" {
		c, ok := decodeCursor(a)
		if !ok || c.bounded || c.epoch != s.epoch || c.at.Before(window) {
			return nil, nil, badParam("Invalid parameter: after")
		}
		from = c.pos
	} else {
		var err error
		if since, err = s.sinceParam(lq.raw, now, now); err != nil {
			return nil, nil, err
		}
	}
	var page []*logEntry
	end := cursor{epoch: s.epoch, pos: s.seq, at: now}
	for _, e := range s.events {
		if e.seq <= from || e.published.Before(window) || !lq.filter.keeps(e.eventType) {
			continue
		}
		bound := e.persisted
		if s.sinceOnPublish {
			bound = e.published
		}
		if !since.IsZero() && bound.Before(since) {
			continue
		}
		if len(page) == lq.limit {
			// More to come: resume right after the last event served.
			last := page[len(page)-1]
			end = cursor{epoch: s.epoch, pos: last.seq, at: last.persisted}
			break
		}
		page = append(page, e)
	}
	next := url.Values{"limit": {strconv.Itoa(lq.limit)}, "sortOrder": {"ASCENDING"}, "after": {end.encode()}}
	if f := lq.raw.Get("filter"); f != "" {
		next.Set("filter", f)
	}
	return page, next, nil
}

// bounded serves a query with until (or DESCENDING): events published in
// [since, until), in published order, in finite pages.
func (s *Server) bounded(lq logQuery, now time.Time) ([]*logEntry, url.Values, error) {
	window := now.Add(-s.retention)
	c := cursor{epoch: s.epoch, bounded: true, desc: lq.desc}
	if a := lq.raw.Get("after"); a != "" {
		var ok bool
		c, ok = decodeCursor(a)
		if !ok || !c.bounded || c.epoch != s.epoch {
			return nil, nil, badParam("Invalid parameter: after")
		}
	} else {
		until, err := timeParam(lq.raw, "until")
		if err != nil {
			return nil, nil, err
		}
		if until.IsZero() || until.After(now) {
			until = now
		}
		since, err := s.sinceParam(lq.raw, until, now)
		if err != nil {
			return nil, nil, err
		}
		c.at, c.until = since, until
	}
	var all []*logEntry
	for _, e := range s.events {
		if e.published.Before(maxTime(c.at, window)) || !e.published.Before(c.until) || !lq.filter.keeps(e.eventType) {
			continue
		}
		all = append(all, e)
	}
	slices.SortStableFunc(all, func(a, b *logEntry) int {
		if d := a.published.Compare(b.published); d != 0 {
			return d
		}
		return cmp.Compare(a.seq, b.seq)
	})
	if c.desc {
		slices.Reverse(all)
	}
	start := min(int(c.pos), len(all))
	stop := min(start+lq.limit, len(all))
	if stop >= len(all) {
		return all[start:stop], nil, nil
	}
	c.pos = int64(stop)
	next := url.Values{"limit": {strconv.Itoa(lq.limit)}, "until": {c.until.UTC().Format(publishedLayout)}, "after": {c.encode()}}
	if c.desc {
		next.Set("sortOrder", "DESCENDING")
	}
	if f := lq.raw.Get("filter"); f != "" {
		next.Set("filter", f)
	}
	return all[start:stop], next, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
