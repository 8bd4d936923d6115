package kandji

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// retryPolicy bounds how often and how patiently a call is repeated.
type retryPolicy struct {
	maxAttempts int
	base, max   time.Duration
	sleep       func(ctx context.Context, d time.Duration) error
}

// delay is the wait before retry number attempt (1 for the first retry): exponential from base,
// capped at max, with half of it random so that many callers failing together spread out. A
// Retry-After from the server is a floor, still capped at max so a hostile or buggy header cannot
// park a call for hours.
func (p retryPolicy) delay(attempt int, retryAfter time.Duration) time.Duration {
	d := p.base
	for i := 1; i < attempt && d < p.max; i++ {
		d *= 2
	}
	d = min(d, p.max)
	half := d / 2
	d = half + rand.N(d-half+1)
	return min(max(d, retryAfter), p.max)
}

// retryableStatus lists the answers after which a new attempt may succeed.
func retryableStatus(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500 && status <= 599
}

// maxRetryAfter keeps absurd Retry-After values from overflowing time.Duration.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads a Retry-After header in either form HTTP allows (delay-seconds or an
// HTTP-date). Anything else, or a date in the past, means no hint (0).
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	secs, err := strconv.ParseUint(v, 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange), err == nil && secs > uint64(maxRetryAfter/time.Second):
		return maxRetryAfter
	case err == nil:
		return time.Duration(secs) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	return min(max(t.Sub(now), 0), maxRetryAfter)
}

// sleepContext waits d or until ctx is done, whichever comes first.
func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
