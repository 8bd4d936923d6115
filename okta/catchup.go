package okta

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	oktasdk "github.com/okta/okta-sdk-golang/v2/okta"
	"github.com/okta/okta-sdk-golang/v2/okta/query"
)

const (
	defaultLookback = time.Hour
	defaultOverlap  = 10 * time.Minute
	logsPageLimit   = 1000
	// defaultMaxPages bounds one poll (100,000 events) so a flood cannot
	// keep a poll running forever; the next poll continues.
	defaultMaxPages = 100
	checkpointName  = "okta-catchup.json"
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
	Inbox     *Inbox
	// Types are the event types to recover; the same list as the hook's.
	Types []string
	// StateDir holds the checkpoint file ("" keeps it in memory only).
	StateDir string
	// Lookback is how far back the first poll reads when there is no
	// checkpoint yet (default 1h).
	Lookback time.Duration
	// Interval is Run's poll period; 0 disables Run (it returns nil).
	Interval time.Duration
	// Overlap is re-read behind the checkpoint (default 10m): a polling
	// query is ordered by persistence time, not publish time, so late
	// events land behind it. The inbox's dedupe makes re-reads harmless.
	Overlap time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives Run's poll results (default: discarded).
	Logger *slog.Logger
	// OnRecovered, if set, is called with the number of events each poll
	// newly admitted, when it is not zero, for metrics.
	OnRecovered func(n int)
}

// Catchup polls the System Log so events the hook missed (bot down, crashed,
// Okta gave up after its one retry) are still handled.
type Catchup struct {
	dir         *Directory
	inbox       *Inbox
	types       map[string]struct{}
	filter      string
	statePath   string
	lookback    time.Duration
	interval    time.Duration
	overlap     time.Duration
	now         func() time.Time
	logger      *slog.Logger
	onRecovered func(int)
	maxPages    int
	sleep       func(context.Context, time.Duration) error

	mu         sync.Mutex // serialises polls
	checkpoint time.Time  // zero: none yet
}

// checkpointFile is the persisted checkpoint.
type checkpointFile struct {
	Checkpoint time.Time `json:"checkpoint"`
}

// NewCatchup checks cfg and loads the checkpoint from StateDir, if any.
func NewCatchup(cfg CatchupConfig) (*Catchup, error) {
	switch {
	case cfg.Directory == nil:
		return nil, errors.New("okta: catch-up: Directory is required")
	case cfg.Inbox == nil:
		return nil, errors.New("okta: catch-up: Inbox is required")
	case len(cfg.Types) == 0:
		return nil, errors.New("okta: catch-up: Types is empty")
	case cfg.Interval < 0 || cfg.Lookback < 0 || cfg.Overlap < 0:
		return nil, errors.New("okta: catch-up: Interval, Lookback and Overlap must not be negative")
	}
	c := &Catchup{
		dir:         cfg.Directory,
		inbox:       cfg.Inbox,
		types:       make(map[string]struct{}, len(cfg.Types)),
		lookback:    cmp.Or(cfg.Lookback, defaultLookback),
		interval:    cfg.Interval,
		overlap:     cmp.Or(cfg.Overlap, defaultOverlap),
		now:         cfg.Now,
		logger:      cfg.Logger,
		onRecovered: cfg.OnRecovered,
		maxPages:    defaultMaxPages,
		sleep:       sleepCtx,
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
	if cfg.StateDir != "" {
		c.statePath = filepath.Join(cfg.StateDir, checkpointName)
		cp, err := loadCheckpoint(c.statePath)
		if err != nil {
			return nil, err
		}
		c.checkpoint = cp
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

func loadCheckpoint(path string) (time.Time, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("okta: catch-up: %w", err)
	}
	var cf checkpointFile
	if err := json.Unmarshal(data, &cf); err != nil {
		return time.Time{}, fmt.Errorf("okta: catch-up: corrupt checkpoint %s (delete it to start from the lookback window): %w", path, err)
	}
	return cf.Checkpoint, nil
}

// Poll reads the System Log from the checkpoint (minus Overlap; the first
// time, from now minus Lookback) and admits every matching event into the
// inbox, where dedupe drops what the hook already delivered. It returns the
// number of events newly admitted. On success the checkpoint advances to the
// poll's start and is persisted; it never moves backwards, and on error it
// does not move at all.
func (c *Catchup) Poll(ctx context.Context) (recovered int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	start := c.now()
	qp := query.NewQueryParams(
		query.WithSince(c.since(start).UTC().Format(sinceLayout)),
		query.WithFilter(c.filter),
		query.WithSortOrder("ASCENDING"),
		query.WithLimit(logsPageLimit),
	)
	var last time.Time
	complete, err := c.dir.readLogs(ctx, qp, c.maxPages, func(page []*oktasdk.LogEvent) error {
		evs := make([]Event, 0, len(page))
		for _, e := range page {
			if e == nil {
				continue
			}
			if e.Published != nil && e.Published.After(last) {
				last = *e.Published
			}
			if _, ok := c.types[e.EventType]; !ok {
				continue
			}
			le := fromSDK(e)
			if ev, ok := le.toEvent(SourceCatchup); ok {
				evs = append(evs, ev)
			}
		}
		got, err := c.inbox.Admit(evs)
		recovered += len(got)
		if err != nil {
			return fmt.Errorf("okta: catch-up: admit: %w", err)
		}
		return nil
	})
	if recovered > 0 && c.onRecovered != nil {
		c.onRecovered(recovered)
	}
	if err != nil {
		return recovered, err
	}
	next := start
	if !complete {
		// Page bound hit: continue next time from the newest event read.
		next = last
		if next.After(start) {
			next = start
		}
		c.logger.Warn("okta catch-up: page limit reached; continuing next poll", "pages", c.maxPages, "until", next)
	}
	return recovered, c.advance(next)
}

// since is where a poll starting at start reads from.
func (c *Catchup) since(start time.Time) time.Time {
	if c.checkpoint.IsZero() {
		return start.Add(-c.lookback)
	}
	cp := c.checkpoint
	if cp.After(start) { // our clock went backwards; do not skip the gap
		cp = start
	}
	return cp.Add(-c.overlap)
}

// advance moves the checkpoint forward to t and persists it first, so the
// in-memory value never claims more than the disk.
func (c *Catchup) advance(t time.Time) error {
	if !t.After(c.checkpoint) {
		return nil
	}
	if c.statePath != "" {
		data, err := json.Marshal(checkpointFile{Checkpoint: t.UTC()})
		if err != nil {
			return fmt.Errorf("okta: catch-up: encode checkpoint: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(c.statePath), 0o700); err != nil {
			return fmt.Errorf("okta: catch-up: %w", err)
		}
		if err := writeFileAtomic(c.statePath, data); err != nil {
			return fmt.Errorf("okta: catch-up: save checkpoint: %w", err)
		}
	}
	c.checkpoint = t
	return nil
}

// Run polls at once and then every Interval until ctx ends, then returns
// nil. Errors are logged, never fatal. After a 429 it waits until Okta's
// rate-limit reset when the response said when (at least a second),
// otherwise the normal interval, so it never spins. Interval 0 returns nil
// at once.
func (c *Catchup) Run(ctx context.Context) error {
	if c.interval <= 0 {
		return nil
	}
	for {
		n, err := c.Poll(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait := c.interval
		var rl *rateLimitError
		switch {
		case errors.As(err, &rl) && rl.wait > 0:
			wait = min(max(rl.wait, minRateLimitWait), max(c.interval, maxRateLimitWait))
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
