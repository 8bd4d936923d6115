// Package bot is lockbot's Slack app and its lock orchestration.
//
// It connects to Slack over Socket Mode, serves the /lock slash command
// and the approval buttons, locks devices through Kandji once a request is
// approved (or at once, for Okta security events), and sends the Mac unlock
// PINs to the approver alone, by direct message. It is the only package
// that imports slack-go; the Kandji client, the Okta inbox and directory,
// and the approvals engine are reached through the small interfaces below.
package bot

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/patrickmn/go-cache"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"golang.org/x/sync/errgroup"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/kandji"
	"github.com/lockbot/lockbot/okta"
)

// Kandji is what the bot needs from the device-management API.
type Kandji interface {
	DevicesByEmail(ctx context.Context, email string) ([]kandji.Device, error)
	Inventory(ctx context.Context) iter.Seq2[kandji.Device, error]
	Lock(ctx context.Context, id string, opts kandji.LockOptions) (kandji.LockResult, error)
	UnlockPIN(ctx context.Context, id string) (string, error)
}

// Directory is what the bot needs from Okta's user directory; nil when
// Okta API access is not configured.
type Directory interface {
	User(ctx context.Context, idOrLogin string) (okta.User, error)
	Enrich(ctx context.Context, ev *okta.Event) error
}

// EventSource hands out accepted Okta events until each is marked done,
// so an event survives a crash between being accepted and being handled.
type EventSource interface {
	Next(ctx context.Context) (okta.Event, error)
	Done(uuid string) error
	Len() int
}

// Metrics receives counts of what the bot did; cmd/lockbot backs it with
// Prometheus. Label values are fixed words, never user data.
type Metrics interface {
	RequestOpened(origin string)
	Decision(outcome string)
	DeviceLock(outcome string)
	EventHandled(route string)
	SlackRetry(method string)
	// Lookup counts the device lookups of automatic locks by kind
	// ("sweep": one inventory sweep for many people; "exact": one person).
	Lookup(kind string)
	// Queued is the number of people in the automatic-lock pipeline.
	Queued(people int)
	// DigestActive says whether a burst digest stands for the reports.
	DigestActive(on bool)
}

type noMetrics struct{}

func (noMetrics) RequestOpened(string) {}
func (noMetrics) Decision(string)      {}
func (noMetrics) DeviceLock(string)    {}
func (noMetrics) EventHandled(string)  {}
func (noMetrics) SlackRetry(string)    {}
func (noMetrics) Lookup(string)        {}
func (noMetrics) Queued(int)           {}
func (noMetrics) DigestActive(bool)    {}

// Config is the bot's part of lockbot's configuration (see the README for
// the environment variables behind each field).
type Config struct {
	BotToken, AppToken string
	APIURL             string // Slack Web API base, ending in "/"; "" for Slack itself
	Command            string // slash command, "/lock"
	ApprovalChannel    string
	NotifyChannel      string // "" → ApprovalChannel
	Approvers          []string
	ApproverGroup      string
	Requesters         []string
	RequesterGroup     string
	RequiredApprovals  int           // 0 → 1
	ApprovalTTL        time.Duration // 0 → 30m
	AllowedDomains     []string
	AutoLockEvents     []string
	ApproveEvents      []string
	LockMessage        string
	LockPhone          string
	DryRun             bool

	Workers         int           // Okta events taken from the inbox at once; 0 → 4
	LockWorkers     int           // people locked at once by the automatic pipeline; 0 → 32
	LockConcurrency int           // devices locked (or people looked up) at once per person; 0 → 4
	MaxQueued       int           // people held in memory by the automatic pipeline; the rest wait in the inbox; 0 → 5000
	TenantDevices   int           // expected Kandji tenant size until the first sweep measures it; 0 → 3000
	ReportGap       time.Duration // least time between writes of automatic reports to the notify channel; 0 → 1s
	DigestAfter     int           // reports waiting that switch to a burst digest; 0 → 3
	DigestQuiet     time.Duration // how long a burst must be over before individual reports resume; 0 → 10s
	LockRetryPause  time.Duration // pause before sending a failed lock again (times the round); 0 → 2s
	CoalesceWindow  time.Duration // 0 → 60s
	ShutdownTimeout time.Duration // how long in-flight locks may finish after a stop; 0 → 30s
	SlackAttempts   int           // per Slack call; 0 → 8
	SlackBackoff    time.Duration // first retry wait for transient Slack failures; 0 → 500ms
	ConnectBackoff  time.Duration // first wait when Slack cannot be reached at start-up; doubles up to a minute; 0 → 1s
	HTTPClient      *http.Client  // for Slack; nil → a client with a 30 s timeout
}

