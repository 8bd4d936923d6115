package okta

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	oktasdk "github.com/okta/okta-sdk-golang/v2/okta"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/okta/oktatest"
)

const wantFilter = `eventType eq "user.lifecycle.suspend" or eventType eq "user.lifecycle.deactivate" or ` +
	`eventType eq "user.account.report_suspicious_activity_by_enduser"`

// catchupEvents loads the System Log fixture: a suspend, a deactivate
// (AppInstance target first, login not an email), a suspend with no User
// target, a session start (type not configured) and a suspicious-activity
// report.
func catchupEvents(t *testing.T) []json.RawMessage {
	var evs []json.RawMessage
	require.NoError(t, json.Unmarshal(fixture(t, "logevents_catchup.json"), &evs))
	require.Len(t, evs, 5)
	return evs
}

// wantRecovered is what the catch-up admits from that fixture.
func wantRecovered() []Event {
	return []Event{
		{
			UUID: "c3000000-0000-11ee-8000-000000000001", Type: EventSuspend, Published: ts("2024-05-06T09:10:00Z"),
			Message: "Suspend Okta user", UserID: "00utarget000000011", Login: "frank@acme.example", Email: "frank@acme.example",
			Name: "Frank Moss", Actor: adminActor, ClientIP: "198.51.100.7", Source: SourceCatchup,
		},
		{
			UUID: "c3000000-0000-11ee-8000-000000000002", Type: EventDeactivate, Published: ts("2024-05-06T09:12:00Z"),
			Message: "Deactivate Okta User", UserID: "00utarget000000012", Login: "gina", Name: "Gina Park",
			Actor: adminActor, ClientIP: "198.51.100.7", Source: SourceCatchup,
		},
		{
			UUID: "c3000000-0000-11ee-8000-000000000005", Type: EventSuspicious, Published: ts("2024-05-06T09:15:00Z"),
			Message: "User report suspicious activity", UserID: "00utarget000000014", Login: "ivy@acme.example",
			Email: "ivy@acme.example", Name: "Ivy Chen",
			Actor:    Actor{ID: "00utarget000000014", Type: "User", AlternateID: "ivy@acme.example", DisplayName: "Ivy Chen"},
			ClientIP: "203.0.113.20", Source: SourceCatchup,
		},
	}
}

// fakeClock is a settable clock shared by the fake org and the catch-up.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: ts("2024-05-06T12:00:00Z")} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type catchupEnv struct {
	org      *oktatest.Server
	dir      *Directory
	admitter *testAdmitter
	clock    *fakeClock   // the org's clock, and the catch-up's unless a test says otherwise
	cursors  *testCursors // shared by every catch-up of the env, as the store is across restarts
	logs     bytes.Buffer
	counted  []int
	reports  []PollReport
}

func newCatchupEnv(t *testing.T, opts ...oktatest.Option) *catchupEnv {
	clock := newFakeClock()
	org := newOrg(t, append([]oktatest.Option{oktatest.WithClock(clock.Now)}, opts...)...)
	return &catchupEnv{
		org: org, dir: newTestDirectory(t, org), admitter: newTestAdmitter(),
		clock: clock, cursors: newTestCursors(),
	}
}

func (e *catchupEnv) catchup(t *testing.T, mod ...func(*CatchupConfig)) *Catchup {
	t.Helper()
	cfg := CatchupConfig{
		Directory: e.dir, Admitter: e.admitter, Types: DefaultAutoLockTypes(), Cursors: e.cursors,
		Interval: 5 * time.Minute, Now: e.clock.Now, Logger: newTextLogger(&e.logs),
		OnRecovered: func(n int) { e.counted = append(e.counted, n) },
		OnPoll:      func(r PollReport) { e.reports = append(e.reports, r) },
	}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := NewCatchup(cfg)
	require.NoError(t, err)
	return c
}

// log persists System Log events in the fake org now.
func (e *catchupEnv) log(t *testing.T, evs ...json.RawMessage) {
	t.Helper()
	body, err := json.Marshal(evs)
	require.NoError(t, err)
	require.NoError(t, e.org.LogJSON(body))
}

func (e *catchupEnv) savedCursor(t *testing.T) Cursor {
	t.Helper()
	return e.cursors.get(t)
}

