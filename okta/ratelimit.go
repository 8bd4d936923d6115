package okta

import (
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// rateLimitError is an ErrUnavailable that says how long Okta asked us to
// wait, so the catch-up loop can sleep until the reset instead of spinning.
type rateLimitError struct {
	wait time.Duration // 0 when the headers did not say
	msg  string
}

func (e *rateLimitError) Error() string { return e.msg }

// Unwrap makes errors.Is(err, ErrUnavailable) hold.
func (e *rateLimitError) Unwrap() error { return ErrUnavailable }

// callTraceKey keys the per-call callTrace in a request context.
type callTraceKey struct{}

// callTrace records what the server answered during one SDK call. The SDK
// drops the response on a 429 (it returns a bare "too many requests"), so
// this is the only way to learn the status and the reset time.
type callTrace struct {
	mu     sync.Mutex
	status int
	wait   time.Duration
}

func (t *callTrace) observe(resp *http.Response) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.status = resp.StatusCode
	if resp.StatusCode == http.StatusTooManyRequests {
		t.wait = rateLimitWait(resp.Header)
	}
}

func (t *callTrace) result() (status int, wait time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.status, t.wait
}

// rateLimitWait is how long until Okta's rate-limit window resets, measured
// on the server's clock (X-Rate-Limit-Reset − Date, +1 s as the SDK does) so
// our clock's skew does not matter. 0 means unknown.
func rateLimitWait(h http.Header) time.Duration {
	date, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		return 0
	}
	reset, err := strconv.ParseInt(h.Get("X-Rate-Limit-Reset"), 10, 64)
	if err != nil {
		return 0
	}
	d := time.Unix(reset, 0).Sub(date) + time.Second
	if d <= 0 {
		return 0
	}
	return d
}

// traceTransport reports each response to the callTrace in its request's
// context, if any, and logs 429s, which the SDK otherwise retries silently.
type traceTransport struct {
	base   http.RoundTripper // nil means http.DefaultTransport
	logger *slog.Logger
}

// RoundTrip implements http.RoundTripper.
func (t *traceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if resp == nil {
		return resp, err
	}
	if tr, ok := req.Context().Value(callTraceKey{}).(*callTrace); ok {
		tr.observe(resp)
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		t.logger.Warn("okta API rate limited", "path", req.URL.Path, "reset_in", rateLimitWait(resp.Header),
			"remaining", resp.Header.Get("X-Rate-Limit-Remaining"), "limit", resp.Header.Get("X-Rate-Limit-Limit"))
	}
	return resp, err
}
