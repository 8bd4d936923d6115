package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/bot"
	"github.com/lockbot/lockbot/bot/lockflow"
	"github.com/lockbot/lockbot/kandji"
	"github.com/lockbot/lockbot/okta"
)

// newLogger builds the process logger from LOG_LEVEL and LOG_FORMAT.
func newLogger(cfg config, w io.Writer) *slog.Logger {
	level, _ := parseLevel(cfg.LogLevel) // validated already
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve runs the bot until ctx is cancelled (SIGINT/SIGTERM) or a part
// fails for good.
func serve(ctx context.Context, getenv func(string) string, stderr io.Writer) int {
	cfg, err := loadConfig(getenv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	log := newLogger(cfg, stderr)
	for _, w := range cfg.advise() {
		log.Warn("unusual configuration value accepted: "+w, "variable", problemKey(w))
	}
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		log.Error("lockbot cannot start", "err", err)
		return exitFailed
	}
	defer a.close()
	if err := a.run(ctx); err != nil {
		log.Error("lockbot stopped", "err", err)
		return exitFailed
	}
	log.Info("lockbot stopped")
	return exitOK
}

// app is one running lockbot: its store, its clients and its HTTP server.
type app struct {
	cfg     config
	log     *slog.Logger
	metrics *metrics
	store   approvals.Store
	bot     *bot.Bot
	catchup *okta.Catchup
	server  *http.Server
	ln      net.Listener
}

func newApp(ctx context.Context, cfg config, log *slog.Logger) (*app, error) {
	a := &app{cfg: cfg, log: log, metrics: newMetrics()}
	built := false
	defer func() {
		// A half-built app still holds the store and maybe the port.
		if !built {
			a.close()
		}
	}()
	var err error
	if a.store, err = openStore(ctx, cfg, log); err != nil {
		return nil, err
	}
	kopts := []kandji.Option{
		kandji.WithRatePerHour(cfg.KandjiRateLimit),
		kandji.WithUserAgent("lockbot/" + buildVersion()),
		kandji.WithLogger(log),
		kandji.WithRetryNotify(a.metrics.kandjiRetry),
	}
	if cfg.DatabaseURL != "" {
		// Replicas spend one KANDJI_RATE_LIMIT between them.
		budget, err := approvals.NewBudget(a.store, "kandji", cfg.KandjiRateLimit, nil)
		if err != nil {
			return nil, fmt.Errorf("KANDJI_RATE_LIMIT: %w", err)
		}
		kopts = append(kopts, kandji.WithSharedBudget(budget))
	}
	kc, err := kandji.New(cfg.KandjiAPIURL, cfg.KandjiAPIToken.value(), kopts...)
	if err != nil {
		return nil, fmt.Errorf("KANDJI_API_URL: %w", err)
	}
	var dir *okta.Directory
	deps := bot.Deps{Store: a.store, Kandji: kc, Logger: log, Metrics: a.metrics}
	if cfg.OktaOrgURL != "" {
		if dir, err = okta.NewDirectory(ctx, cfg.OktaOrgURL, cfg.OktaAPIToken.value(), okta.WithDirectoryLogger(log)); err != nil {
			return nil, fmt.Errorf("OKTA_ORG_URL: %w", err)
		}
		deps.Directory = dir
	}
	if a.bot, err = bot.New(botConfig(cfg), deps); err != nil {
		return nil, err
	}
	if dir != nil && cfg.CatchupInterval > 0 {
		flow := a.bot.Flow()
		a.catchup, err = okta.NewCatchup(okta.CatchupConfig{
			Directory: dir, Admitter: flow, Types: hookTypes(cfg), Cursors: lockflow.Cursors{Store: a.store},
			Lookback: cfg.CatchupLookback, Interval: cfg.CatchupInterval, Logger: log,
			OnRecovered: a.metrics.catchupRecovered,
			OnPoll: func(r okta.PollReport) {
				a.metrics.catchupPolled(r)
				flow.CatchupPolled(context.WithoutCancel(ctx), r)
			},
		})
		if err != nil {
			return nil, fmt.Errorf("System Log catch-up: %w", err)
		}
	}
	hook, err := okta.NewHookHandler(okta.HookConfig{
		Secret: cfg.OktaHookSecret.value(), AuthHeader: cfg.OktaHookAuthHeader, Types: hookTypes(cfg), Admitter: a.bot.Flow(),
		Logger: log, OnDelivery: a.metrics.hookDelivery,
	})
	if err != nil {
		return nil, err
	}
	if cfg.OktaHookSecret == "" {
		log.Warn("OKTA_HOOK_SECRET is not set: /hooks/okta answers 404 and no automatic lock will happen from event hooks")
	}
	// Listen now, so a port already in use stops start-up with a clear error.
	if a.ln, err = net.Listen("tcp", cfg.ListenAddr); err != nil {
		return nil, fmt.Errorf("LISTEN_ADDR: %w", err)
	}
	a.server = &http.Server{
		Handler:           a.routes(hook),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       20 * time.Second,
		WriteTimeout:      20 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	built = true
	return a, nil
}

// hookTypes are every event type lockbot acts on, by either route.
func hookTypes(cfg config) []string {
	return append(append([]string(nil), cfg.AutoLockEvents...), cfg.ApproveEvents...)
}

func botConfig(cfg config) bot.Config {
	return bot.Config{
		BotToken: cfg.SlackBotToken.value(), AppToken: cfg.SlackAppToken.value(), APIURL: cfg.SlackAPIURL,
		Command: cfg.Command, ApprovalChannel: cfg.ApprovalChannel, NotifyChannel: cfg.NotifyChannel,
		Approvers: cfg.Approvers, ApproverGroup: cfg.ApproverGroup,
		Requesters: cfg.Requesters, RequesterGroup: cfg.RequesterGroup,
		RequiredApprovals: cfg.Required, ApprovalTTL: cfg.ApprovalTTL, AllowedDomains: cfg.AllowedDomains,
		DryRun: cfg.DryRun, LockDeadline: cfg.LockDeadline, SharedStore: cfg.DatabaseURL != "",
		Flow: lockflow.Config{
			AutoLockEvents: cfg.AutoLockEvents, ApproveEvents: cfg.ApproveEvents,
			LockMessage: cfg.LockMessage, LockPhone: cfg.LockPhone,
		},
	}
}

// routes is the HTTP surface the README documents.
func (a *app) routes(hook http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/hooks/okta", hook)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := a.store.Ping(ctx); err != nil {
			http.Error(w, "store: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		if ok, why := a.bot.Readiness(); !ok {
			http.Error(w, why, http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.metrics.registry, promhttp.HandlerOpts{}))
	return mux
}

// run serves HTTP, the Slack bot and the catch-up until ctx ends or one of
// them fails; then it shuts the HTTP server down gracefully.
func (a *app) run(ctx context.Context) error {
	a.log.Info("lockbot starting", "version", buildVersion(), "addr", a.ln.Addr().String(),
		"dry_run", a.cfg.DryRun, "state_dir", a.cfg.StateDir, "okta_directory", a.cfg.OktaOrgURL != "",
		"okta_hook", a.cfg.OktaHookSecret != "", "catchup_interval", a.cfg.CatchupInterval)
	if a.cfg.DryRun {
		a.log.Warn("LOCKBOT_DRY_RUN=true: no lock command will be sent")
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := a.server.Serve(a.ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return a.server.Shutdown(sctx)
	})
	g.Go(func() error { return a.bot.Run(gctx) })
	if a.catchup != nil {
		g.Go(func() error { return a.store.Lead(gctx, "okta-catchup", a.catchup.Run) })
	}
	return g.Wait()
}

// close releases the store and the port; it is safe on a half-built app.
func (a *app) close() {
	if a.ln != nil && a.server == nil {
		_ = a.ln.Close()
	}
	if a.store != nil {
		if err := a.store.Close(); err != nil {
			a.log.Error("closing the store failed", "err", err)
		}
	}
}
