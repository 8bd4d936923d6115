package oktatest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clock is a settable clock for the org.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newClock() *clock { return &clock{t: time.Date(2024, 5, 6, 12, 0, 0, 0, time.UTC)} }

func newTestServer(t *testing.T, opts ...Option) *Server {
	t.Helper()
	s := NewServer(opts...)
	t.Cleanup(s.Close)
	return s
}

// answer is a decoded reply.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) errorCode(t *testing.T) string {
	t.Helper()
	var e struct {
		ErrorCode    string `json:"errorCode"`
		ErrorSummary string `json:"errorSummary"`
	}
	require.NoError(t, json.Unmarshal(a.body, &e), "%s", a.body)
	require.NotEmpty(t, e.ErrorSummary)
	return e.ErrorCode
}

// events decodes a System Log page to its uuids.
func (a answer) uuids(t *testing.T) []string {
	t.Helper()
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	var evs []struct {
		UUID string `json:"uuid"`
	}
	require.NoError(t, json.Unmarshal(a.body, &evs))
	out := []string{}
	for _, e := range evs {
		out = append(out, e.UUID)
	}
	return out
}

// next returns the path and query of the rel="next" link, "" when absent.
func (a answer) next(t *testing.T) string {
	t.Helper()
	for _, l := range a.header.Values("Link") {
		if strings.HasSuffix(l, `rel="next"`) {
			u, err := url.Parse(strings.TrimSuffix(strings.TrimPrefix(l, "<"), `>; rel="next"`))
			require.NoError(t, err)
			return u.RequestURI()
		}
	}
	return ""
}

