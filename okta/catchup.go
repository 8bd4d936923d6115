package okta

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	oktasdk "github.com/okta/okta-sdk-golang/v2/okta"
)

const (
	defaultLookback  = time.Hour
	defaultOverlap   = 10 * time.Minute
	defaultRetention = 90 * 24 * time.Hour
	// retentionMargin keeps a start this far inside the retention window,
	// for our clock running behind Okta's and for the time a poll takes.
	retentionMargin = time.Hour
	logsPageLimit   = 1000
	// defaultMaxPages bounds one poll (100,000 events) so a flood cannot
	// keep a poll running forever; the next poll continues from the cursor.
	defaultMaxPages = 100
	// sinceLayout is RFC 3339 in UTC with milliseconds, as Okta's docs
	// write it.
	sinceLayout = "2006-01-02T15:04:05.000Z"
	// Bounds for the wait after a 429: at least a second so we never
	// spin, at most this (or the interval) so a silly header cannot stall
	// the catch-up for days.
	minRateLimitWait = time.Second
	maxRateLimitWait = 15 * time.Minute
)

// CatchupConfig configures the System Log catch-up.
type CatchupConfig struct {
	Directory *Directory
	// Admitter is where the recovered events are handed to; it must
	// dedupe by event UUID, because every poll re-reads events the hook
	// already delivered. Required.
	Admitter Admitter
	// Types are the event types to recover; the same list as the hook's.
	Types []string
	// Cursors persists where the catch-up is in the System Log, so a
	// restart resumes where the last poll stopped. Required: there is no
	// in-memory default, which would silently start over from Lookback
	// after every restart and miss what happened while the bot was down.
	Cursors CursorStore
	// Lookback is how far back the first poll reads when nothing is saved
	// yet (default 1h).
	Lookback time.Duration
	// Interval is Run's poll period; 0 disables Run (it returns nil).
	Interval time.Duration
	// Overlap is how far before the newest event seen a new polling query
	// starts when there is no usable cursor (default 10m): after a refused
	// cursor, and from a saved Cursor with only Newest (as lockbot's import
	// of an older build's checkpoint saves). Dedupe drops what is read
	// twice.
	Overlap time.Duration
	// Retention is how far back the org's System Log reaches (default 90
	// days, Okta's). A start further back is moved to an hour inside it,
	// because Okta refuses such a since with 400 E0000053; the events
	// before it are gone from Okta anyway.
	Retention time.Duration
	// Now is the clock (default time.Now). It only places the first start
	// and the retention cap; resuming follows Okta's cursor, so a host
	// clock that runs fast or slow loses nothing.
	Now func() time.Time
	// Logger receives Run's poll results (default: discarded).
	Logger *slog.Logger
	// OnRecovered, if set, is called with the number of events each poll
	// newly admitted, when it is not zero, for metrics.
	OnRecovered func(n int)
	// OnPoll, if set, is called after every poll, failed or not, except
	// those cut short by the context ending: count errors on Err, export
	// LastSuccess, and alert once on Failing.
	OnPoll func(PollReport)
	// FailingAfter is how many failed polls in a row make a report
	// Failing (default 3).
	FailingAfter int
}

// Catchup polls the System Log so events the hook missed (bot down, crashed,
// Okta gave up after its one retry) are still handled.
//
// It follows Okta's polling protocol: one polling query (since, no until,
// ASCENDING, ordered by persistence time), then the rel="next" links, whose
// after cursor it persists once the page's events are admitted. An event
// that reaches the log late, with an old published time, is persisted after
// the cursor and so is read whatever its published time says.
type Catchup struct {
	dir         *Directory
	admitter    Admitter
	cursors     CursorStore
	types       map[string]struct{}
	filter      string
	lookback    time.Duration
	interval    time.Duration
	overlap     time.Duration
	retention   time.Duration
	now         func() time.Time
	logger      *slog.Logger
	onRecovered func(int)
	onPoll      func(PollReport)
	pageLimit   int
	maxPages    int
	sleep       func(context.Context, time.Duration) error

	mu     sync.Mutex // serialises polls
	loaded bool
	cur    Cursor
	health pollHealth
}

