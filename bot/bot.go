// Package bot is lockbot's Slack app: the Socket Mode connection, the
// /lock command, the approval and reveal buttons, who may request and
// approve, and the paced writer of each channel that makes every card and
// report show what the store says.
//
// It holds no work state: a slash command becomes a trigger in the store
// before it is answered, a decision is one store transaction, and every
// message is a Post whose writer posts or edits it until it matches. Locks
// are carried out by bot/lockflow, with no Slack in it; this package only
// shows them. It is the only package, with bot/cards and bot/slackfake,
// that imports slack-go.
package bot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"golang.org/x/sync/errgroup"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/bot/lockflow"
)

// Metrics receives counts of what the bot did; cmd/lockbot backs it with
// Prometheus. Label values are fixed words, never user data.
type Metrics interface {
	lockflow.Metrics
	Decision(outcome string)
	SlackRetry(method string)
	// DigestActive says whether a burst digest stands for the reports.
	DigestActive(on bool)
}

type noMetrics struct{}

func (noMetrics) DeviceLock(string)    {}
func (noMetrics) EventHandled(string)  {}
func (noMetrics) Lookup(string)        {}
func (noMetrics) RequestOpened(string) {}
func (noMetrics) Decision(string)      {}
func (noMetrics) SlackRetry(string)    {}
func (noMetrics) DigestActive(bool)    {}

// Config is the bot's part of lockbot's configuration (the README
// documents the environment variables behind each field).
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
	// SharedStore says the store is shared by several replicas, each with
	// its own Socket Mode connection. Without it, a second connection for
	// the app is another lockbot with state of its own, and is warned of.
	SharedStore       bool
	RequiredApprovals int           // 0 → 1
	ApprovalTTL       time.Duration // 0 → 30m
	AllowedDomains    []string
	DryRun            bool

	// Flow configures the lock flow; its channels, approvals settings and
	// dry run are filled in from the fields above.
	Flow         lockflow.Config
	LockDeadline time.Duration // how long a lock retries passing failures; 0 → 24h

	ReportGap       time.Duration // least time between two writes to one channel; 0 → 1s
	DigestAfter     int           // reports waiting to be posted that start a burst digest; 0 → 30
	DigestQuiet     time.Duration // how long a burst must be over before individual reports resume; 0 → 10s
	WriterPoll      time.Duration // how often an idle channel writer looks for work it was not told of; 0 → 1s
	RetryPause      time.Duration // first wait before a failed Slack write or command is tried again; doubles to a minute; 0 → 1s
	ShutdownTimeout time.Duration // how long work under way may finish after a stop; 0 → 20s
	SlackAttempts   int           // per Slack call made for a person waiting; 0 → 4
	SlackBackoff    time.Duration // first retry wait for transient Slack failures; 0 → 500ms
	ConnectBackoff  time.Duration // first wait when Slack cannot be reached at start-up; doubles up to a minute; 0 → 1s
	HTTPClient      *http.Client  // for Slack; nil → a client with a 30 s timeout
}

// Deps are the bot's collaborators. Store and Kandji are required;
// Directory is nil when Okta API access is not configured.
type Deps struct {
	Store     approvals.Store
	Kandji    lockflow.Kandji
	Directory lockflow.Directory
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

	api    *slack.Client
	socket *socketmode.Client
	slack  *slackAPI
	access *access
	store  approvals.Store
	engine *approvals.Engine
	flow   *lockflow.Flow

	ready readiness
	// clicks runs the handlers of clicks after their ack; Run waits for
	// them before it returns.
	clicks sync.WaitGroup
}

