package kandji

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/lockbot/lockbot/kandji/kandjitest"
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
			l := newLimiter(tt.perHour, nil)
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

// TestConcurrentBurstNeverExceedsRate fires 200 calls at once at a fake whose cap matches the
// client's budget (150/s, bursts of 150) and checks at the fake that nothing was throttled and
// that the arrival times fit the token bucket exactly. It runs on synctest's clock with the fake
// served in-process, so scheduling delays on a busy machine cannot bunch arrivals together.
func TestConcurrentBurstNeverExceedsRate(t *testing.T) {
	const perSecond, calls = 150, 200
	fake := kandjitest.NewServer(kandjitest.WithDevices(kandjitest.Device{ID: "mac-1", UserEmail: "alice@corp.example"}))
	t.Cleanup(fake.Close)
	synctest.Test(t, func(t *testing.T) {
		fake.SetRateCap(perSecond, perSecond)
		c, err := New(fake.URL(), fake.Token(), WithRatePerHour(perSecond*3600),
			WithRetries(1, time.Millisecond, time.Millisecond),
			WithHTTPClient(&http.Client{Transport: handlerTransport{fake.Handler()}}))
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

		assert.Zero(t, fake.Throttled())
		reqs := fake.Requests()
		require.Len(t, reqs, calls)
		at := make([]time.Time, len(reqs))
		for i, r := range reqs {
			at[i] = r.At
		}
		slices.SortFunc(at, time.Time.Compare)
		burst := c.limiter.bucket.Burst()
		require.Equal(t, perSecond, burst)
		for i := range at {
			for j := i; j < len(at); j++ {
				// 1e-6 of a token absorbs the rate package rounding waits to whole nanoseconds.
				allowed := float64(burst) + perSecond*at[j].Sub(at[i]).Seconds() + 1e-6
				require.LessOrEqual(t, float64(j-i+1), allowed,
					"requests %d..%d arrived within %v", i, j, at[j].Sub(at[i]))
			}
		}
		// The 50 beyond the burst took a token each, 1/150 s apart.
		assert.InDelta(t, time.Duration(calls-burst)*time.Second/perSecond, at[len(at)-1].Sub(start), float64(time.Microsecond))
	})
}

// TestInteractiveGoesFirst queues bulk and background callers behind a bulk caller that holds the
// gate, then interactive ones: every interactive caller is served before the queued bulk ones and
// those before the background ones, one token period apart, so no caller holds a reservation into
// the future.
func TestInteractiveGoesFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(3600, nil) // one token a second, burst 1
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
		l := newLimiter(3600, nil)
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

// scheduleBudget is a shared budget that hands out waits from a script,
// as another replica's spending would make it, and can refuse.
type scheduleBudget struct {
	mu    sync.Mutex
	waits []time.Duration
	calls int
	err   error
}

func (b *scheduleBudget) Reserve(context.Context) (time.Duration, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	if b.err != nil {
		return 0, b.err
	}
	if len(b.waits) == 0 {
		return 0, nil
	}
	w := b.waits[0]
	b.waits = b.waits[1:]
	return w, nil
}

// TestSharedBudgetReplacesTheLocalBucket: with a shared budget the client
// waits what the budget says (another replica spent the rest), not what
// its own bucket would allow, keeps its priorities, and a budget that
// cannot be read fails the call without it reaching Kandji.
func TestSharedBudgetReplacesTheLocalBucket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		budget := &scheduleBudget{waits: []time.Duration{0, 3 * time.Second, 0}}
		l := newLimiter(3600*1000, budget) // its own bucket would never wait
		start := time.Now()
		for _, want := range []time.Duration{0, 3 * time.Second, 3 * time.Second} {
			require.NoError(t, l.wait(t.Context(), Bulk))
			assert.Equal(t, want, time.Since(start))
		}
		assert.Equal(t, 3, budget.calls, "one token each")

		// While the holder waits out its reservation, an interactive caller
		// goes before a bulk one that came first.
		budget.waits = []time.Duration{time.Second}
		var mu sync.Mutex
		var order []string
		var wg sync.WaitGroup
		for _, c := range []struct {
			name string
			p    Priority
		}{{"holder", Bulk}, {"bulk", Bulk}, {"interactive", Interactive}} {
			wg.Go(func() {
				assert.NoError(t, l.wait(t.Context(), c.p))
				mu.Lock()
				order = append(order, c.name)
				mu.Unlock()
			})
			synctest.Wait()
		}
		wg.Wait()
		assert.Equal(t, []string{"holder", "interactive", "bulk"}, order)

		budget.err = errors.New("connection refused")
		err := l.wait(t.Context(), Interactive)
		require.ErrorContains(t, err, "shared rate budget: connection refused")
	})
}

// TestClientWithoutItsBudgetSendsNothing: a lock whose token cannot be had
// fails with the reason, and Kandji sees no request.
func TestClientWithoutItsBudgetSendsNothing(t *testing.T) {
	c, fake := fakeTenant(t, []kandjitest.Device{{ID: "d1", Name: "Mac", Platform: "Mac", UserEmail: "bob@corp.com"}},
		WithSharedBudget(&scheduleBudget{err: errors.New("database unreachable")}))
	_, err := c.Lock(t.Context(), "d1", LockOptions{})
	require.ErrorContains(t, err, "shared rate budget: database unreachable")
	assert.Empty(t, fake.Requests())
}
