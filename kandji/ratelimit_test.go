package kandji

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"
)

func TestBurstIsOneSecondsWorth(t *testing.T) {
	tests := []struct {
		perHour, wantBurst int
	}{
		{1, 1},
		{3600, 1},
		{3601, 2},
		{DefaultRatePerHour, 2},
		{10000, 3},
		{36000, 10},
		{3600 * 50, 50},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.perHour), func(t *testing.T) {
			l := newLimiter(tt.perHour)
			assert.Equal(t, tt.wantBurst, l.bucket.Burst())
			assert.InDelta(t, float64(tt.perHour)/3600, float64(l.bucket.Limit()), 1e-9)
		})
	}
}

func TestPriorityFromContext(t *testing.T) {
	tests := []struct {
		ctx  context.Context
		want Priority
	}{
		{context.Background(), Interactive},
		{WithPriority(context.Background(), Bulk), Bulk},
		{WithPriority(context.Background(), Interactive), Interactive},
		{WithPriority(context.Background(), Background), Background},
		{WithPriority(context.Background(), Priority(7)), Background},
		{WithPriority(context.Background(), Priority(-1)), Interactive},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, priorityFrom(tt.ctx))
	}
	assert.Equal(t, "interactive", Interactive.String())
	assert.Equal(t, "bulk", Bulk.String())
	assert.Equal(t, "background", Background.String())
}

// arrivals is an in-memory transport that answers every request at once
// and records when each arrived. Without a network between the client and
// the "server", arrival times are exactly when the client let a request
// go, so in a synctest bubble they can be checked against the token bucket
// with no tolerance for jitter.
type arrivals struct {
	mu sync.Mutex
	at []time.Time
}

func (a *arrivals) RoundTrip(r *http.Request) (*http.Response, error) {
	a.mu.Lock()
	a.at = append(a.at, time.Now())
	a.mu.Unlock()
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(`{"device_id":"mac-1","platform":"Mac"}`)), Request: r}, nil
}

// TestConcurrentBurstNeverExceedsRate fires 200 calls at once, half of
// them bulk, through the real client and checks, at the transport, that
// every window of arrivals fits the token bucket: at most burst plus rate
// times the window. Time is synctest's, so the check is exact whatever
// the machine's load.
func TestConcurrentBurstNeverExceedsRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const perSecond, calls = 150, 200
		tr := &arrivals{}
		c, err := New("https://acme.api.kandji.io", "token", WithRatePerHour(perSecond*3600),
			WithHTTPClient(&http.Client{Transport: tr}), WithRetries(1, time.Millisecond, time.Millisecond))
		require.NoError(t, err)
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, calls)
		for i := range calls {
			wg.Go(func() {
				ctx := t.Context()
				if i%2 == 0 {
					ctx = WithPriority(ctx, Bulk)
				}
				_, err := c.Device(ctx, "mac-1")
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		burst := c.limiter.bucket.Burst()
		require.Equal(t, perSecond, burst)
		at := slices.SortedFunc(slices.Values(tr.at), time.Time.Compare)
		require.Len(t, at, calls)
		// x/time/rate truncates each wait to whole nanoseconds, so a token
		// may come up to 1 ns early; a microsecond covers that and nothing else.
		const rounding = time.Microsecond
		for i := range at {
			for j := i; j < len(at); j++ {
				allowed := float64(burst) + perSecond*(at[j].Sub(at[i])+rounding).Seconds()
				require.LessOrEqual(t, float64(j-i+1), allowed,
					"requests %d..%d arrived within %v", i, j, at[j].Sub(at[i]))
			}
		}
		// The budget is spent, not wasted: the last of the 50 calls beyond
		// the burst leaves when its token is due, not later.
		assert.InDelta(t, float64(time.Duration(calls-burst)*time.Second/perSecond), float64(at[len(at)-1].Sub(start)), float64(time.Millisecond))
	})
}

