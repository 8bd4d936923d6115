// Package lockflow carries out locks, with no Slack in it: it turns
// admitted Okta events into lock jobs (or approval requests), finds a
// person's devices, locks them through Kandji, retries what fails for a
// passing reason until the deadline, and records every outcome in the
// store, where the Slack side reads it to report.
//
// All of it runs as tasks of the approvals store (see Handlers), so a crash,
// a restart or another replica picks up exactly where the work stopped:
// nothing here is held only in memory.
package lockflow

import (
	"cmp"
	"context"
	"errors"
	"iter"
	"log/slog"
	"slices"
	"time"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/kandji"
	"github.com/lockbot/lockbot/okta"
)

// Kandji is what lockflow needs from the device-management API.
type Kandji interface {
	DevicesByEmail(ctx context.Context, email string) ([]kandji.Device, error)
	Inventory(ctx context.Context) iter.Seq2[kandji.Device, error]
	Lock(ctx context.Context, id string, opts kandji.LockOptions) (kandji.LockResult, error)
	UnlockPIN(ctx context.Context, id string) (string, error)
}

// Directory is what lockflow needs from Okta; nil when Okta API access is
// not configured.
type Directory interface {
	User(ctx context.Context, idOrLogin string) (okta.User, error)
}

// Metrics receives counts of what lockflow did. Label values are fixed
// words, never user data.
type Metrics interface {
	DeviceLock(outcome string)
	EventHandled(route string)
	Lookup(kind string)
	RequestOpened(origin string)
}

type noMetrics struct{}

func (noMetrics) DeviceLock(string)    {}
func (noMetrics) EventHandled(string)  {}
func (noMetrics) Lookup(string)        {}
func (noMetrics) RequestOpened(string) {}

// Config is lockflow's share of lockbot's configuration.
type Config struct {
	NotifyChannel     string // where automatic lock reports and notices go
	ApprovalChannel   string // where approval cards go
	AutoLockEvents    []string
	ApproveEvents     []string
	AllowedDomains    []string // EmailKey'd domains; empty allows all
	LockMessage       string
	LockPhone         string
	DryRun            bool
	Deadline          time.Duration // how long a lock retries passing failures; 0 → 24h
	CoalesceWindow    time.Duration // events for one person within it make one lock; 0 → 60s
	RequiredApprovals int           // for requests opened by events; 0 → 1
	ApprovalTTL       time.Duration // likewise; 0 → 30m
	Command           string        // the slash command, for notices; "" → /lock

	LockWorkers     int           // lock jobs worked at once in this process; 0 → 32
	TriggerWorkers  int           // triggers handled at once; 0 → 4
	LockConcurrency int           // devices of one person locked at once; 0 → 4
	TenantDevices   int           // expected tenant size until a sweep measures it; 0 → 3000
	SweepMaxAge     time.Duration // how long one inventory sweep serves lookups; 0 → 1m
	AttemptTimeout  time.Duration // bounds one attempt at a lock; 0 → 2m
	FirstRetry      time.Duration // wait after a lock's first failed attempt; doubles to 5m; 0 → 5s
}

func (c Config) withDefaults() Config {
	c.Deadline = cmp.Or(c.Deadline, approvals.DefaultLockDeadline)
	c.CoalesceWindow = cmp.Or(c.CoalesceWindow, 60*time.Second)
	c.RequiredApprovals = cmp.Or(c.RequiredApprovals, 1)
	c.ApprovalTTL = cmp.Or(c.ApprovalTTL, 30*time.Minute)
	c.Command = cmp.Or(c.Command, "/lock")
	c.LockWorkers = cmp.Or(c.LockWorkers, 32)
	c.TriggerWorkers = cmp.Or(c.TriggerWorkers, 4)
	c.LockConcurrency = cmp.Or(c.LockConcurrency, 4)
	c.TenantDevices = cmp.Or(c.TenantDevices, 3000)
	c.SweepMaxAge = cmp.Or(c.SweepMaxAge, time.Minute)
	c.AttemptTimeout = cmp.Or(c.AttemptTimeout, 2*time.Minute)
	c.FirstRetry = cmp.Or(c.FirstRetry, 5*time.Second)
	if c.NotifyChannel == "" {
		c.NotifyChannel = c.ApprovalChannel
	}
	return c
}

// Deps are lockflow's collaborators. Store, Engine and Kandji are required.
type Deps struct {
	Store     approvals.Store
	Engine    *approvals.Engine
	Kandji    Kandji
	Directory Directory // optional
	Logger    *slog.Logger
	Metrics   Metrics
	Now       func() time.Time
}

// Flow carries out locks. It holds no work state: every field is
// configuration, a client, or a cache that may be lost at any time.
type Flow struct {
	cfg     Config
	store   approvals.Store
	engine  *approvals.Engine
	kandji  Kandji
	dir     Directory
	log     *slog.Logger
	metrics Metrics
	now     func() time.Time
	sweeps  *sweeper
	admits  admitGroup
}

// New checks deps and builds a Flow.
func New(cfg Config, deps Deps) (*Flow, error) {
	var problems []error
	if deps.Store == nil {
		problems = append(problems, errors.New("lockflow: a store is required"))
	}
	if deps.Engine == nil {
		problems = append(problems, errors.New("lockflow: an approvals engine is required"))
	}
	if deps.Kandji == nil {
		problems = append(problems, errors.New("lockflow: a Kandji client is required"))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	f := &Flow{cfg: cfg.withDefaults(), store: deps.Store, engine: deps.Engine, kandji: deps.Kandji,
		dir: deps.Directory, log: deps.Logger, metrics: deps.Metrics, now: deps.Now}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	if f.metrics == nil {
		f.metrics = noMetrics{}
	}
	if f.now == nil {
		f.now = time.Now
	}
	f.sweeps = newSweeper(f.cfg.TenantDevices)
	return f, nil
}

// Handlers are the store tasks lockflow runs: locks, Okta triggers and
// request expiry.
func (f *Flow) Handlers() map[string]approvals.Handler {
	return map[string]approvals.Handler{
		approvals.TaskLock:    {Workers: f.cfg.LockWorkers, Timeout: f.cfg.AttemptTimeout, Run: f.runLock},
		approvals.TaskTrigger: {Workers: f.cfg.TriggerWorkers, Timeout: time.Minute, Run: f.runTrigger},
		approvals.TaskExpire:  {Workers: 2, Timeout: 30 * time.Second, Run: func(ctx context.Context, t approvals.TaskRun) error { return f.engine.Expire(ctx, t.Key) }},
	}
}

// route is what an Okta event type is configured to do.
type route string

const (
	routeIgnore  route = "ignore"
	routeLock    route = "lock"
	routeApprove route = "approve"
)

func (f *Flow) routeFor(eventType string) route {
	switch {
	case slices.Contains(f.cfg.AutoLockEvents, eventType):
		return routeLock
	case slices.Contains(f.cfg.ApproveEvents, eventType):
		return routeApprove
	}
	return routeIgnore
}

// OktaRequester is the requester of requests and locks that an Okta event
// opened. It is not a Slack ID, so no person is their requester and any
// approver may decide them.
const OktaRequester = "okta"

// domainAllowed reports whether email's domain may be targeted.
func (f *Flow) domainAllowed(email string) bool {
	return len(f.cfg.AllowedDomains) == 0 || slices.Contains(f.cfg.AllowedDomains, approvals.DomainOf(email))
}