func do(t *testing.T, s *Server, method, pathQuery, auth string) answer {
	t.Helper()
	req, err := http.NewRequest(method, s.URL()+pathQuery, nil)
	require.NoError(t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := s.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return answer{status: resp.StatusCode, header: resp.Header, body: body}
}

func get(t *testing.T, s *Server, pathQuery string) answer {
	t.Helper()
	return do(t, s, http.MethodGet, pathQuery, "SSWS "+s.Token())
}

func TestTokenAuth(t *testing.T) {
	s := newTestServer(t, WithToken("tok-1"))
	for _, auth := range []string{"", "SSWS", "SSWS tok-2", "Bearer tok-1", "ssws tok-1", "SSWS  tok-1"} {
		a := do(t, s, http.MethodGet, "/api/v1/users/me", auth)
		assert.Equal(t, http.StatusUnauthorized, a.status, "%q", auth)
		assert.Equal(t, "E0000011", a.errorCode(t))
	}
	assert.Equal(t, http.StatusOK, do(t, s, http.MethodGet, "/api/v1/users/me", "SSWS tok-1").status)

	s.RevokeToken()
	assert.Equal(t, http.StatusUnauthorized, do(t, s, http.MethodGet, "/api/v1/users/me", "SSWS tok-1").status)
	assert.Equal(t, http.StatusUnauthorized, do(t, s, http.MethodGet, "/api/v1/users/me", "SSWS ").status, "a revoked token matches nothing")
	s.SetToken("tok-3")
	assert.Equal(t, http.StatusOK, do(t, s, http.MethodGet, "/api/v1/users/me", "SSWS tok-3").status)
	assert.Equal(t, "tok-3", s.Token())
}

func TestForbidden(t *testing.T) {
	s := newTestServer(t)
	s.SetForbidden(logsPath)
	a := get(t, s, logsPath)
	assert.Equal(t, http.StatusForbidden, a.status)
	assert.Equal(t, "E0000006", a.errorCode(t))
	assert.Equal(t, http.StatusOK, get(t, s, "/api/v1/users/me").status)
	s.SetForbidden()
	assert.Equal(t, http.StatusOK, get(t, s, logsPath).status)
}

func TestUserLookup(t *testing.T) {
	s := newTestServer(t)
	kate := s.AddUser(User{Login: "kate@corp.com", Email: "kate.b@corp.com", FirstName: "Kate", LastName: "Bell", Status: StatusSuspended})
	s.AddUser(User{ID: "00ujo1", Login: "jo@corp.com"})
	s.AddUser(User{ID: "00ujo2", Login: "jo@other.example"})
	s.AddUser(User{ID: "00uslash", Login: "a/b@corp.com"})

	user := func(path string) (int, map[string]any) {
		a := get(t, s, path)
		var u map[string]any
		if a.status == http.StatusOK {
			require.NoError(t, json.Unmarshal(a.body, &u))
		} else {
			assert.Equal(t, "E0000007", a.errorCode(t), path)
		}
		return a.status, u
	}
	for _, key := range []string{kate.ID, "kate@corp.com", "KATE@Corp.Com", "kate", "Kate"} {
		status, u := user("/api/v1/users/" + url.PathEscape(key))
		require.Equal(t, http.StatusOK, status, key)
		assert.Equal(t, kate.ID, u["id"])
	}
	_, u := user("/api/v1/users/" + kate.ID)
	assert.Equal(t, StatusSuspended, u["status"])
	assert.Equal(t, map[string]any{
		"login": "kate@corp.com", "email": "kate.b@corp.com", "firstName": "Kate", "lastName": "Bell",
		"mobilePhone": nil, "secondEmail": nil,
	}, u["profile"], "no displayName when it is not set")

	for _, key := range []string{"\u212Aate@corp.com", "jo", "nobody", "a%2Fb@corp.com"} {
		status, _ := user("/api/v1/users/" + strings.ReplaceAll(url.PathEscape(key), "%252F", "%2F"))
		assert.Equal(t, http.StatusNotFound, status, "%q: look-alike, ambiguous shortname, unknown, or a login with /", key)
	}
	s.SetUnicodeLoginFolding(true)
	status, _ := user("/api/v1/users/" + url.PathEscape("\u212Aate@corp.com"))
	assert.Equal(t, http.StatusOK, status, "the knob models an org that folds too much")

	_, me := user("/api/v1/users/me")
	assert.Equal(t, AdminID, me["id"])
	require.NoError(t, s.SetTokenOwner(kate.ID))
	_, me = user("/api/v1/users/me")
	assert.Equal(t, kate.ID, me["id"])
	require.Error(t, s.SetTokenOwner("00unobody"))

	assert.Equal(t, http.StatusMethodNotAllowed, do(t, s, http.MethodPost, "/api/v1/users/"+kate.ID, "SSWS "+s.Token()).status)
	assert.Equal(t, http.StatusNotFound, get(t, s, "/api/v1/users/"+kate.ID+"/groups").status)
	assert.Equal(t, http.StatusNotFound, get(t, s, "/api/v1/apps").status)
}

func TestSetStatus(t *testing.T) {
	c := newClock()
	s := newTestServer(t, WithClock(c.Now), WithUsers(User{ID: "00u1", Login: "a@corp.com"}))
	u, ok := s.User("00u1")
	require.True(t, ok)
	assert.Equal(t, StatusActive, u.Status, "the default")

	c.Advance(time.Hour)
	require.NoError(t, s.SetStatus("00u1", StatusDeprovisioned))
	var body map[string]any
	require.NoError(t, json.Unmarshal(get(t, s, "/api/v1/users/00u1").body, &body))
	assert.Equal(t, StatusDeprovisioned, body["status"])
	assert.Equal(t, "2024-05-06T13:00:00.000Z", body["statusChanged"])

	require.ErrorContains(t, s.SetStatus("00u1", "GONE"), "unknown user status")
	require.ErrorContains(t, s.SetStatus("00unobody", StatusActive), "no user")
	_, ok = s.User("00unobody")
	assert.False(t, ok)
}

func TestRevokeSessions(t *testing.T) {
	c := newClock()
	s := newTestServer(t, WithClock(c.Now), WithUsers(User{ID: "00u1", Login: "a@corp.com"}))
	auth := "SSWS " + s.Token()
	a := do(t, s, http.MethodDelete, "/api/v1/users/00u1/sessions?oauthTokens=true", auth)
	assert.Equal(t, http.StatusNoContent, a.status)
	a = do(t, s, http.MethodDelete, "/api/v1/users/00u1/sessions", auth)
	assert.Equal(t, http.StatusNoContent, a.status)
	assert.Equal(t, []Revocation{{UserID: "00u1", OAuthTokens: true, At: c.Now()}, {UserID: "00u1", At: c.Now()}}, s.Revocations())

	assert.Equal(t, http.StatusNotFound, do(t, s, http.MethodDelete, "/api/v1/users/a@corp.com/sessions", auth).status, "an ID only")
	assert.Equal(t, http.StatusBadRequest, do(t, s, http.MethodDelete, "/api/v1/users/00u1/sessions?oauthTokens=yes", auth).status)
	assert.Equal(t, http.StatusMethodNotAllowed, do(t, s, http.MethodGet, "/api/v1/users/00u1/sessions", auth).status)
	assert.Len(t, s.Revocations(), 2)
}

func TestPollingQuery(t *testing.T) {
	c := newClock()
	s := newTestServer(t, WithClock(c.Now))
	now := c.Now()
	s.Log(Event{UUID: "a", Type: "user.lifecycle.suspend"})
	c.Advance(time.Second)
	s.Log(Event{UUID: "b", Type: "user.lifecycle.suspend", Published: now.Add(-time.Hour)}) // late
	c.Advance(time.Second)
	s.Log(Event{UUID: "c", Type: "user.session.start"})

	first := get(t, s, logsPath+"?since="+url.QueryEscape(now.Add(-time.Minute).Format(time.RFC3339))+"&limit=2")
	assert.Equal(t, []string{"a", "b"}, first.uuids(t), "persistence order, and since bounds persistence time")
	next := first.next(t)
	require.NotEmpty(t, next)
	q, err := url.ParseQuery(strings.SplitN(next, "?", 2)[1])
	require.NoError(t, err)
	assert.False(t, q.Has("since"), "the link carries the cursor instead")
	assert.Equal(t, "ASCENDING", q.Get("sortOrder"))

	second := get(t, s, next)
	assert.Equal(t, []string{"c"}, second.uuids(t))
	empty := get(t, s, second.next(t))
	assert.Empty(t, empty.uuids(t))
	require.NotEmpty(t, empty.next(t), "a polling query always has a next link, even on an empty page")

	s.Log(Event{UUID: "d", Type: "user.lifecycle.deactivate", Published: now.Add(-48 * time.Hour)})
	assert.Equal(t, []string{"d"}, get(t, s, empty.next(t)).uuids(t), "a late event lands in front of the cursor")
	assert.Equal(t, []string{"a", "b", "c", "d"}, get(t, s, logsPath).uuids(t), "since defaults to 7 days back")
}

func TestPollingSinceOnPublished(t *testing.T) {
	c := newClock()
	s := newTestServer(t, WithClock(c.Now), WithSinceOnPublished())
	s.Log(Event{UUID: "late", Type: "x", Published: c.Now().Add(-20 * time.Minute)}, Event{UUID: "now", Type: "x"})
	a := get(t, s, logsPath+"?since="+url.QueryEscape(c.Now().Add(-10*time.Minute).Format(time.RFC3339)))
	assert.Equal(t, []string{"now"}, a.uuids(t), "behind a since re-query")
}

func TestFilter(t *testing.T) {
	s := newTestServer(t)
	s.Log(Event{UUID: "1", Type: "a.b"}, Event{UUID: "2", Type: "c.d"}, Event{UUID: "3", Type: "e.f"})
	f := url.QueryEscape(`eventType eq "a.b" or eventType EQ "e.f"`)
	a := get(t, s, logsPath+"?filter="+f)
	assert.Equal(t, []string{"1", "3"}, a.uuids(t))
	assert.Contains(t, a.next(t), "filter=", "the next link keeps the filter")

	for _, bad := range []string{`eventType eq "a.b" and eventType eq "c.d"`, `eventType eq a.b`, `target.id eq "x"`,
		`eventType eq "a.b" or`, `eventType eq "a\"b"`, `eventType eq "unterminated`} {
		a := get(t, s, logsPath+"?filter="+url.QueryEscape(bad))
		assert.Equal(t, http.StatusBadRequest, a.status, bad)
		assert.Equal(t, "E0000053", a.errorCode(t), bad)
	}
}

func TestLogsParameterErrors(t *testing.T) {
	c := newClock()
	s := newTestServer(t, WithClock(c.Now), WithRetention(30*24*time.Hour))
	link := get(t, s, logsPath).next(t)
	after, err := url.QueryUnescape(strings.SplitN(link, "after=", 2)[1])
	require.NoError(t, err)
	since := url.QueryEscape(c.Now().Add(-time.Hour).Format(time.RFC3339))
	old := url.QueryEscape(c.Now().Add(-31 * 24 * time.Hour).Format(time.RFC3339))
	tests := map[string]string{
		"since and after":              "?since=" + since + "&after=" + after,
		"since past retention":         "?since=" + old,
		"bounded since past retention": "?since=" + old + "&until=" + since,
		"bad since":                    "?since=yesterday",
		"bad until":                    "?until=tomorrow",
		"limit too big":                "?limit=1001",
		"limit negative":               "?limit=-1",
		"limit not a number":           "?limit=ten",
		"bad sortOrder":                "?sortOrder=RANDOM",
		"keyword search":               "?q=suspend",
		"crafted after":                "?after=1714989000000_1",
		"bounded cursor for polling":   "?after=" + cursorFor(cursor{bounded: true}),
	}
	for name, q := range tests {
		a := get(t, s, logsPath+q)
		assert.Equal(t, http.StatusBadRequest, a.status, name)
		assert.Equal(t, "E0000053", a.errorCode(t), name)
	}
	a := get(t, s, logsPath+"?since="+old)
	assert.Contains(t, string(a.body), "The since parameter is over 30 days prior to the current day.")

	assert.Equal(t, http.StatusOK, get(t, s, link).status)
	s.ExpireCursors()
	assert.Equal(t, http.StatusBadRequest, get(t, s, link).status, "expired")

	fresh := get(t, s, logsPath).next(t)
	c.Advance(31 * 24 * time.Hour)
	assert.Equal(t, http.StatusBadRequest, get(t, s, fresh).status, "a cursor older than the retention window")
}

func cursorFor(c cursor) string { return c.encode() }

func TestRetentionHidesOldEvents(t *testing.T) {
	c := newClock()
	s := newTestServer(t, WithClock(c.Now), WithRetention(10*24*time.Hour))
	s.Log(Event{UUID: "old", Type: "x", Published: c.Now().Add(-11 * 24 * time.Hour)}, Event{UUID: "new", Type: "x"})
	assert.Equal(t, []string{"new"}, get(t, s, logsPath).uuids(t))
}

func TestBoundedQuery(t *testing.T) {
	c := newClock()
	s := newTestServer(t, WithClock(c.Now))
	base := c.Now()
	// Persisted in one order, published in another.
	s.Log(Event{UUID: "3", Type: "x", Published: base.Add(-1 * time.Minute)},
		Event{UUID: "1", Type: "x", Published: base.Add(-3 * time.Minute)},
		Event{UUID: "2", Type: "x", Published: base.Add(-2 * time.Minute)},
		Event{UUID: "out", Type: "x", Published: base.Add(-10 * time.Minute)})
	q := "?since=" + url.QueryEscape(base.Add(-5*time.Minute).Format(time.RFC3339)) + "&until=" + url.QueryEscape(base.Format(time.RFC3339)) + "&limit=2"
	first := get(t, s, logsPath+q)
	assert.Equal(t, []string{"1", "2"}, first.uuids(t), "published order")
	last := get(t, s, first.next(t))
	assert.Equal(t, []string{"3"}, last.uuids(t))
	assert.Empty(t, last.next(t), "a bounded query ends")

	desc := get(t, s, logsPath+q+"&sortOrder=DESCENDING")
	assert.Equal(t, []string{"3", "2"}, desc.uuids(t))
	assert.Equal(t, []string{"1"}, get(t, s, desc.next(t)).uuids(t))
}

func TestRateLimitNext(t *testing.T) {
	c := newClock()
	s := newTestServer(t, WithClock(c.Now))
	s.RateLimitNext(logsPath, 2, 30*time.Second)
	assert.Equal(t, http.StatusOK, get(t, s, "/api/v1/users/me").status, "another path is not limited")
	for range 2 {
		a := get(t, s, logsPath)
		require.Equal(t, http.StatusTooManyRequests, a.status)
		assert.Equal(t, "E0000047", a.errorCode(t))
		assert.Equal(t, "0", a.header.Get("X-Rate-Limit-Remaining"))
		date, err := http.ParseTime(a.header.Get("Date"))
		require.NoError(t, err)
		assert.Equal(t, c.Now(), date, "Date is the org's clock")
		assert.Equal(t, strconv.FormatInt(c.Now().Add(30*time.Second).Unix(), 10), a.header.Get("X-Rate-Limit-Reset"))
	}
	assert.Equal(t, http.StatusOK, get(t, s, logsPath).status)
}

func TestFailNextAndReplyNext(t *testing.T) {
	s := newTestServer(t)
	s.FailNext("/api/v1/logs?after=", 1, http.StatusServiceUnavailable)
	assert.Equal(t, http.StatusOK, get(t, s, logsPath).status, "the prefix picks cursor requests only")
	a := get(t, s, logsPath+"?after=x")
	assert.Equal(t, http.StatusServiceUnavailable, a.status)
	assert.Equal(t, "E0000009", a.errorCode(t))

	s.ReplyNext("", Reply{Status: 200, Header: http.Header{"x-custom": {"1"}}, Body: "not json"})
	a = get(t, s, "/api/v1/users/me")
	assert.Equal(t, "not json", string(a.body))
	assert.Equal(t, "1", a.header.Get("X-Custom"))
	assert.Empty(t, a.header.Get("Date"), "a canned reply carries only what it says")
	assert.Empty(t, a.header.Get("X-Rate-Limit-Reset"))
	assert.Equal(t, http.StatusOK, get(t, s, "/api/v1/users/me").status)
}

func TestRequestsAreRecorded(t *testing.T) {
	c := newClock()
	s := newTestServer(t, WithClock(c.Now))
	get(t, s, logsPath+"?limit=5")
	do(t, s, http.MethodGet, "/api/v1/users/what%3F", "")
	reqs := s.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, Request{Method: "GET", Path: logsPath, Query: url.Values{"limit": {"5"}}, Status: 200, At: c.Now()}, reqs[0])
	assert.Equal(t, "/api/v1/users/what%3F", reqs[1].Path)
	assert.Equal(t, http.StatusUnauthorized, reqs[1].Status)
	assert.Len(t, s.RequestsTo("/api/v1/users"), 1)
}

