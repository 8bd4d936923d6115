package okta

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	oktasdk "github.com/okta/okta-sdk-golang/v2/okta"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

type catchupEnv struct {
	fake    *fakeOkta
	dir     *Directory
	inbox   *Inbox
	clock   *fakeClock
	state   string
	counted []int
}

func newCatchupEnv(t *testing.T) *catchupEnv {
	f := newFakeOkta(t)
	return &catchupEnv{
		fake: f, dir: newTestDirectory(t, f), inbox: openTestInbox(t, t.TempDir()),
		clock: newFakeClock(), state: t.TempDir(),
	}
}

func (e *catchupEnv) catchup(t *testing.T, mod ...func(*CatchupConfig)) *Catchup {
	t.Helper()
	cfg := CatchupConfig{
		Directory: e.dir, Inbox: e.inbox, Types: DefaultAutoLockTypes(), StateDir: e.state,
		Interval: 5 * time.Minute, Now: e.clock.Now,
		OnRecovered: func(n int) { e.counted = append(e.counted, n) },
	}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := NewCatchup(cfg)
	require.NoError(t, err)
	return c
}

func (e *catchupEnv) savedCheckpoint(t *testing.T) time.Time {
	t.Helper()
	cp, err := loadCheckpoint(filepath.Join(e.state, checkpointName))
	require.NoError(t, err)
	return cp
}