func sinceParam(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// nextQuery is the query of a saved cursor.
func nextQuery(t *testing.T, next string) url.Values {
	t.Helper()
	u, err := url.Parse(next)
	require.NoError(t, err)
	require.Equal(t, logsPath, u.Path)
	return u.Query()
}

func TestCatchupPollFollowsNextLinks(t *testing.T) {
	e := newCatchupEnv(t)
	e.log(t, catchupEvents(t)...)
	c := e.catchup(t)
	c.pageLimit = 2
	start := e.clock.Now()

	n, err := c.Poll(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	assert.Equal(t, []int{3}, e.counted)
	assert.Equal(t, wantRecovered(), takeN(t, e.admitter, 3))

	reqs := logQueries(e.org)
	require.Len(t, reqs, 3, "two full pages, then the empty page that ends a polling query")
	assert.Equal(t, url.Values{
		"since": {sinceParam(start.Add(-time.Hour))}, "filter": {wantFilter},
		"sortOrder": {"ASCENDING"}, "limit": {"2"},
	}, reqs[0], "a polling query: since, no until, ASCENDING")
	for i, q := range reqs[1:] {
		assert.NotEmpty(t, q.Get("after"), "page %d follows the next link", i+2)
		assert.False(t, q.Has("since"), "since is never sent next to after")
		assert.Equal(t, wantFilter, q.Get("filter"))
		assert.Equal(t, "2", q.Get("limit"))
	}
	cur := e.savedCursor(t)
	assert.Equal(t, reqs[2], nextQuery(t, cur.Next), "the last next link is the cursor")
	assert.Equal(t, ts("2024-05-06T09:15:00Z"), cur.Newest)
	require.Len(t, e.reports, 1)
	assert.Equal(t, PollReport{Recovered: 3, LastSuccess: start}, e.reports[0])
}

func TestCatchupResumesFromCursorAfterRestart(t *testing.T) {
	e := newCatchupEnv(t)
	_, err := e.catchup(t).Poll(context.Background())
	require.NoError(t, err)
	saved := e.savedCursor(t)
	require.NotEmpty(t, saved.Next)

	e.clock.Advance(3 * time.Hour) // down for a while; Okta logged events meanwhile
	e.log(t, catchupEvents(t)...)
	n, err := e.catchup(t).Poll(context.Background()) // a new process, same store
	require.NoError(t, err)
	assert.Equal(t, 3, n)

	reqs := logQueries(e.org)
	require.Len(t, reqs, 3)
	assert.Equal(t, nextQuery(t, saved.Next), reqs[1], "the restart resumes from the saved cursor")
	assert.False(t, reqs[2].Has("since"))
}

// TestCatchupRecoversLateEvents: an event persisted 16 minutes after it was
// published lands in front of the cursor. Re-querying by since from our
// own clock misses it wherever since bounds the published time.
func TestCatchupRecoversLateEvents(t *testing.T) {
	for name, opts := range map[string][]oktatest.Option{
		"since bounds persistence (documented)": nil,
		"since bounds published":                {oktatest.WithSinceOnPublished()},
	} {
		t.Run(name, func(t *testing.T) {
			e := newCatchupEnv(t, opts...)
			c := e.catchup(t)
			_, err := c.Poll(context.Background())
			require.NoError(t, err)

			e.clock.Advance(3 * time.Minute)
			e.org.Log(oktatest.Event{
				UUID: "late-1", Type: EventSuspend, Published: e.clock.Now().Add(-16 * time.Minute),
				Target: oktatest.User{ID: "00ulate", Login: "late@acme.example"},
			})
			e.clock.Advance(2 * time.Minute)
			n, err := c.Poll(context.Background())
			require.NoError(t, err)
			assert.Equal(t, 1, n, "the late event is recovered")
			assert.Equal(t, "late-1", takeN(t, e.admitter, 1)[0].UUID)
			assert.NotEmpty(t, logQueries(e.org)[1].Get("after"))
		})
	}
}

// TestCatchupHostClockSkew: the host clock being off does not matter once
// the cursor is followed.
func TestCatchupHostClockSkew(t *testing.T) {
	for name, skew := range map[string]time.Duration{"12 minutes fast": 12 * time.Minute, "20 minutes slow": -20 * time.Minute} {
		t.Run(name, func(t *testing.T) {
			e := newCatchupEnv(t)
			c := e.catchup(t, func(cfg *CatchupConfig) { cfg.Now = func() time.Time { return e.clock.Now().Add(skew) } })
			_, err := c.Poll(context.Background())
			require.NoError(t, err)
			for i := range 3 {
				e.clock.Advance(time.Minute)
				e.org.Log(oktatest.Event{UUID: "ev-" + string(rune('a'+i)), Type: EventDeactivate,
					Target: oktatest.User{ID: "00uskew", Login: "skew@acme.example"}})
				e.clock.Advance(4 * time.Minute)
				n, err := c.Poll(context.Background())
				require.NoError(t, err)
				assert.Equal(t, 1, n, "poll %d", i+2)
			}
		})
	}
}

func TestCatchupRefusedCursorRestartsBeforeNewest(t *testing.T) {
	e := newCatchupEnv(t)
	all := catchupEvents(t)
	e.log(t, all[:2]...)
	c := e.catchup(t)
	n, err := c.Poll(context.Background())
	require.NoError(t, err)
	require.Equal(t, 2, n)
	before := e.savedCursor(t)
	require.Equal(t, ts("2024-05-06T09:12:00Z"), before.Newest)

	e.org.ExpireCursors() // Okta no longer honours the saved cursor
	e.clock.Advance(5 * time.Minute)
	e.log(t, all[2:]...)
	n, err = c.Poll(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the new event; the re-read ones are duplicates")

	reqs := logQueries(e.org)
	require.Len(t, reqs, 5)
	assert.Equal(t, nextQuery(t, before.Next), reqs[2], "the saved cursor was tried first")
	assert.Equal(t, sinceParam(ts("2024-05-06T09:02:00Z")), reqs[3].Get("since"), "then a new polling query Overlap before the newest event")
	assert.NotEqual(t, before.Next, e.savedCursor(t).Next, "the refused cursor is replaced")
	assert.Contains(t, e.logs.String(), "refused the saved System Log cursor")
	assert.NoError(t, e.reports[len(e.reports)-1].Err)
}

func TestCatchupUnusableSavedCursor(t *testing.T) {
	for _, next := range []string{"https://evil.example/api/v1/logs?after=1", "/api/v1/users?after=1", "/api/v1/logs?since=x&after=1", "%zz"} {
		t.Run(next, func(t *testing.T) {
			e := newCatchupEnv(t)
			e.cursors.seed(t, Cursor{Next: next, Newest: ts("2024-05-06T11:00:00Z")})
			_, err := e.catchup(t).Poll(context.Background())
			require.NoError(t, err)
			reqs := e.org.Requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, sinceParam(ts("2024-05-06T10:50:00Z")), reqs[0].Query.Get("since"))
			assert.Contains(t, e.logs.String(), "cursor is unusable")
		})
	}
}

func TestCatchupTypesChangedRestartsQuery(t *testing.T) {
	e := newCatchupEnv(t)
	_, err := e.catchup(t, func(cfg *CatchupConfig) { cfg.Types = []string{EventSuspend} }).Poll(context.Background())
	require.NoError(t, err)
	e.clock.Advance(time.Hour)
	_, err = e.catchup(t).Poll(context.Background()) // restarted with more types
	require.NoError(t, err)
	reqs := logQueries(e.org)
	require.Len(t, reqs, 2)
	assert.Equal(t, wantFilter, reqs[1].Get("filter"))
	assert.False(t, reqs[1].Has("after"), "the old cursor would keep the old filter")
	assert.Equal(t, sinceParam(e.clock.Now().Add(-time.Hour)), reqs[1].Get("since"))
	assert.Contains(t, e.logs.String(), "event types changed")
}

// TestCatchupStartsBeforeNewestWithoutNext: a saved Cursor with only
// Newest, as lockbot's import of an older build's checkpoint saves, starts a
// polling query Overlap before it.
func TestCatchupStartsBeforeNewestWithoutNext(t *testing.T) {
	e := newCatchupEnv(t)
	e.cursors.seed(t, Cursor{Newest: ts("2024-05-06T11:30:00Z")})
	_, err := e.catchup(t).Poll(context.Background())
	require.NoError(t, err)
	reqs := logQueries(e.org)
	assert.Equal(t, sinceParam(ts("2024-05-06T11:20:00Z")), reqs[0].Get("since"), "Newest minus the overlap, as before")
	cur := e.savedCursor(t)
	assert.NotEmpty(t, cur.Next, "from now on it follows the cursor")
	assert.Equal(t, ts("2024-05-06T11:30:00Z"), cur.Newest)
}

func TestCatchupStartIsCappedAtRetention(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		name         string
		orgRetention time.Duration
		saved        Cursor
		mod          func(*CatchupConfig)
		wantSince    time.Duration // before now
		wantErr      bool
	}{
		{name: "old newest", saved: Cursor{Newest: ts("2023-10-01T00:00:00Z")}, wantSince: 90*day - time.Hour},
		{name: "long lookback", mod: func(c *CatchupConfig) { c.Lookback = 200 * day }, wantSince: 90*day - time.Hour},
		{
			name: "shorter org retention, configured", orgRetention: 30 * day,
			mod: func(c *CatchupConfig) { c.Lookback = 40 * day; c.Retention = 30 * day }, wantSince: 30*day - time.Hour,
		},
		{
			// Moving the start by Okta's clock cannot help here, so
			// the poll fails (and is reported) instead of retrying.
			name: "shorter org retention, not configured", orgRetention: 30 * day,
			mod: func(c *CatchupConfig) { c.Lookback = 40 * day }, wantSince: 40 * day, wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []oktatest.Option
			if tt.orgRetention > 0 {
				opts = append(opts, oktatest.WithRetention(tt.orgRetention))
			}
			e := newCatchupEnv(t, opts...)
			e.cursors.seed(t, tt.saved)
			mod := func(*CatchupConfig) {}
			if tt.mod != nil {
				mod = tt.mod
			}
			_, err := e.catchup(t, mod).Poll(context.Background())
			reqs := logQueries(e.org)
			assert.Equal(t, sinceParam(e.clock.Now().Add(-tt.wantSince)), reqs[0].Get("since"))
			if tt.wantErr {
				require.ErrorIs(t, err, ErrUnavailable)
				assert.Contains(t, err.Error(), "E0000053")
				assert.Len(t, reqs, 1, "no pointless retry")
				return
			}
			require.NoError(t, err)
		})
	}
}