// NewCatchup checks cfg. The cursor is loaded by the first Poll.
func NewCatchup(cfg CatchupConfig) (*Catchup, error) {
	switch {
	case cfg.Directory == nil:
		return nil, errors.New("okta: catch-up: Directory is required")
	case cfg.Admitter == nil:
		return nil, errors.New("okta: catch-up: Admitter is required")
	case cfg.Cursors == nil:
		return nil, errors.New("okta: catch-up: Cursors is required")
	case len(cfg.Types) == 0:
		return nil, errors.New("okta: catch-up: Types is empty")
	case cfg.Interval < 0 || cfg.Lookback < 0 || cfg.Overlap < 0 || cfg.Retention < 0 || cfg.FailingAfter < 0:
		return nil, errors.New("okta: catch-up: Interval, Lookback, Overlap, Retention and FailingAfter must not be negative")
	}
	c := &Catchup{
		dir:         cfg.Directory,
		admitter:    cfg.Admitter,
		cursors:     cfg.Cursors,
		types:       make(map[string]struct{}, len(cfg.Types)),
		lookback:    cmp.Or(cfg.Lookback, defaultLookback),
		interval:    cfg.Interval,
		overlap:     cmp.Or(cfg.Overlap, defaultOverlap),
		retention:   cmp.Or(cfg.Retention, defaultRetention),
		now:         cfg.Now,
		logger:      cfg.Logger,
		onRecovered: cfg.OnRecovered,
		onPoll:      cfg.OnPoll,
		pageLimit:   logsPageLimit,
		maxPages:    defaultMaxPages,
		sleep:       sleepCtx,
		health:      pollHealth{failingAfter: cmp.Or(cfg.FailingAfter, defaultFailingAfter)},
	}
	if c.retention <= 2*retentionMargin {
		return nil, fmt.Errorf("okta: catch-up: Retention %s is too short", c.retention)
	}
	clauses := make([]string, 0, len(cfg.Types))
	for _, t := range cfg.Types {
		if !validEventType(t) {
			return nil, fmt.Errorf("okta: catch-up: invalid event type %q", t)
		}
		if _, dup := c.types[t]; !dup {
			c.types[t] = struct{}{}
			clauses = append(clauses, `eventType eq "`+t+`"`)
		}
	}
	c.filter = strings.Join(clauses, " or ")
	if c.now == nil {
		c.now = time.Now
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// validEventType keeps configured types safe to paste into the SCIM filter
// expression: letters, digits, '.', '_' and '-' only.
func validEventType(t string) bool {
	if t == "" {
		return false
	}
	for _, r := range t {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
		if !ok {
			return false
		}
	}
	return true
}

// logsRequest is the first request of a poll.
type logsRequest struct {
	path   string
	cursor bool      // resuming a saved cursor
	since  time.Time // for a new polling query
}

// pollRun accumulates one poll's progress.
type pollRun struct {
	recovered int
	pages     int
}

// Poll resumes the System Log at the saved cursor (or, the first time and
// whenever there is no usable cursor, starts a polling query), reads up to
// an empty page and admits every matching event, where dedupe drops what
// the hook already delivered. It returns the number of events newly
// admitted and reports the outcome to OnPoll, which runs before Poll
// returns and must not call Poll.
//
// The cursor is saved after each page's events are admitted, never before,
// so a failure re-reads at most one page. If Okta refuses the saved cursor
// (400), the poll starts a new polling query Overlap before the newest event
// seen. If Okta refuses the start as older than its retention (400
// E0000053), the start moves inside the window by Okta's clock, once.
func (c *Catchup) Poll(ctx context.Context) (recovered int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	run := &pollRun{}
	err = c.poll(ctx, run)
	if run.recovered > 0 && c.onRecovered != nil {
		c.onRecovered(run.recovered)
	}
	if err == nil || ctx.Err() == nil {
		r := c.health.record(c.now(), run.recovered, err)
		if r.Failing {
			c.logger.Error("okta catch-up is failing: System Log polls keep failing", "polls", r.ConsecutiveFailures,
				"last_success", r.LastSuccess, "err", err)
		}
		if r.Restored {
			c.logger.Info("okta catch-up works again")
		}
		if c.onPoll != nil {
			c.onPoll(r)
		}
	}
	return run.recovered, err
}

func (c *Catchup) poll(ctx context.Context, run *pollRun) error {
	if !c.loaded {
		cur, err := c.cursors.LoadCursor(ctx)
		if err != nil {
			return fmt.Errorf("okta: catch-up: load cursor: %w", err)
		}
		c.cur, c.loaded = cur, true
	}
	start := c.now()
	req := c.firstRequest(start)
	var cursorRetried, sinceRetried bool
	for {
		err := c.follow(ctx, req, run)
		ae := asAPIError(err)
		if err == nil || run.pages > 0 || ae == nil || ae.status != http.StatusBadRequest {
			return err
		}
		switch {
		case req.cursor && !cursorRetried:
			cursorRetried = true
			since := c.restartSince(start)
			c.logger.Warn("okta catch-up: Okta refused the saved System Log cursor; starting a new polling query",
				"since", since, "err", err)
			req = c.sinceRequest(since)
		case !req.cursor && ae.code == codeInvalidParam && !sinceRetried:
			sinceRetried = true
			oktaNow := ae.date
			if oktaNow.IsZero() {
				oktaNow = start
			}
			moved := c.capSince(req.since, oktaNow)
			if !moved.After(req.since) {
				return err
			}
			c.logger.Warn("okta catch-up: the start is past the System Log's retention; events before it cannot be recovered",
				"since", req.since, "moved_to", moved)
			req = c.sinceRequest(moved)
		default:
			return err
		}
	}
}

// firstRequest resumes the saved cursor, or starts a polling query.
func (c *Catchup) firstRequest(start time.Time) logsRequest {
	switch {
	case c.cur.Next == "":
	case !usableCursor(c.cur.Next):
		c.logger.Warn("okta catch-up: the saved System Log cursor is unusable; starting a new polling query",
			"cursor", truncate(c.cur.Next, 200))
	case cursorFilter(c.cur.Next) != c.filter:
		// The link carries the filter it was made with; following it
		// would never recover the newly configured types.
		c.logger.Info("okta catch-up: the event types changed; starting a new polling query")
	default:
		return logsRequest{path: c.cur.Next, cursor: true}
	}
	return c.sinceRequest(c.restartSince(start))
}

// cursorFilter is the filter parameter of a saved cursor.
func cursorFilter(next string) string {
	u, err := url.Parse(next)
	if err != nil {
		return ""
	}
	return u.Query().Get("filter")
}

// restartSince is where a new polling query starts: Overlap before the
// newest event seen (Okta's clock), or Lookback before now when nothing was
// seen yet, and never past the retention window.
func (c *Catchup) restartSince(now time.Time) time.Time {
	since := now.Add(-c.lookback)
	if !c.cur.Newest.IsZero() {
		since = c.cur.Newest.Add(-c.overlap)
	}
	return c.capSince(since, now)
}

// capSince moves since inside the retention window as of now.
func (c *Catchup) capSince(since, now time.Time) time.Time {
	if floor := now.Add(-c.retention + retentionMargin); since.Before(floor) {
		return floor
	}
	return since
}

// sinceRequest is a polling query: since, no until, ASCENDING.
func (c *Catchup) sinceRequest(since time.Time) logsRequest {
	q := url.Values{
		"since":     {since.UTC().Format(sinceLayout)},
		"filter":    {c.filter},
		"sortOrder": {"ASCENDING"},
		"limit":     {strconv.Itoa(c.pageLimit)},
	}
	return logsRequest{path: logsPath + "?" + q.Encode(), since: since}
}

// follow reads pages from req on, admitting each page's events and then
// saving the page's next link as the cursor. A polling query always has a
// next link, so it ends at an empty page; it also ends at the page bound.
func (c *Catchup) follow(ctx context.Context, req logsRequest, run *pollRun) error {
	path := req.path
	for {
		page, resp, err := c.dir.logsPage(ctx, path)
		if err != nil {
			return err
		}
		run.pages++
		evs, newest := c.recoverable(page)
		if len(evs) > 0 {
			got, err := c.admitter.Admit(ctx, evs)
			run.recovered += len(got)
			if err != nil {
				return fmt.Errorf("okta: catch-up: admit: %w", err)
			}
		}
		cur := c.cur
		if newest.After(cur.Newest) {
			cur.Newest = newest
		}
		next, linkErr := nextLogsPage(resp)
		// Without a usable next link there is nothing to resume from:
		// the next poll starts a polling query shortly before Newest.
		cur.Next = next
		if err := c.save(ctx, cur); err != nil {
			return err
		}
		switch {
		case linkErr != nil:
			return linkErr
		case next == "" || len(page) == 0:
			return nil
		case run.pages >= c.maxPages:
			c.logger.Warn("okta catch-up: page limit reached; continuing next poll", "pages", c.maxPages)
			return nil
		}
		path = next
	}
}

// recoverable converts a page to the events of the configured types and
// returns the newest published time in it.
func (c *Catchup) recoverable(page []*oktasdk.LogEvent) ([]Event, time.Time) {
	var (
		evs    = make([]Event, 0, len(page))
		newest time.Time
	)
	for _, e := range page {
		if e == nil {
			continue
		}
		if e.Published != nil && e.Published.After(newest) {
			newest = *e.Published
		}
		if _, ok := c.types[e.EventType]; !ok {
			continue
		}
		le := fromSDK(e)
		if ev, ok := le.toEvent(SourceCatchup); ok {
			evs = append(evs, ev)
		}
	}
	return evs, newest
}

// save persists cur when it changed, and only then takes it as current, so
// memory never claims more than the store.
func (c *Catchup) save(ctx context.Context, cur Cursor) error {
	if cur == c.cur {
		return nil
	}
	if err := c.cursors.SaveCursor(ctx, cur); err != nil {
		return fmt.Errorf("okta: catch-up: save cursor: %w", err)
	}
	c.cur = cur
	return nil
}

// Run polls at once and then every Interval until ctx ends, then returns
// nil. Errors are logged and reported to OnPoll, never fatal. After a 429 it
// waits until Okta's rate-limit reset when the response said when (at least
// a second), otherwise the normal interval, so it never spins. Interval 0
// returns nil at once.
func (c *Catchup) Run(ctx context.Context) error {
	if c.interval <= 0 {
		return nil
	}
	// Run starts each time this replica wins the lead; another may have
	// moved the shared cursor meanwhile, so it is read again.
	c.mu.Lock()
	c.loaded = false
	c.mu.Unlock()
	for {
		n, err := c.Poll(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait := c.interval
		ae := asAPIError(err)
		switch {
		case ae != nil && ae.status == http.StatusTooManyRequests && ae.wait > 0:
			wait = min(max(ae.wait, minRateLimitWait), max(c.interval, maxRateLimitWait))
			c.logger.Warn("okta catch-up rate limited", "retry_in", wait, "recovered", n)
		case err != nil:
			c.logger.Warn("okta catch-up poll failed", "err", err, "recovered", n, "retry_in", wait)
		case n > 0:
			c.logger.Info("okta catch-up recovered events", "recovered", n)
		}
		if c.sleep(ctx, wait) != nil {
			return nil
		}
	}
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