// Deps are the bot's collaborators. Kandji, Store and Journal are required.
type Deps struct {
	Kandji    Kandji
	Directory Directory   // optional
	Events    EventSource // optional: without it there are no automatic locks
	Store     approvals.Store
	Journal   *approvals.Journal
	Logger    *slog.Logger
	Metrics   Metrics
	Now       func() time.Time
}

// Bot is the running Slack app. Create it with New and start it with Run.
type Bot struct {
	cfg     Config
	log     *slog.Logger
	metrics Metrics
	now     func() time.Time

	api     *slack.Client
	socket  *socketmode.Client
	slack   *slackAPI
	access  *access
	kandji  Kandji
	dir     Directory
	events  EventSource
	engine  *approvals.Engine
	journal *approvals.Journal

	ready     readiness
	envelopes *cache.Cache // envelope IDs already handled (Slack delivers at least once)
	persons   *cache.Cache // request ID → person, so later card edits keep the Okta details
	auto      *autoLocks
	pipe      *pipeline
	reports   *reporter

	// tasks runs handlers after their ack; it is waited for on shutdown.
	tasks   sync.WaitGroup
	workCtx context.Context
}

// New checks cfg and deps and builds a Bot; nothing is contacted yet.
func New(cfg Config, deps Deps) (*Bot, error) {
	var problems []error
	if deps.Kandji == nil {
		problems = append(problems, errors.New("bot: a Kandji client is required"))
	}
	if deps.Store == nil {
		problems = append(problems, errors.New("bot: an approvals store is required"))
	}
	if cfg.BotToken == "" || cfg.AppToken == "" {
		problems = append(problems, errors.New("bot: both the bot token and the app-level token are required"))
	}
	if cfg.ApprovalChannel == "" {
		problems = append(problems, errors.New("bot: the approval channel is required"))
	}
	if len(cfg.Approvers) == 0 && cfg.ApproverGroup == "" {
		problems = append(problems, errors.New("bot: approvers or an approver group are required"))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	cfg = withDefaults(cfg)
	b := &Bot{
		cfg:       cfg,
		log:       deps.Logger,
		metrics:   deps.Metrics,
		now:       deps.Now,
		kandji:    deps.Kandji,
		dir:       deps.Directory,
		events:    deps.Events,
		journal:   deps.Journal,
		envelopes: cache.New(30*time.Minute, 10*time.Minute),
		persons:   cache.New(7*24*time.Hour, time.Hour),
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.metrics == nil {
		b.metrics = noMetrics{}
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.journal == nil {
		var err error
		if b.journal, err = approvals.OpenJournal(""); err != nil {
			return nil, err
		}
	}
	opts := []slack.Option{
		slack.OptionAppLevelToken(cfg.AppToken),
		slack.OptionHTTPClient(cfg.HTTPClient),
		// slack-go's own logger: warnings only, and never its debug mode,
		// which logs message text (and so would log PINs).
		slack.OptionLog(slog.NewLogLogger(b.log.Handler(), slog.LevelWarn)),
	}
	if cfg.APIURL != "" {
		opts = append(opts, slack.OptionAPIURL(cfg.APIURL))
	}
	b.api = slack.New(cfg.BotToken, opts...)
	b.socket = socketmode.New(b.api, socketmode.OptionLog(slog.NewLogLogger(b.log.Handler(), slog.LevelWarn)))
	b.slack = &slackAPI{api: b.api, log: b.log, metrics: b.metrics, attempts: cfg.SlackAttempts, backoff: cfg.SlackBackoff, maxWait: 30 * time.Second}
	b.access = newAccess(b.slack, cfg)
	b.engine = approvals.NewEngine(deps.Store, approvals.AuthorizerFunc(b.access.isApprover),
		approvals.WithJournal(b.journal),
		approvals.WithLogger(b.log),
		approvals.WithClock(b.now),
		approvals.WithOnExpire(b.onExpire),
	)
	b.auto = newAutoLocks(cfg.CoalesceWindow)
	b.pipe = newPipeline(b)
	b.reports = newReporter(b)
	return b, nil
}

func withDefaults(cfg Config) Config {
	if cfg.Command == "" {
		cfg.Command = "/lock"
	}
	if cfg.NotifyChannel == "" {
		cfg.NotifyChannel = cfg.ApprovalChannel
	}
	positive(&cfg.RequiredApprovals, 1)
	positive(&cfg.ApprovalTTL, 30*time.Minute)
	positive(&cfg.Workers, 4)
	positive(&cfg.LockConcurrency, 4)
	positive(&cfg.LockWorkers, 32)
	positive(&cfg.MaxQueued, 5000)
	positive(&cfg.TenantDevices, 3000)
	positive(&cfg.ReportGap, time.Second)
	positive(&cfg.DigestAfter, 3)
	positive(&cfg.DigestQuiet, 10*time.Second)
	positive(&cfg.LockRetryPause, 2*time.Second)
	positive(&cfg.CoalesceWindow, 60*time.Second)
	positive(&cfg.ShutdownTimeout, 30*time.Second)
	positive(&cfg.SlackAttempts, 8)
	positive(&cfg.SlackBackoff, 500*time.Millisecond)
	positive(&cfg.ConnectBackoff, time.Second)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	return cfg
}

// positive replaces a zero or negative setting with its default.
func positive[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Readiness reports whether the Socket Mode connection is up (for
// /readyz) and, when it is not, why, in one line.
func (b *Bot) Readiness() (bool, string) { return b.ready.get() }

// errFatalSlack marks Slack errors that retrying cannot fix.
var errFatalSlack = errors.New("slack refused the credentials")

// Run connects to Slack and serves until ctx is cancelled or Slack refuses
// a token. While Slack cannot be reached it keeps trying, with capped
// backoff, logging each attempt. On cancel it stops taking work, lets
// in-flight locks finish for up to Config.ShutdownTimeout, and logs what
// did not finish.
func (b *Bot) Run(ctx context.Context) error {
	auth, err := b.authenticate(ctx)
	if err != nil || auth == nil {
		return err
	}
	b.log.Info("slack bot token accepted", "team", auth.Team, "bot_user", auth.UserID)

	g, gctx := errgroup.WithContext(ctx)
	// Work already started may outlive ctx by up to ShutdownTimeout so a
	// lock is not abandoned halfway through its devices.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	b.workCtx = workCtx
	var deadline sync.WaitGroup
	deadline.Go(func() {
		select {
		case <-workCtx.Done():
			return
		case <-gctx.Done():
		}
		t := time.NewTimer(b.cfg.ShutdownTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			b.log.Warn("shutdown timeout reached; abandoning work still in progress", "timeout", b.cfg.ShutdownTimeout)
			cancelWork()
		case <-workCtx.Done():
		}
	})
	defer deadline.Wait()
	defer cancelWork()

	g.Go(func() error {
		err := b.socket.RunContext(gctx)
		if gctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("%w: socket mode: %w", errFatalSlack, err)
	})
	g.Go(func() error { return b.eventLoop(gctx) })
	g.Go(func() error { return b.engine.Run(gctx) })
	var reporting sync.WaitGroup
	if b.events != nil {
		b.pipe.stop = gctx.Done()
		for range b.cfg.Workers {
			g.Go(func() error { return b.autoWorker(gctx) })
		}
		g.Go(func() error { return b.pipe.lookupLoop(gctx) })
		for range b.cfg.LockWorkers {
			g.Go(func() error { return b.pipe.lockWorker(gctx, workCtx) })
		}
		// The reporter outlives the errgroup so the locks finished during
		// shutdown are still reported; close tells it to finish.
		reporting.Go(func() { b.reports.run(workCtx) })
	}
	err = g.Wait()
	b.reports.close()
	reporting.Wait()
	b.ready.set(false, "stopping")
	b.tasks.Wait()
	b.reportUnfinished()
	return err
}

// reportUnfinished logs the requests a stop left half-done, so an operator
// knows which people to check in Kandji.
func (b *Bot) reportUnfinished() {
	reqs, err := b.engine.List(context.Background())
	if err != nil {
		return
	}
	for _, r := range reqs {
		if r.State == approvals.StateExecuting || r.State == approvals.StateApproved {
			b.log.Error("stopped while a lock was in progress; check its devices in Kandji", "request", r.ID, "target", r.Target, "state", r.State)
		}
	}
}

// spawn runs fn after its ack, on the work context so a shutdown does not
// cut a lock in half.
func (b *Bot) spawn(fn func(ctx context.Context)) {
	b.tasks.Add(1)
	go func() {
		defer b.tasks.Done()
		fn(b.workCtx)
	}()
}

// eventLoop drains the Socket Mode events; slack-go blocks its connection
// when nobody reads them.
func (b *Bot) eventLoop(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case evt := <-b.socket.Events:
			if err := b.dispatch(ctx, evt); err != nil {
				return err
			}
		}
	}
}

func (b *Bot) dispatch(ctx context.Context, evt socketmode.Event) error {
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		b.log.Debug("connecting to slack socket mode")
	case socketmode.EventTypeConnected, socketmode.EventTypeHello:
		if b.ready.set(true, "") {
			b.log.Info("connected to slack socket mode")
		}
	case socketmode.EventTypeConnectionError:
		if ce, ok := evt.Data.(*slack.ConnectionErrorEvent); ok {
			if why, refused := refusal(ce.ErrorObj, "SLACK_APP_TOKEN"); refused {
				return fmt.Errorf("%w: %s", errFatalSlack, why)
			}
			b.ready.set(false, "slack socket mode: cannot connect: "+ce.ErrorObj.Error())
			b.log.Warn("slack socket mode connection failed, retrying", "attempt", ce.Attempt, "backoff", ce.Backoff, "err", ce.ErrorObj)
		}
	case socketmode.EventTypeInvalidAuth:
		return fmt.Errorf("%w: Slack refused SLACK_APP_TOKEN (invalid_auth): it must be an app-level token (xapp-…) with the connections:write scope", errFatalSlack)
	case socketmode.EventTypeDisconnect:
		b.ready.set(false, "slack socket mode: disconnected")
	case socketmode.EventTypeSlashCommand:
		sc, ok := evt.Data.(slack.SlashCommand)
		if !ok || evt.Request == nil {
			return nil
		}
		b.onSlashCommand(ctx, evt.Request.EnvelopeID, sc)
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok || evt.Request == nil {
			return nil
		}
		b.onInteraction(ctx, evt.Request.EnvelopeID, cb)
	case socketmode.EventTypeEventsAPI:
		// lockbot subscribes to no events; ack so Slack does not retry.
		if evt.Request != nil {
			b.ack(ctx, evt.Request.EnvelopeID, nil)
		}
	}
	return nil
}

// ack answers an envelope at once: Slack shows an error to the person when
// no ack arrives within 3 s, so acks never wait for any other work.
func (b *Bot) ack(ctx context.Context, envelopeID string, payload any) {
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := b.socket.AckCtx(actx, envelopeID, payload); err != nil {
		b.log.Warn("slack ack failed", "envelope", envelopeID, "err", err)
	}
}

// firstDelivery records envelopeID and reports whether it is new. Slack
// re-sends an envelope it thinks was not acked; handling it twice would
// open two requests for one /lock.
func (b *Bot) firstDelivery(envelopeID string) bool {
	return b.envelopes.Add(envelopeID, struct{}{}, cache.DefaultExpiration) == nil
}
