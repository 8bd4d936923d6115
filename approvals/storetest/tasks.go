package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals"
)

// hang bounds every wait of the suite: a store that never delivers fails
// the test instead of hanging it. It is not a speed requirement.
const hang = 20 * time.Second

// work runs s.Work with handlers until the returned stop is called (or
// the test ends) and checks that Work returned cleanly.
func work(t *testing.T, s approvals.Store, handlers map[string]approvals.Handler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Work(ctx, handlers) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				assert.NoError(t, err, "Work returns nil once stopped")
			case <-time.After(hang):
				t.Error("Work did not return after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitFor receives from ch or fails the test.
func waitFor[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(hang):
		t.Fatal("nothing arrived")
		var zero T
		return zero
	}
}

func testTasks(t *testing.T, h Harness) {
	s := open(t, h)
	// Enqueued before anyone works: waits for a worker.
	update(t, s, func(tx approvals.Tx) error { return tx.Enqueue(approvals.Task{Kind: "job", Key: "early"}) })
	var mu sync.Mutex
	runs := map[string]int{}
	done := make(chan string, 100)
	stop := work(t, s, map[string]approvals.Handler{
		"job": {Workers: 2, Run: func(_ context.Context, r approvals.TaskRun) error {
			mu.Lock()
			runs[r.Key]++
			mu.Unlock()
			assert.Equal(t, 1, r.Attempt)
			done <- r.Key
			return nil
		}},
	})
	assert.Equal(t, "early", waitFor(t, done))
	// The same task enqueued many times, at once, runs once.
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			assert.NoError(t, s.Update(context.Background(), func(tx approvals.Tx) error {
				return tx.Enqueue(approvals.Task{Kind: "job", Key: "dup"})
			}))
		})
	}
	wg.Wait()
	assert.Equal(t, "dup", waitFor(t, done))
	update(t, s, func(tx approvals.Tx) error {
		for i := range 20 {
			require.NoError(t, tx.Enqueue(approvals.Task{Kind: "job", Key: fmt.Sprintf("many-%d", i)}))
		}
		return tx.Enqueue(approvals.Task{Kind: "job", Key: "dup"})
	})
	for range 20 {
		waitFor(t, done)
	}
	stop()
	mu.Lock()
	defer mu.Unlock()
	for k, n := range runs {
		assert.Equal(t, 1, n, "task %s ran %d times", k, n)
	}
	assert.Len(t, runs, 22)
}

func testTaskRetries(t *testing.T, h Harness) {
	s := open(t, h)
	attempts := make(chan int, 10)
	snoozed := make(chan int, 10)
	var laterRuns atomic.Int32
	stop := work(t, s, map[string]approvals.Handler{
		"flaky": {Workers: 1, Run: func(_ context.Context, r approvals.TaskRun) error {
			attempts <- r.Attempt
			if r.Attempt < 2 {
				return errors.New("kandji 503")
			}
			return nil
		}},
		"later": {Workers: 1, Run: func(_ context.Context, _ approvals.TaskRun) error {
			n := int(laterRuns.Add(1))
			snoozed <- n
			if n < 3 {
				return approvals.RetryAfter(10*time.Millisecond, errors.New("not yet"))
			}
			return nil
		}},
	})
	update(t, s, func(tx approvals.Tx) error {
		require.NoError(t, tx.Enqueue(approvals.Task{Kind: "flaky", Key: "1"}))
		return tx.Enqueue(approvals.Task{Kind: "later", Key: "1"})
	})
	assert.Equal(t, 1, waitFor(t, attempts))
	assert.Equal(t, 2, waitFor(t, attempts), "a failed task runs again")
	for i := 1; i <= 3; i++ {
		assert.Equal(t, i, waitFor(t, snoozed), "RetryAfter runs it again")
	}
	stop()
	assert.Empty(t, attempts, "a task that succeeded is not run again")
	assert.Empty(t, snoozed)
}

func testTaskSchedule(t *testing.T, h Harness) {
	s := open(t, h)
	type run struct {
		key string
		at  time.Time
	}
	ran := make(chan run, 4)
	stop := work(t, s, map[string]approvals.Handler{"timed": {Workers: 2, Run: func(_ context.Context, r approvals.TaskRun) error {
		ran <- run{r.Key, time.Now()}
		return nil
	}}})
	at := time.Now().Add(400 * time.Millisecond)
	update(t, s, func(tx approvals.Tx) error {
		require.NoError(t, tx.Enqueue(approvals.Task{Kind: "timed", Key: "later", At: at}))
		return tx.Enqueue(approvals.Task{Kind: "timed", Key: "now"})
	})
	first := waitFor(t, ran)
	assert.Equal(t, "now", first.key, "a task without a time runs first")
	second := waitFor(t, ran)
	assert.Equal(t, "later", second.key)
	assert.False(t, second.at.Before(at), "a scheduled task never runs before its time")
	stop()
}

func testTaskConcurrency(t *testing.T, h Harness) {
	s := open(t, h)
	var running, peak atomic.Int32
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	stop := work(t, s, map[string]approvals.Handler{"slow": {Workers: 3, Run: func(ctx context.Context, _ approvals.TaskRun) error {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		started <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}}})
	update(t, s, func(tx approvals.Tx) error {
		for i := range 6 {
			require.NoError(t, tx.Enqueue(approvals.Task{Kind: "slow", Key: fmt.Sprint(i)}))
		}
		return nil
	})
	for range 3 {
		waitFor(t, started)
	}
	close(release)
	for range 3 {
		waitFor(t, started)
	}
	stop()
	assert.LessOrEqual(t, peak.Load(), int32(3), "never more tasks at once than the handler's Workers")
	assert.Equal(t, int32(3), peak.Load(), "and the workers are used")
}

func testLead(t *testing.T, h Harness) {
	s := open(t, h)
	ctx, cancel := context.WithCancel(t.Context())
	started := make(chan struct{}, 10)
	done := make(chan error, 1)
	go func() {
		done <- s.Lead(ctx, "catchup", func(ctx context.Context) error {
			started <- struct{}{}
			<-ctx.Done()
			return nil
		})
	}()
	waitFor(t, started)
	cancel()
	assert.NoError(t, waitFor(t, done), "Lead returns once its context ends")
}

// testTasksReopen: a task enqueued and not yet run when the store closed
// runs after it opens again.
func testTasksReopen(t *testing.T, h Harness) {
	s := h.New(t)
	update(t, s, func(tx approvals.Tx) error { return tx.Enqueue(approvals.Task{Kind: "survivor", Key: "1"}) })
	s = h.Reopen(t, s)
	t.Cleanup(func() { _ = s.Close() })
	ran := make(chan string, 2)
	stop := work(t, s, map[string]approvals.Handler{"survivor": {Workers: 1, Run: func(_ context.Context, r approvals.TaskRun) error {
		ran <- r.Key
		return nil
	}}})
	assert.Equal(t, "1", waitFor(t, ran))
	stop()
}