func TestLogJSON(t *testing.T) {
	s := newTestServer(t, WithClock(newClock().Now))
	require.NoError(t, s.LogJSON([]byte(`{"uuid":"u1","eventType":"x","published":"2024-05-06T11:00:00Z","target":[]}`)))
	require.NoError(t, s.LogJSON([]byte(` [ {"uuid":"u2","eventType":"x","published":"2024-05-06T11:00:00.5Z"} ] `)))
	for _, bad := range []string{
		`{"uuid":"u1","eventType":"x","published":"2024-05-06T11:00:00Z"}`, // logged before
		`[{"uuid":"u3","eventType":"x","published":"2024-05-06T11:00:00Z"},{"uuid":"u3","eventType":"x","published":"2024-05-06T11:00:00Z"}]`,
		`{"uuid":"u4","eventType":"x"}`,
		`{"eventType":"x","published":"2024-05-06T11:00:00Z"}`,
		`{"uuid":"u5","published":"2024-05-06T11:00:00Z"}`,
		`{"uuid":`,
		`[1]`,
	} {
		require.Error(t, s.LogJSON([]byte(bad)), bad)
	}
	assert.Equal(t, []string{"u1", "u2"}, get(t, s, logsPath+"?since=2024-05-06T00:00:00Z").uuids(t), "nothing from a failed call")
}