func sinceParam(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func TestCatchupPollRecoversAcrossPages(t *testing.T) {
	e := newCatchupEnv(t)
	e.fake.setPages(catchupEvents(t), 2)
	c := e.catchup(t)
	start := e.clock.Now()

	n, err := c.Poll(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	assert.Equal(t, []int{3}, e.counted)
	assert.Equal(t, wantRecovered(), takeN(t, e.inbox, 3))

	reqs := e.fake.logRequests()
	require.Len(t, reqs, 4, "three pages, then the empty page that ends a polling query")
	assert.Equal(t, url.Values{
		"since": {sinceParam(start.Add(-time.Hour))}, "filter": {wantFilter},
		"sortOrder": {"ASCENDING"}, "limit": {"1000"},
	}, reqs[0], "first poll looks back the default hour")
	for i, q := range reqs[1:] {
		assert.Equal(t, url.Values{
			"after": {"c" + strconv.Itoa(i+1)}, "filter": {wantFilter}, "sortOrder": {"ASCENDING"}, "limit": {"1000"},
		}, q, "page %d follows the next link; since is not sent next to after", i+2)
	}
	assert.Equal(t, start, e.savedCheckpoint(t), "checkpoint advanced to the poll start and persisted")
}

func TestCatchupCheckpointUsedAfterRestart(t *testing.T) {
	e := newCatchupEnv(t)
	c := e.catchup(t)
	t0 := e.clock.Now()
	_, err := c.Poll(context.Background())
	require.NoError(t, err)

	e.clock.Advance(5 * time.Minute)
	_, err = c.Poll(context.Background())
	require.NoError(t, err)
	t1 := e.clock.Now()

	e.clock.Advance(3 * time.Hour) // down for a while
	c2 := e.catchup(t)             // a new process, same state dir
	_, err = c2.Poll(context.Background())
	require.NoError(t, err)

	reqs := e.fake.logRequests()
	require.Len(t, reqs, 3)
	assert.Equal(t, sinceParam(t0.Add(-time.Hour)), reqs[0].Get("since"))
	assert.Equal(t, sinceParam(t0.Add(-10*time.Minute)), reqs[1].Get("since"), "checkpoint minus the overlap")
	assert.Equal(t, sinceParam(t1.Add(-10*time.Minute)), reqs[2].Get("since"), "the persisted checkpoint, not the lookback")
	assert.Equal(t, e.clock.Now(), e.savedCheckpoint(t))
}

func TestCatchupCheckpointNeverMovesBackwards(t *testing.T) {
	e := newCatchupEnv(t)
	c := e.catchup(t, func(cfg *CatchupConfig) { cfg.Overlap = time.Minute })
	_, err := c.Poll(context.Background())
	require.NoError(t, err)
	cp := e.clock.Now()

	e.clock.Advance(-time.Hour) // the clock steps back
	_, err = c.Poll(context.Background())
	require.NoError(t, err)
	assert.Equal(t, cp, e.savedCheckpoint(t))
	reqs := e.fake.logRequests()
	assert.Equal(t, sinceParam(e.clock.Now().Add(-time.Minute)), reqs[1].Get("since"), "reads from our own now, not a future checkpoint")
}

func TestCatchupDedupesWithHook(t *testing.T) {
	e := newCatchupEnv(t)
	e.fake.setPages(catchupEvents(t), 10)
	h, err := NewHookHandler(HookConfig{Secret: hookSecret, Types: DefaultAutoLockTypes(), Inbox: e.inbox})
	require.NoError(t, err)

	// The hook delivered the first event before the catch-up ran.
	var all []json.RawMessage
	require.NoError(t, json.Unmarshal(fixture(t, "logevents_catchup.json"), &all))
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
	assert.Equal(t, want, takeN(t, e.inbox, 3), "the hook's copy is kept, the catch-up's duplicate dropped")

	// The hook's late retry of a recovered event is a duplicate too.
	body, err = json.Marshal(map[string]any{"eventType": "com.okta.event_hook", "data": map[string]any{"events": all[4:]}})
	require.NoError(t, err)
	var got []delivery
	h.onDelivery = func(s, a int) { got = append(got, delivery{s, a}) }
	h.ServeHTTP(httptest.NewRecorder(), post(body, hookSecret))
	assert.Equal(t, []delivery{{200, 0}}, got)
}

func TestCatchupErrorsDoNotAdvance(t *testing.T) {
	date := time.Now().UTC().Truncate(time.Second)
	tests := []struct {
		name          string
		reply         fakeReply
		okPages       int // pages served before the failure
		wantErr       error
		wantRecovered int
		wantWait      time.Duration
	}{
		{
			name:    "500 on the first page",
			reply:   fakeReply{status: 500, body: `{"errorCode":"E0000009","errorSummary":"Internal Server Error"}`},
			wantErr: ErrUnavailable,
		},
		{
			name:    "500 on the second page keeps what was admitted",
			reply:   fakeReply{status: 500, body: `{"errorCode":"E0000009","errorSummary":"Internal Server Error"}`},
			okPages: 1, wantErr: ErrUnavailable, wantRecovered: 2,
		},
		{
			name: "429 with reset",
			reply: fakeReply{status: 429, body: `{"errorCode":"E0000047"}`, header: map[string]string{
				"Date": date.Format(http.TimeFormat), "X-Rate-Limit-Reset": strconv.FormatInt(date.Unix()+59, 10),
			}},
			wantErr: ErrUnavailable, wantWait: 60 * time.Second,
		},
		{
			name:    "403",
			reply:   fakeReply{status: 403, body: `{"errorCode":"E0000006"}`},
			wantErr: ErrUnauthorized,
		},
		{
			name:    "unparsable page",
			reply:   fakeReply{status: 200, body: `[{"published":"not a time"}]`},
			wantErr: ErrUnavailable,
		},
		{
			name:    "next link to another endpoint",
			reply:   fakeReply{status: 200, body: `[{"uuid":"x","eventType":"user.session.start"}]`, header: map[string]string{"Link": `<https://evil.example/api/v1/users?after=1>; rel="next"`}},
			wantErr: ErrUnavailable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newCatchupEnv(t)
			e.fake.setPages(catchupEvents(t), 2)
			c := e.catchup(t)
			// A successful poll first, so there is a checkpoint to keep.
			_, err := c.Poll(context.Background())
			require.NoError(t, err)
			cp := e.savedCheckpoint(t)
			takeN(t, e.inbox, 3)
			for _, id := range uuidsOf(wantRecovered()) {
				require.NoError(t, e.inbox.Done(id))
			}
			e.inbox.seen = map[string]time.Time{} // forget them, to see what this poll admits

			e.clock.Advance(5 * time.Minute)
			if tt.okPages == 0 {
				e.fake.force(tt.reply)
			} else {
				e.fake.force(servePage(t, e.fake, catchupEvents(t)[:2], "c1"), tt.reply)
			}
			n, err := c.Poll(context.Background())
			require.ErrorIs(t, err, tt.wantErr)
			assert.NotContains(t, err.Error(), testToken)
			assert.Equal(t, tt.wantRecovered, n)
			assert.Equal(t, tt.wantRecovered, e.inbox.Len())
			assert.Equal(t, cp, e.savedCheckpoint(t), "checkpoint not advanced on error")
			assert.Equal(t, cp, c.checkpoint)
			var rl *rateLimitError
			if tt.wantWait > 0 {
				require.ErrorAs(t, err, &rl)
				assert.Equal(t, tt.wantWait, rl.wait)
			}
		})
	}
}

// servePage renders a logs page reply whose next link carries cursor.
func servePage(t *testing.T, f *fakeOkta, evs []json.RawMessage, cursor string) fakeReply {
	body, err := json.Marshal(evs)
	require.NoError(t, err)
	return fakeReply{status: 200, body: string(body), header: map[string]string{
		"Link": "<" + f.srv.URL + logsPath + "?limit=1000&after=" + cursor + `>; rel="next"`,
	}}
}

func TestCatchupInboxFullDoesNotAdvance(t *testing.T) {
	e := newCatchupEnv(t)
	e.inbox = openTestInbox(t, t.TempDir(), WithMaxPending(1))
	e.fake.setPages(catchupEvents(t), 10)
	c := e.catchup(t)
	n, err := c.Poll(context.Background())
	require.ErrorIs(t, err, ErrInboxFull)
	assert.Zero(t, n)
	assert.True(t, e.savedCheckpoint(t).IsZero())
	assert.Empty(t, e.counted)
}

func TestCatchupPageBound(t *testing.T) {
	e := newCatchupEnv(t)
	all := catchupEvents(t)
	// Persistence order is not publish order: the newest event comes first.
	e.fake.setPages([]json.RawMessage{all[3], all[0], all[1], all[2], all[4]}, 2)
	c := e.catchup(t)
	c.maxPages = 2
	n, err := c.Poll(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Len(t, e.fake.logRequests(), 2)
	assert.Equal(t, ts("2024-05-06T09:14:00Z"), e.savedCheckpoint(t), "continues from the newest event read")
}

func TestCatchupMemoryOnlyCheckpoint(t *testing.T) {
	e := newCatchupEnv(t)
	c := e.catchup(t, func(cfg *CatchupConfig) { cfg.StateDir = ""; cfg.Lookback = 2 * time.Hour })
	_, err := c.Poll(context.Background())
	require.NoError(t, err)
	assert.Equal(t, e.clock.Now(), c.checkpoint)
	assert.Equal(t, sinceParam(e.clock.Now().Add(-2*time.Hour)), e.fake.logRequests()[0].Get("since"))
	entries, err := os.ReadDir(e.state)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

func TestCatchupEnrichRecovered(t *testing.T) {
	e := newCatchupEnv(t)
	e.fake.setPages(catchupEvents(t), 10)
	e.fake.addUser("00utarget000000012", "gina", "gina.park@acme.example", "Gina", "Park", "", "DEPROVISIONED")
	_, err := e.catchup(t).Poll(context.Background())
	require.NoError(t, err)
	got := takeN(t, e.inbox, 3)
	require.Empty(t, got[1].Email, "the login is not an email")
	require.NoError(t, e.dir.Enrich(context.Background(), &got[1]))
	assert.Equal(t, "gina.park@acme.example", got[1].Email)
	assert.Equal(t, []string{"/api/v1/users/00utarget000000012"}, e.fake.userRequests())
}

func TestNewCatchupValidation(t *testing.T) {
	e := newCatchupEnv(t)
	tests := []struct {
		name    string
		mod     func(*CatchupConfig)
		wantErr string
	}{
		{name: "no directory", mod: func(c *CatchupConfig) { c.Directory = nil }, wantErr: "Directory is required"},
		{name: "no inbox", mod: func(c *CatchupConfig) { c.Inbox = nil }, wantErr: "Inbox is required"},
		{name: "no types", mod: func(c *CatchupConfig) { c.Types = nil }, wantErr: "Types is empty"},
		{name: "negative interval", mod: func(c *CatchupConfig) { c.Interval = -1 }, wantErr: "negative"},
		{name: "negative overlap", mod: func(c *CatchupConfig) { c.Overlap = -1 }, wantErr: "negative"},
		{name: "filter injection", mod: func(c *CatchupConfig) { c.Types = []string{`x" or eventType sw "`} }, wantErr: "invalid event type"},
		{name: "empty type", mod: func(c *CatchupConfig) { c.Types = []string{""} }, wantErr: "invalid event type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := CatchupConfig{Directory: e.dir, Inbox: e.inbox, Types: DefaultAutoLockTypes()}
			tt.mod(&cfg)
			_, err := NewCatchup(cfg)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}

	t.Run("defaults and duplicate types", func(t *testing.T) {
		c, err := NewCatchup(CatchupConfig{Directory: e.dir, Inbox: e.inbox, Types: []string{EventSuspend, EventSuspend, EventRiskChange}})
		require.NoError(t, err)
		assert.Equal(t, `eventType eq "user.lifecycle.suspend" or eventType eq "user.risk.change"`, c.filter)
		assert.Equal(t, time.Hour, c.lookback)
		assert.Equal(t, 10*time.Minute, c.overlap)
		assert.NotNil(t, c.now)
		assert.NotNil(t, c.logger)
	})
	t.Run("corrupt checkpoint", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, checkpointName), []byte("{"), 0o600))
		_, err := NewCatchup(CatchupConfig{Directory: e.dir, Inbox: e.inbox, Types: DefaultAutoLockTypes(), StateDir: dir})
		require.ErrorContains(t, err, "corrupt checkpoint")
	})
	t.Run("unreadable state dir", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		require.NoError(t, os.WriteFile(file, nil, 0o600))
		_, err := NewCatchup(CatchupConfig{Directory: e.dir, Inbox: e.inbox, Types: DefaultAutoLockTypes(), StateDir: filepath.Join(file, "sub")})
		require.ErrorContains(t, err, "not a directory")
	})
	t.Run("checkpoint cannot be saved", func(t *testing.T) {
		state := filepath.Join(t.TempDir(), "state")
		c := e.catchup(t, func(cfg *CatchupConfig) { cfg.StateDir = state })
		require.NoError(t, os.WriteFile(state, nil, 0o600)) // the state dir became a file
		_, err := c.Poll(context.Background())
		require.ErrorContains(t, err, "okta: catch-up")
		assert.True(t, c.checkpoint.IsZero(), "not advanced in memory either")
	})
}

