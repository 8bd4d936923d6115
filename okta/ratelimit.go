package okta

import (
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// callTraceKey keys the per-call callTrace in a request context.
type callTraceKey struct{}

// callTrace records what the server answered during one SDK call. The SDK
// drops the response on a 429 (it returns a bare "too many requests"), so
// this is the only way to learn the status and the reset time; it also
// keeps the server's Date, Okta's clock rather than ours.
type callTrace struct {
	mu     sync.Mutex
	status int
	wait   time.Duration
	date   time.Time
}

func (t *callTrace) observe(resp *http.Response) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.status = resp.StatusCode
	t.wait = 0
	if resp.StatusCode == http.StatusTooManyRequests {
		t.wait = rateLimitWait(resp.Header)
	}
	t.date, _ = http.ParseTime(resp.Header.Get("Date"))
}

// result is what the last response of the call said.
func (t *callTrace) result() (status int, wait time.Duration, date time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.status, t.wait, t.date
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