// TestInteractiveGoesFirst queues bulk and background callers behind a bulk caller that holds the
// gate, then interactive ones: every interactive caller is served before the queued bulk ones and
// those before the background ones, one token period apart, so no caller holds a reservation into
// the future.
func TestInteractiveGoesFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(3600) // one token a second, burst 1
		require.NoError(t, l.wait(t.Context(), Bulk), "takes the initial token")
		start := time.Now()

		var mu sync.Mutex
		var order []string
		var served []time.Duration
		var wg sync.WaitGroup
		queue := func(name string, p Priority) {
			wg.Go(func() {
				assert.NoError(t, l.wait(t.Context(), p))
				mu.Lock()
				defer mu.Unlock()
				order = append(order, name)
				served = append(served, time.Since(start))
			})
			synctest.Wait() // name is now blocked, in the gate or on the bucket
		}
		queue("bulk-1", Bulk) // holds the gate, waiting for the next token
		queue("sweep-1", Background)
		queue("bulk-2", Bulk)
		queue("bulk-3", Bulk)
		queue("interactive-1", Interactive)
		queue("sweep-2", Background)
		queue("interactive-2", Interactive)
		queue("bulk-4", Bulk)
		queue("interactive-3", Interactive)
		wg.Wait()

		assert.Equal(t, []string{"bulk-1", "interactive-1", "interactive-2", "interactive-3", "bulk-2", "bulk-3", "bulk-4", "sweep-1", "sweep-2"}, order,
			"interactive before bulk before background, first come first served within each")
		want := make([]time.Duration, len(order))
		for i := range want {
			want[i] = time.Duration(i+1) * time.Second
		}
		assert.Equal(t, want, served)
	})
}

func TestLimiterContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(3600)
		require.NoError(t, l.wait(t.Context(), Interactive))
		start := time.Now()

		// The gate holder waits on the bucket; a second caller waits at the gate.
		holderCtx, cancelHolder := context.WithCancel(t.Context())
		queuedCtx, cancelQueued := context.WithCancel(t.Context())
		var holderErr, queuedErr error
		var wg sync.WaitGroup
		wg.Go(func() { holderErr = l.wait(holderCtx, Bulk) })
		synctest.Wait()
		wg.Go(func() { queuedErr = l.wait(queuedCtx, Interactive) })
		synctest.Wait()

		cancelQueued()
		synctest.Wait()
		cancelHolder()
		wg.Wait()
		assert.ErrorIs(t, queuedErr, context.Canceled)
		assert.ErrorIs(t, holderErr, context.Canceled)
		assert.Zero(t, time.Since(start), "both returned at once")

		// The gate was handed back and the cancelled reservation returned its token.
		require.NoError(t, l.wait(t.Context(), Bulk))
		assert.Equal(t, time.Second, time.Since(start))

		// A deadline before the next token fails at once, without waiting.
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		err := l.wait(ctx, Interactive)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, time.Second, time.Since(start))
	})
}

// TestLimiterHandOffRacesCancel cancels a queued caller at the moment the gate is handed to it:
// whichever way the race goes, the gate must not be lost.
func TestLimiterHandOffRacesCancel(t *testing.T) {
	for range 50 {
		synctest.Test(t, func(t *testing.T) {
			l := &limiter{bucket: rate.NewLimiter(rate.Inf, 1)}
			require.NoError(t, l.enter(t.Context(), Interactive))
			ctx, cancel := context.WithCancel(t.Context())
			var wg sync.WaitGroup
			wg.Go(func() { _ = l.wait(ctx, Bulk) })
			synctest.Wait()
			cancel()
			l.leave()
			wg.Wait()
			require.NoError(t, l.wait(t.Context(), Interactive), "the gate is free again")
			assert.False(t, l.busy)
		})
	}
}

// TestEveryAttemptTakesAToken gives the client one token an hour: the retry after a 503 needs a
// second token, which cannot come before the deadline, so the call fails after one request.
func TestEveryAttemptTakesAToken(t *testing.T) {
	c, fake := macTenant(t, WithRatePerHour(1))
	fake.FailNext(1, 503, 0)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err := c.Device(ctx, "mac-1")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var apiErr *Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 503, apiErr.StatusCode)
	assert.Len(t, fake.Requests(), 1)
}

// TestRateWaitEndsWithContext cancels a call that waits for a token an hour away.
func TestRateWaitEndsWithContext(t *testing.T) {
	c, fake := macTenant(t, WithRatePerHour(1))
	_, err := c.Device(t.Context(), "mac-1")
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() {
		_, err := c.Device(ctx, "mac-1")
		done <- err
	}()
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	assert.Len(t, fake.Requests(), 1)
}