func TestLoggedEventShape(t *testing.T) {
	s := newTestServer(t)
	s.Log(Event{UUID: "u1", Type: "user.lifecycle.suspend", Message: "Suspend Okta user", ClientIP: "192.0.2.1",
		Target: User{ID: "00ut", Login: "t@corp.com", FirstName: "Tess", LastName: "Ng"}})
	s.Log(Event{Type: "system.org.rate_limit.warning"})
	var evs []map[string]any
	require.NoError(t, json.Unmarshal(get(t, s, logsPath).body, &evs))
	require.Len(t, evs, 2)
	assert.Equal(t, []any{map[string]any{"id": "00ut", "type": "User", "alternateId": "t@corp.com", "displayName": "Tess Ng", "detailEntry": nil}}, evs[0]["target"])
	assert.Equal(t, AdminID, evs[0]["actor"].(map[string]any)["id"], "the token owner acted by default")
	assert.Equal(t, "192.0.2.1", evs[0]["client"].(map[string]any)["ipAddress"])
	assert.Empty(t, evs[1]["target"])
	assert.Len(t, evs[1]["uuid"], 36, "a generated UUID")
}

func TestDecodeCursorRejectsGarbage(t *testing.T) {
	for _, s := range []string{"", "!!", cursorFor(cursor{pos: -1}), "MTox", "MTpwOjE6MjozOnRydWU6eA"} {
		_, ok := decodeCursor(s)
		assert.False(t, ok, "%q", s)
	}
	c := cursor{epoch: 2, bounded: true, pos: 7, at: time.Unix(0, 42), until: time.Unix(0, 99), desc: true}
	got, ok := decodeCursor(c.encode())
	require.True(t, ok)
	assert.Equal(t, c, got)
}