// TestCatchupRetentionRefusalMovesStartByOktasClock: our clock is two hours
// slow, so the capped start is still past Okta's window; Okta's 400 E0000053
// moves it inside by the Date Okta sent, once.
func TestCatchupRetentionRefusalMovesStartByOktasClock(t *testing.T) {
	e := newCatchupEnv(t)
	e.cursors.seed(t, Cursor{Newest: ts("2023-10-01T00:00:00Z")})
	e.log(t, catchupEvents(t)...)
	c := e.catchup(t, func(cfg *CatchupConfig) { cfg.Now = func() time.Time { return e.clock.Now().Add(-2 * time.Hour) } })
	n, err := c.Poll(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	reqs := e.org.RequestsTo(logsPath)
	require.Len(t, reqs, 3)
	assert.Equal(t, http.StatusBadRequest, reqs[0].Status)
	assert.Equal(t, sinceParam(e.clock.Now().Add(-90*24*time.Hour-time.Hour)), reqs[0].Query.Get("since"))
	assert.Equal(t, sinceParam(e.clock.Now().Add(-90*24*time.Hour+time.Hour)), reqs[1].Query.Get("since"))
	assert.Contains(t, e.logs.String(), "past the System Log's retention")
}

func TestCatchupErrorsKeepCursor(t *testing.T) {
	tests := []struct {
		name          string
		fault         func(*oktatest.Server)
		wantErr       error
		wantMsg       string
		wantRecovered int
		wantWait      time.Duration
		wantRestart   bool // the cursor is dropped for a new polling query
	}{
		{
			name: "500 on the first page", fault: func(o *oktatest.Server) { o.FailNext(logsPath, 1, 500) },
			wantErr: ErrUnavailable, wantMsg: "HTTP 500",
		},
		{
			// Only a 400 is a refused cursor; a 500 is retried next poll.
			name: "500 when resuming the cursor", fault: func(o *oktatest.Server) { o.FailNext("/api/v1/logs?after=", 1, 500) },
			wantErr: ErrUnavailable, wantMsg: "HTTP 500",
		},
		{
			name: "429 with reset", fault: func(o *oktatest.Server) { o.RateLimitNext(logsPath, 1, 59*time.Second) },
			wantErr: ErrUnavailable, wantMsg: "HTTP 429", wantWait: 60 * time.Second,
		},
		{
			name: "403", fault: func(o *oktatest.Server) { o.SetForbidden(logsPath) },
			wantErr: ErrUnauthorized, wantMsg: "okta.logs.read",
		},
		{
			name: "expired token", fault: func(o *oktatest.Server) { o.RevokeToken() },
			wantErr: ErrUnauthorized, wantMsg: "HTTP 401",
		},
		{
			name: "unparsable page",
			fault: func(o *oktatest.Server) {
				o.ReplyNext(logsPath, oktatest.Reply{Status: 200, Body: `[{"published":"not a time"}]`})
			},
			wantErr: ErrUnavailable,
		},
		{
			name: "next link to another endpoint",
			fault: func(o *oktatest.Server) {
				o.ReplyNext(logsPath, oktatest.Reply{Status: 200, Body: `[{"uuid":"x","eventType":"user.session.start"}]`,
					Header: http.Header{"Link": {`<https://evil.example/api/v1/users?after=1>; rel="next"`}}})
			},
			wantErr: ErrUnavailable, wantMsg: "unusable next link", wantRestart: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newCatchupEnv(t)
			e.log(t, catchupEvents(t)...)
			c := e.catchup(t)
			// A successful poll first, so there is a cursor to keep.
			_, err := c.Poll(context.Background())
			require.NoError(t, err)
			before := e.savedCursor(t)
			takeN(t, e.admitter, 3)

			e.clock.Advance(5 * time.Minute)
			tt.fault(e.org)
			n, err := c.Poll(context.Background())
			require.ErrorIs(t, err, tt.wantErr)
			assert.Contains(t, err.Error(), tt.wantMsg)
			assert.NotContains(t, err.Error(), testToken)
			assert.Equal(t, tt.wantRecovered, n)
			if tt.wantRestart {
				assert.Equal(t, Cursor{Newest: before.Newest}, e.savedCursor(t), "the next poll starts a new polling query")
			} else {
				assert.Equal(t, before, e.savedCursor(t), "cursor kept on error")
			}
			assert.Equal(t, e.savedCursor(t), c.cur, "memory never claims more than the store")
			ae := asAPIError(err)
			if tt.wantWait > 0 {
				require.NotNil(t, ae)
				assert.Equal(t, tt.wantWait, ae.wait)
			}
			last := e.reports[len(e.reports)-1]
			assert.Equal(t, err, last.Err)
			assert.Equal(t, 1, last.ConsecutiveFailures)
			assert.NotContains(t, e.logs.String(), testToken)
		})
	}
}