func TestCatchupRun(t *testing.T) {
	date := time.Now().UTC().Truncate(time.Second)
	limited := fakeReply{status: 429, body: `{"errorCode":"E0000047"}`, header: map[string]string{
		"Date": date.Format(http.TimeFormat), "X-Rate-Limit-Reset": strconv.FormatInt(date.Unix()+29, 10),
	}}
	limitedNoReset := fakeReply{status: 429, body: `{"errorCode":"E0000047"}`}
	failed := fakeReply{status: 500, body: `{"errorCode":"E0000009"}`}
	limitedLong := limited
	limitedLong.header = map[string]string{"Date": date.Format(http.TimeFormat), "X-Rate-Limit-Reset": strconv.FormatInt(date.Unix()+86400, 10)}

	tests := []struct {
		name      string
		replies   []fakeReply
		wantWaits []time.Duration
		wantLog   string
	}{
		{name: "healthy", wantWaits: []time.Duration{5 * time.Minute, 5 * time.Minute, 5 * time.Minute}, wantLog: "recovered events"},
		{
			name: "rate limited waits for the reset", replies: []fakeReply{limited, limited, limited},
			wantWaits: []time.Duration{30 * time.Second, 30 * time.Second, 30 * time.Second}, wantLog: "rate limited",
		},
		{
			name: "rate limited without reset waits the interval", replies: []fakeReply{limitedNoReset, limitedNoReset, limitedNoReset},
			wantWaits: []time.Duration{5 * time.Minute, 5 * time.Minute, 5 * time.Minute}, wantLog: "poll failed",
		},
		{
			name: "absurd reset is capped", replies: []fakeReply{limitedLong, limitedLong, limitedLong},
			wantWaits: []time.Duration{15 * time.Minute, 15 * time.Minute, 15 * time.Minute},
		},
		{
			name: "server errors wait the interval", replies: []fakeReply{failed, failed, failed},
			wantWaits: []time.Duration{5 * time.Minute, 5 * time.Minute, 5 * time.Minute}, wantLog: "poll failed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newCatchupEnv(t)
			e.fake.setPages(catchupEvents(t), 10)
			e.fake.force(tt.replies...)
			var logs bytes.Buffer
			c := e.catchup(t, func(cfg *CatchupConfig) { cfg.Logger = newTextLogger(&logs) })
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
			polls := 0
			for _, q := range e.fake.logRequests() {
				if q.Get("after") == "" {
					polls++
				}
			}
			assert.Equal(t, 3, polls, "one poll per wait: no spinning")
			assert.Contains(t, logs.String(), tt.wantLog)
		})
	}
}

func TestCatchupRunDisabledAndCancelled(t *testing.T) {
	e := newCatchupEnv(t)
	c := e.catchup(t, func(cfg *CatchupConfig) { cfg.Interval = 0 })
	require.NoError(t, c.Run(context.Background()))
	assert.Empty(t, e.fake.logRequests(), "interval 0 disables the catch-up")

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
