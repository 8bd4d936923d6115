package kandji

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Option configures a Client at construction.
type Option func(*config)

// config collects the options before New validates them as a whole.
type config struct {
	httpClient  *http.Client
	ratePerHour int
	userAgent   string
	retry       retryPolicy
	logger      *slog.Logger
	notify      func(method, route string, status int)
	shared      Budget
}

func defaultConfig() config {
	return config{
		httpClient:  &http.Client{Timeout: defaultHTTPTimeout},
		ratePerHour: DefaultRatePerHour,
		userAgent:   "lockbot",
		retry: retryPolicy{
			maxAttempts: 5,
			base:        250 * time.Millisecond,
			max:         30 * time.Second,
			sleep:       sleepContext,
		},
		logger: slog.New(slog.DiscardHandler),
		notify: func(string, string, int) {},
	}
}

func (c *config) validate() error {
	var errs []error
	if c.ratePerHour < 1 {
		errs = append(errs, errors.New("kandji: rate must be at least 1 request per hour"))
	}
	if c.retry.maxAttempts < 1 {
		errs = append(errs, errors.New("kandji: retries need at least 1 attempt"))
	}
	if c.retry.base <= 0 || c.retry.max < c.retry.base {
		errs = append(errs, errors.New("kandji: retry delays need 0 < base <= max"))
	}
	if c.userAgent == "" || strings.ContainsAny(c.userAgent, "\r\n") {
		errs = append(errs, errors.New("kandji: user agent must be one non-empty line"))
	}
	return errors.Join(errs...)
}

// WithHTTPClient sets the http.Client used for every attempt (default: one with a 30 s timeout).
// The Client works on a copy that never follows redirects, so the caller's client is not changed.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) {
		if hc != nil {
			c.httpClient = hc
		}
	}
}

// WithRatePerHour sets how many requests an hour this Client may spend (default
// DefaultRatePerHour). Bursts are at most one second's worth: max(1, ceil(n/3600)).
func WithRatePerHour(n int) Option {
	return func(c *config) { c.ratePerHour = n }
}

// Budget is a rate budget shared with other processes (see
// WithSharedBudget). Reserve takes one token and says how long to wait
// before spending it.
type Budget interface {
	Reserve(ctx context.Context) (time.Duration, error)
}

// WithSharedBudget makes every call take its token from b instead of this
// Client's own bucket, so replicas sharing b spend one rate limit between
// them. Priorities still order the calls of this Client. A call whose token
// cannot be had (b's store is down) fails without reaching Kandji.
func WithSharedBudget(b Budget) Option {
	return func(c *config) { c.shared = b }
}

// WithUserAgent sets the User-Agent header (default "lockbot"), so Kandji's logs can tell which
// lockbot version sent a request.
func WithUserAgent(ua string) Option {
	return func(c *config) { c.userAgent = strings.TrimSpace(ua) }
}

// WithRetries sets how many attempts a retryable call may make in all, and the capped exponential
// backoff between them (defaults: 5 attempts, 250 ms base, 30 s max).
func WithRetries(maxAttempts int, base, maxDelay time.Duration) Option {
	return func(c *config) {
		c.retry.maxAttempts = maxAttempts
		c.retry.base = base
		c.retry.max = maxDelay
	}
}

// WithLogger sets where the Client reports retries and oddities (default: discarded). Tokens,
// PINs and response bodies are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithRetryNotify registers fn, called before each retry so the caller can count retries in its
// metrics. route is templated (e.g. "/devices/{id}/action/lock"); status is 0 for a transport
// error. fn must be quick and safe for concurrent use.
func WithRetryNotify(fn func(method, route string, status int)) Option {
	return func(c *config) {
		if fn != nil {
			c.notify = fn
		}
	}
}

// withSleep replaces the wait between attempts; tests use it to see the delays without waiting.
func withSleep(fn func(ctx context.Context, d time.Duration) error) Option {
	return func(c *config) { c.retry.sleep = fn }
}