// New checks cfg and deps and builds a Bot; nothing is contacted yet.
func New(cfg Config, deps Deps) (*Bot, error) {
	var problems []error
	if deps.Store == nil {
		problems = append(problems, errors.New("bot: an approvals store is required"))
	}
	if deps.Kandji == nil {
		problems = append(problems, errors.New("bot: a Kandji client is required"))
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
	b := &Bot{cfg: cfg, log: deps.Logger, metrics: deps.Metrics, now: deps.Now, store: deps.Store}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.metrics == nil {
		b.metrics = noMetrics{}
	}
	if b.now == nil {
		b.now = time.Now
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
		approvals.WithClock(b.now), approvals.WithLogger(b.log), approvals.WithCardChannel(cfg.ApprovalChannel),
		approvals.WithLockDeadline(cfg.LockDeadline))
	fc := cfg.Flow
	fc.ApprovalChannel, fc.NotifyChannel = cfg.ApprovalChannel, cfg.NotifyChannel
	fc.AllowedDomains, fc.DryRun, fc.Command = cfg.AllowedDomains, cfg.DryRun, cfg.Command
	fc.RequiredApprovals, fc.ApprovalTTL, fc.Deadline = cfg.RequiredApprovals, cfg.ApprovalTTL, cfg.LockDeadline
	flow, err := lockflow.New(fc, lockflow.Deps{Store: deps.Store, Engine: b.engine, Kandji: deps.Kandji,
		Directory: deps.Directory, Logger: b.log, Metrics: b.metrics, Now: b.now})
	if err != nil {
		return nil, err
	}
	b.flow = flow
	return b, nil
}

// Flow is the bot's lock flow: the Admitter of Okta events, for the hook
// and the System Log catch-up.
func (b *Bot) Flow() *lockflow.Flow { return b.flow }

// Engine is the bot's approvals engine.
func (b *Bot) Engine() *approvals.Engine { return b.engine }

func withDefaults(cfg Config) Config {
	cfg.Command = cmp.Or(cfg.Command, "/lock")
	cfg.NotifyChannel = cmp.Or(cfg.NotifyChannel, cfg.ApprovalChannel)
	positive(&cfg.RequiredApprovals, 1)
	positive(&cfg.ApprovalTTL, 30*time.Minute)
	positive(&cfg.ReportGap, time.Second)
	positive(&cfg.DigestAfter, 30)
	positive(&cfg.DigestQuiet, 10*time.Second)
	positive(&cfg.WriterPoll, time.Second)
	positive(&cfg.RetryPause, time.Second)
	positive(&cfg.ShutdownTimeout, 20*time.Second)
	positive(&cfg.SlackAttempts, 4)
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

// Handlers are the store tasks the bot runs: slash commands and PIN DMs.
func (b *Bot) Handlers() map[string]approvals.Handler {
	return map[string]approvals.Handler{
		TaskCommand:        {Workers: 4, Timeout: time.Minute, Run: b.runCommand},
		approvals.TaskPINs: {Workers: 2, Timeout: time.Minute, Run: b.runPINs},
	}
}

// Run connects to Slack and serves until ctx is cancelled or Slack refuses
// a token: the Socket Mode connection, the tasks of the bot and of the
// lock flow, and the paced writer of each channel (under the store's
// lease, so one process writes to a channel at a time). While Slack cannot
// be reached it keeps trying, with capped backoff. On cancel it stops
// taking work and lets what is under way finish for up to
// Config.ShutdownTimeout; anything cut short is resumed by the next start.
func (b *Bot) Run(ctx context.Context) error {
	auth, err := b.authenticate(ctx)
	if err != nil || auth == nil {
		return err
	}
	b.log.Info("slack bot token accepted", "team", auth.Team, "bot_user", auth.UserID)
	b.access.setHome(auth.TeamID, auth.EnterpriseID)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		err := b.socket.RunContext(gctx)
		if gctx.Err() != nil {
			return nil
		}
		if why, refused := refusal(err, "SLACK_APP_TOKEN"); refused {
			return fmt.Errorf("%w: %s", errFatalSlack, why)
		}
		return fmt.Errorf("%w: socket mode: %w", errFatalSlack, err)
	})
	g.Go(func() error { return b.eventLoop(gctx) })
	handlers := b.flow.Handlers()
	maps.Copy(handlers, b.Handlers())
	g.Go(func() error { return b.store.Work(gctx, handlers) })
	for _, ch := range b.channels() {
		g.Go(func() error {
			return b.store.Lead(gctx, "writer:"+ch, func(ctx context.Context) error { return b.runWriter(ctx, ch) })
		})
	}
	err = g.Wait()
	b.ready.set(false, "stopping")
	b.clicks.Wait()
	return err
}

// channels are the channels the bot writes to, each once.
func (b *Bot) channels() []string {
	if b.cfg.NotifyChannel == b.cfg.ApprovalChannel {
		return []string{b.cfg.ApprovalChannel}
	}
	return []string{b.cfg.ApprovalChannel, b.cfg.NotifyChannel}
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
		if evt.Request != nil && evt.Request.NumConnections > 1 && !b.cfg.SharedStore {
			// Slack hands each payload to one connection at random: the
			// other process sees clicks on cards it never posted, and
			// this one misses some of its own.
			b.log.Warn("another process is connected to Slack with this app's SLACK_APP_TOKEN; with the embedded store it has state of its own, so commands and clicks Slack hands to it are not seen here. Stop it, or run every replica on LOCKBOT_DATABASE_URL",
				"connections", evt.Request.NumConnections)
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