func TestCatchupSecondPageFailureKeepsFirstPage(t *testing.T) {
	e := newCatchupEnv(t)
	e.log(t, catchupEvents(t)...)
	c := e.catchup(t)
	c.pageLimit = 2
	e.org.FailNext("/api/v1/logs?after=", 1, 500)
	n, err := c.Poll(context.Background())
	require.ErrorIs(t, err, ErrUnavailable)
	assert.Equal(t, 2, n, "the first page was admitted")
	afterFirst := e.savedCursor(t)
	require.NotEmpty(t, afterFirst.Next, "and its cursor saved")

	n, err = c.Poll(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the next poll continues from the first page's cursor")
	reqs := logQueries(e.org)
	assert.Equal(t, nextQuery(t, afterFirst.Next), reqs[2])
	assert.Equal(t, uuidsOf(wantRecovered()), uuidsOf(takeN(t, e.admitter, 3)))
}

func TestCatchupAdmitFailureSavesNothing(t *testing.T) {
	e := newCatchupEnv(t)
	e.admitter = newTestAdmitter(admitAtMost(1))
	e.log(t, catchupEvents(t)...)
	c := e.catchup(t)
	n, err := c.Poll(context.Background())
	require.ErrorIs(t, err, errTestAdmitterFull)
	assert.Zero(t, n)
	assert.Equal(t, Cursor{}, e.savedCursor(t), "the cursor never passes unadmitted events")
	_, saves := e.cursors.counts()
	assert.Zero(t, saves)
	assert.Empty(t, e.counted)
	require.Len(t, e.reports, 1)
	require.ErrorIs(t, e.reports[0].Err, errTestAdmitterFull)
}

// TestCatchupLoadFailure: a cursor that cannot be loaded fails the poll
// before Okta is asked anything; the next poll loads it again and resumes.
func TestCatchupLoadFailure(t *testing.T) {
	e := newCatchupEnv(t)
	_, err := e.catchup(t).Poll(context.Background())
	require.NoError(t, err)
	saved := e.savedCursor(t)
	require.NotEmpty(t, saved.Next)

	c := e.catchup(t) // a new process
	errDown := errors.New("store is down")
	e.cursors.failLoads(errDown)
	_, err = c.Poll(context.Background())
	require.ErrorIs(t, err, errDown)
	assert.ErrorContains(t, err, "okta: catch-up: load cursor")
	assert.Len(t, logQueries(e.org), 1, "no request without the cursor")
	require.Len(t, e.reports, 2)
	assert.ErrorIs(t, e.reports[1].Err, errDown)
	assert.Equal(t, saved, e.savedCursor(t))

	e.cursors.failLoads(nil)
	e.log(t, catchupEvents(t)...)
	n, err := c.Poll(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	reqs := logQueries(e.org)
	require.Len(t, reqs, 3)
	assert.Equal(t, nextQuery(t, saved.Next), reqs[1], "resumes from the saved cursor")
}

func TestCatchupPageBound(t *testing.T) {
	e := newCatchupEnv(t)
	e.log(t, catchupEvents(t)...)
	c := e.catchup(t)
	c.pageLimit, c.maxPages = 1, 2
	n, err := c.Poll(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Len(t, logQueries(e.org), 2)
	assert.Contains(t, e.logs.String(), "page limit reached")

	n, err = c.Poll(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, n, "continues where the bound stopped it")
	assert.Equal(t, uuidsOf(wantRecovered()), uuidsOf(takeN(t, e.admitter, 3)))
}

// TestCatchupReportsEveryPoll: an expired token fails every poll; the
// caller hears about each, and exactly once that it is failing.
func TestCatchupReportsEveryPoll(t *testing.T) {
	e := newCatchupEnv(t)
	c := e.catchup(t)
	ctx := context.Background()
	_, err := c.Poll(ctx)
	require.NoError(t, err)
	firstOK := e.clock.Now()

	e.org.RevokeToken()
	for range 4 {
		e.clock.Advance(5 * time.Minute)
		_, err := c.Poll(ctx)
		require.ErrorIs(t, err, ErrUnauthorized)
	}
	e.org.SetToken(testToken)
	e.clock.Advance(5 * time.Minute)
	e.org.Log(oktatest.Event{UUID: "back", Type: EventSuspend, Target: oktatest.User{ID: "00uback"}})
	_, err = c.Poll(ctx)
	require.NoError(t, err)
	secondOK := e.clock.Now()
	e.clock.Advance(5 * time.Minute)
	_, err = c.Poll(ctx)
	require.NoError(t, err)

	require.Len(t, e.reports, 7)
	type brief struct {
		failures          int
		failing, restored bool
		lastSuccess       time.Time
		recovered         int
	}
	var got []brief
	for _, r := range e.reports {
		got = append(got, brief{r.ConsecutiveFailures, r.Failing, r.Restored, r.LastSuccess, r.Recovered})
		if r.Err != nil {
			assert.NotContains(t, r.Err.Error(), testToken)
		}
	}
	assert.Equal(t, []brief{
		{0, false, false, firstOK, 0},
		{1, false, false, firstOK, 0},
		{2, false, false, firstOK, 0},
		{3, true, false, firstOK, 0}, // the one alert
		{4, false, false, firstOK, 0},
		{0, false, true, secondOK, 1}, // working again
		{0, false, false, secondOK.Add(5 * time.Minute), 0},
	}, got)
	assert.Equal(t, 1, strings.Count(e.logs.String(), "okta catch-up is failing"))
	assert.NotContains(t, e.logs.String(), testToken)
}

func TestCatchupCancelledPollIsNotReported(t *testing.T) {
	e := newCatchupEnv(t)
	c := e.catchup(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Poll(ctx)
	require.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, e.reports, "shutting down is not a failure")
}

func TestCatchupDedupesWithHook(t *testing.T) {
	e := newCatchupEnv(t)
	e.log(t, catchupEvents(t)...)
	h, err := NewHookHandler(HookConfig{Secret: hookSecret, Types: DefaultAutoLockTypes(), Admitter: e.admitter})
	require.NoError(t, err)

	// The hook delivered the first event before the catch-up ran.
	all := catchupEvents(t)
	body, err := json.Marshal(map[string]any{"eventType": "com.okta.event_hook", "data": map[string]any{"events": all[:1]}})
	require.NoError(t, err)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, post(body, hookSecret))
	require.Equal(t, http.StatusOK, w.Code)

	n, err := e.catchup(t).Poll(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 2, n)

	want := wantRecovered()
	want[0].Source = SourceHook
	assert.Equal(t, want, takeN(t, e.admitter, 3), "the hook's copy is kept, the catch-up's duplicate dropped")

	// The hook's late retry of a recovered event is a duplicate too.
	body, err = json.Marshal(map[string]any{"eventType": "com.okta.event_hook", "data": map[string]any{"events": all[4:]}})
	require.NoError(t, err)
	var got []delivery
	h.onDelivery = func(s, a int) { got = append(got, delivery{s, a}) }
	h.ServeHTTP(httptest.NewRecorder(), post(body, hookSecret))
	assert.Equal(t, []delivery{{200, 0}}, got)
}

func TestCatchupEnrichRecovered(t *testing.T) {
	e := newCatchupEnv(t)
	e.log(t, catchupEvents(t)...)
	addUser(e.org, "00utarget000000012", "gina", "gina.park@acme.example", "Gina", "Park", "", oktatest.StatusDeprovisioned)
	_, err := e.catchup(t).Poll(context.Background())
	require.NoError(t, err)
	got := takeN(t, e.admitter, 3)
	require.Empty(t, got[1].Email, "the login is not an email")
	require.NoError(t, e.dir.Enrich(context.Background(), &got[1]))
	assert.Equal(t, "gina.park@acme.example", got[1].Email)
	assert.Equal(t, oktatest.StatusDeprovisioned, got[1].Status)
	assert.Equal(t, []string{"/api/v1/users/00utarget000000012"}, userPaths(e.org))
}

func TestNewCatchupValidation(t *testing.T) {
	e := newCatchupEnv(t)
	tests := []struct {
		name    string
		mod     func(*CatchupConfig)
		wantErr string
	}{
		{name: "no directory", mod: func(c *CatchupConfig) { c.Directory = nil }, wantErr: "Directory is required"},
		{name: "no admitter", mod: func(c *CatchupConfig) { c.Admitter = nil }, wantErr: "Admitter is required"},
		{name: "no cursors", mod: func(c *CatchupConfig) { c.Cursors = nil }, wantErr: "Cursors is required"},
		{name: "no types", mod: func(c *CatchupConfig) { c.Types = nil }, wantErr: "Types is empty"},
		{name: "negative interval", mod: func(c *CatchupConfig) { c.Interval = -1 }, wantErr: "negative"},
		{name: "negative overlap", mod: func(c *CatchupConfig) { c.Overlap = -1 }, wantErr: "negative"},
		{name: "negative retention", mod: func(c *CatchupConfig) { c.Retention = -1 }, wantErr: "negative"},
		{name: "negative failing after", mod: func(c *CatchupConfig) { c.FailingAfter = -1 }, wantErr: "negative"},
		{name: "retention too short", mod: func(c *CatchupConfig) { c.Retention = time.Hour }, wantErr: "too short"},
		{name: "filter injection", mod: func(c *CatchupConfig) { c.Types = []string{`x" or eventType sw "`} }, wantErr: "invalid event type"},
		{name: "empty type", mod: func(c *CatchupConfig) { c.Types = []string{""} }, wantErr: "invalid event type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := CatchupConfig{Directory: e.dir, Admitter: e.admitter, Types: DefaultAutoLockTypes(), Cursors: e.cursors}
			tt.mod(&cfg)
			_, err := NewCatchup(cfg)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}

	t.Run("defaults and duplicate types", func(t *testing.T) {
		c, err := NewCatchup(CatchupConfig{
			Directory: e.dir, Admitter: e.admitter, Types: []string{EventSuspend, EventSuspend, EventRiskChange}, Cursors: e.cursors,
		})
		require.NoError(t, err)
		assert.Equal(t, `eventType eq "user.lifecycle.suspend" or eventType eq "user.risk.change"`, c.filter)
		assert.Equal(t, time.Hour, c.lookback)
		assert.Equal(t, 10*time.Minute, c.overlap)
		assert.Equal(t, 90*24*time.Hour, c.retention)
		assert.Equal(t, 3, c.health.failingAfter)
		assert.Same(t, e.cursors, c.cursors)
		assert.NotNil(t, c.now)
		assert.NotNil(t, c.logger)
	})
	t.Run("cursor cannot be saved", func(t *testing.T) {
		e := newCatchupEnv(t)
		c := e.catchup(t)
		errDown := errors.New("store is down")
		e.cursors.failSaves(errDown)
		_, err := c.Poll(context.Background())
		require.ErrorIs(t, err, errDown)
		require.ErrorContains(t, err, "okta: catch-up: save cursor")
		assert.Equal(t, Cursor{}, c.cur, "not advanced in memory either")
		assert.Equal(t, Cursor{}, e.savedCursor(t))
	})
}

func TestCatchupRun(t *testing.T) {
	rateLimited := func(reset time.Duration) func(*oktatest.Server) {
		return func(o *oktatest.Server) { o.RateLimitNext(logsPath, 3, reset) }
	}
	tests := []struct {
		name      string
		fault     func(*oktatest.Server)
		wantWaits []time.Duration
		wantLog   string
	}{
		{name: "healthy", wantWaits: []time.Duration{5 * time.Minute, 5 * time.Minute, 5 * time.Minute}, wantLog: "recovered events"},
		{
			name: "rate limited waits for the reset", fault: rateLimited(29 * time.Second),
			wantWaits: []time.Duration{30 * time.Second, 30 * time.Second, 30 * time.Second}, wantLog: "rate limited",
		},
		{
			name: "rate limited without reset waits the interval",
			fault: func(o *oktatest.Server) {
				for range 3 {
					o.ReplyNext(logsPath, oktatest.Reply{Status: 429, Body: `{"errorCode":"E0000047"}`})
				}
			},
			wantWaits: []time.Duration{5 * time.Minute, 5 * time.Minute, 5 * time.Minute}, wantLog: "poll failed",
		},
		{
			name: "absurd reset is capped", fault: rateLimited(24 * time.Hour),
			wantWaits: []time.Duration{15 * time.Minute, 15 * time.Minute, 15 * time.Minute},
		},
		{
			name: "server errors wait the interval", fault: func(o *oktatest.Server) { o.FailNext(logsPath, 3, 500) },
			wantWaits: []time.Duration{5 * time.Minute, 5 * time.Minute, 5 * time.Minute}, wantLog: "poll failed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newCatchupEnv(t)
			e.log(t, catchupEvents(t)...)
			if tt.fault != nil {
				tt.fault(e.org)
			}
			c := e.catchup(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var waits []time.Duration
			c.sleep = func(ctx context.Context, d time.Duration) error {
				waits = append(waits, d)
				if len(waits) == 3 {
					cancel()
					return ctx.Err()
				}
				return nil
			}
			require.NoError(t, c.Run(ctx))
			assert.Equal(t, tt.wantWaits, waits)
			assert.Len(t, e.reports, 3, "one poll per wait: no spinning")
			assert.Contains(t, e.logs.String(), tt.wantLog)
			assert.NotContains(t, e.logs.String(), testToken)
		})
	}
}

func TestCatchupRunDisabledAndCancelled(t *testing.T) {
	e := newCatchupEnv(t)
	c := e.catchup(t, func(cfg *CatchupConfig) { cfg.Interval = 0 })
	require.NoError(t, c.Run(context.Background()))
	assert.Empty(t, logQueries(e.org), "interval 0 disables the catch-up")

	c = e.catchup(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, c.Run(ctx), "cancelled: returns nil")

	ctx, cancel = context.WithTimeout(context.Background(), 2*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, sleepCtx(ctx, time.Hour), context.DeadlineExceeded)
	require.NoError(t, sleepCtx(context.Background(), time.Microsecond))
}

func TestNextLogsPage(t *testing.T) {
	resp := func(reqURL string, links ...string) *oktasdk.Response {
		u, err := url.Parse(reqURL)
		require.NoError(t, err)
		h := http.Header{}
		for _, l := range links {
			h.Add("Link", l)
		}
		return &oktasdk.Response{Response: &http.Response{Header: h, Request: &http.Request{URL: u}}}
	}
	const first = "https://acme.okta.com/api/v1/logs?since=2024-05-06T11%3A00%3A00.000Z&filter=eventType+eq+%22x%22&sortOrder=ASCENDING&limit=1000"
	tests := []struct {
		name    string
		resp    *oktasdk.Response
		want    string
		wantErr bool
	}{
		{name: "nil", resp: nil},
		{name: "no links", resp: resp(first)},
		{name: "self only", resp: resp(first, `<https://acme.okta.com/api/v1/logs?x=1>; rel="self"`)},
		{
			name: "cursor link: since dropped, filter kept",
			resp: resp(first, `<https://acme.okta.com/api/v1/logs?limit=1000&after=123_1>; rel="next"`),
			want: "/api/v1/logs?after=123_1&filter=eventType+eq+%22x%22&limit=1000&sortOrder=ASCENDING",
		},
		{
			name: "link values win",
			resp: resp(first, `<https://acme.okta.com/api/v1/logs?after=9&filter=other&sortOrder=DESCENDING>; rel="next"`),
			want: "/api/v1/logs?after=9&filter=other&limit=1000&sortOrder=DESCENDING",
		},
		{
			name: "link without cursor keeps since",
			resp: resp(first, `<https://acme.okta.com/api/v1/logs?limit=5>; rel="next"`),
			want: "/api/v1/logs?filter=eventType+eq+%22x%22&limit=5&since=2024-05-06T11%3A00%3A00.000Z&sortOrder=ASCENDING",
		},
		{
			name: "both links in one header",
			resp: resp(first, `<https://acme.okta.com/api/v1/logs?after=1>; rel="self", <https://acme.okta.com/api/v1/logs?after=2>; rel="next"`),
			want: "/api/v1/logs?after=2&filter=eventType+eq+%22x%22&limit=1000&sortOrder=ASCENDING",
		},
		{
			name: "host is never followed",
			resp: resp(first, `<https://evil.example/api/v1/logs?after=2>; rel="next"`),
			want: "/api/v1/logs?after=2&filter=eventType+eq+%22x%22&limit=1000&sortOrder=ASCENDING",
		},
		{name: "other path", resp: resp(first, `</api/v1/users?after=2>; rel="next"`), wantErr: true},
		{name: "unparsable", resp: resp(first, `<%zz>; rel="next"`), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := nextLogsPage(tt.resp)
			if tt.wantErr {
				require.ErrorIs(t, err, ErrUnavailable)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestNextLink(t *testing.T) {
	tests := []struct {
		values []string
		want   string
	}{
		{nil, ""},
		{[]string{`<a>; rel="next"`}, "a"},
		{[]string{`<a>; rel=next`}, "a"},
		{[]string{`<a>;rel="NEXT"`}, "a"},
		{[]string{`<a>; rel="self"`, `<b>; rel="next"`}, "b"},
		{[]string{`<a>; rel="self", <b>; title="x"; rel="next"`}, "b"},
		{[]string{`<a>; rel="nextish"`}, ""},
		{[]string{`a; rel="next"`}, ""},
		{[]string{`<a; rel="next"`}, ""},
		{[]string{`<>; rel="next"`}, ""},
		{[]string{`<a>rel=next`}, ""},
		{[]string{`<a>; rel="n ext"`}, ""},
		{[]string{`<a>; rel="last next"`}, "a"},
		{[]string{`<a> ; REL = next ,<b>; rel="prev"`}, "a"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, nextLink(tt.values), "%q", tt.values)
	}
}

func FuzzNextLink(f *testing.F) {
	f.Add(`<https://acme.okta.com/api/v1/logs?after=1>; rel="next"`)
	f.Add(`<a>; rel="self", <b>; rel="next"`)
	f.Add(`<<>>;;rel=next,<`)
	f.Add("0")
	f.Fuzz(func(t *testing.T, v string) {
		got := nextLink([]string{v})
		if got != "" {
			require.Contains(t, v, "<"+got+">", "the target is always taken from between angle brackets")
			require.Contains(t, strings.ToLower(v), "next")
		}
	})
}

// FuzzNextLogsPage: whatever Link header Okta (or something in between)
// sends, the cursor kept is a System Log path on the org, never since next
// to after, and always one a later poll will resume from.
func FuzzNextLogsPage(f *testing.F) {
	f.Add(`<https://acme.okta.com/api/v1/logs?limit=1000&after=123_1>; rel="next"`, "since=2024-05-06T11%3A00%3A00.000Z&limit=1000")
	f.Add(`</api/v1/logs?since=x&after=1>; rel="next"`, "filter=x")
	f.Add(`<https://evil.example//api/v1/logs?after=%zz>; rel="next"`, "")
	f.Add(`<%zz>; rel="next"`, "a=b")
	f.Fuzz(func(t *testing.T, link, reqQuery string) {
		h := http.Header{"Link": {link}}
		req := &http.Request{URL: &url.URL{Scheme: "https", Host: "acme.okta.com", Path: logsPath, RawQuery: reqQuery}}
		got, err := nextLogsPage(&oktasdk.Response{Response: &http.Response{Header: h, Request: req}})
		if err != nil || got == "" {
			return
		}
		require.True(t, strings.HasPrefix(got, logsPath+"?"), got)
		u, err := url.Parse(got)
		require.NoError(t, err)
		assert.Empty(t, u.Host)
		q := u.Query()
		if q.Get("after") != "" {
			assert.False(t, q.Has("since"), "since is never sent next to after")
			assert.True(t, usableCursor(got), "a cursor that is saved is one that is resumed")
		}
	})
}

// TestCatchupRunRereadsTheSharedCursor: each Run is a new lead, and while
// this replica did not hold it another moved the shared cursor; the new
// Run resumes from there, not from what this replica last saw.
func TestCatchupRunRereadsTheSharedCursor(t *testing.T) {
	e := newCatchupEnv(t)
	c := e.catchup(t)
	runOnce := func() {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c.sleep = func(ctx context.Context, _ time.Duration) error { cancel(); return ctx.Err() }
		require.NoError(t, c.Run(ctx))
	}
	runOnce()
	mine := e.savedCursor(t)
	require.NotEmpty(t, mine.Next)

	// Another replica polled on and saved a cursor further on.
	theirs := Cursor{Newest: e.clock.Now().Add(-time.Minute)}
	e.cursors.seed(t, theirs)
	runOnce()
	reqs := logQueries(e.org)
	require.Len(t, reqs, 2)
	assert.Equal(t, sinceParam(theirs.Newest.Add(-defaultOverlap)), reqs[1].Get("since"), "resumes from the shared cursor")
}
