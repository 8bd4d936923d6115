package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/approvals/postgres"
	"github.com/lockbot/lockbot/approvals/postgres/postgrestest"
)

// shortLife are timings for the orphan tests: a replica is dead a second
// after its last heartbeat.
func shortLife() postgres.Options {
	o := testOptions()
	o.Heartbeat, o.DeadAfter, o.OrphanCheck = 100*time.Millisecond, time.Second, 50*time.Millisecond
	return o
}

// runWork runs s.Work in the background; stop ends it and waits.
func runWork(t *testing.T, s approvals.Store, handlers map[string]approvals.Handler) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Work(ctx, handlers) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Error("Work did not return after its context ended")
		}
	}
	t.Cleanup(stop)
	return stop
}

// TestOrphanAfterPartition cuts a replica off from the database while it
// runs a task: it cannot write its heartbeat, so it cancels the task,
// and once its heartbeat is DeadAfter old the other replica runs it; the
// two runs never overlap.
func TestOrphanAfterPartition(t *testing.T) {
	url := postgrestest.URL(t)
	opts := shortLife()
	p, through := newProxy(t, url)
	cutOff := open(t, through, opts)
	other := open(t, url, opts)
	defer other.Close()

	started := make(chan time.Time, 4)
	cancelled := make(chan time.Time, 4)
	stopCutOff := runWork(t, cutOff, map[string]approvals.Handler{"lock": {Workers: 1, Timeout: time.Hour, Run: func(ctx context.Context, _ approvals.TaskRun) error {
		started <- time.Now()
		<-ctx.Done()
		cancelled <- time.Now()
		return ctx.Err()
	}}})
	require.NoError(t, other.Update(t.Context(), func(tx approvals.Tx) error {
		return tx.Enqueue(approvals.Task{Kind: "lock", Key: "jane"})
	}))
	within(t, started, 10*time.Second, "the replica to be cut off takes the task")
	ran := make(chan time.Time, 4)
	stopOther := runWork(t, other, map[string]approvals.Handler{"lock": {Workers: 1, Run: func(context.Context, approvals.TaskRun) error {
		ran <- time.Now()
		return nil
	}}})

	cut := time.Now()
	p.Cut()
	stoppedAt := within(t, cancelled, 2*opts.DeadAfter, "the cut-off replica cancels its task")
	ranAt := within(t, ran, 2*opts.DeadAfter+time.Second, "the other replica runs it")
	assert.True(t, stoppedAt.Before(ranAt), "the cut-off replica stopped the task before the other started it")
	took := ranAt.Sub(cut)
	t.Logf("cut-off task cancelled after %s; run again after %s", stoppedAt.Sub(cut).Round(time.Millisecond), took.Round(time.Millisecond))
	assert.GreaterOrEqual(t, took, opts.DeadAfter-2*opts.Heartbeat, "not before the replica counts as dead")
	assert.Less(t, took, opts.DeadAfter+time.Second, "and soon after")

	info, err := other.Describe(t.Context())
	require.NoError(t, err)
	alive := map[string]bool{}
	for _, r := range info.Replicas {
		alive[r.ID] = r.Alive
	}
	assert.Equal(t, map[string]bool{cutOff.ID(): false, other.ID(): true}, alive)
	stopOther()
	require.NoError(t, cutOff.Close())
	stopCutOff()
}

// TestLongTaskNotTaken: a task that runs for longer than DeadAfter on a
// replica that is alive is left to it.
func TestLongTaskNotTaken(t *testing.T) {
	url := postgrestest.URL(t)
	opts := shortLife()
	s1 := open(t, url, opts)
	defer s1.Close()
	s2 := open(t, url, opts)
	defer s2.Close()
	release := make(chan struct{})
	runs := make(chan string, 4)
	handler := func(who string) map[string]approvals.Handler {
		return map[string]approvals.Handler{"long": {Workers: 1, Timeout: time.Hour, Run: func(ctx context.Context, _ approvals.TaskRun) error {
			runs <- who
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return errors.New("cancelled")
			}
		}}}
	}
	stop1 := runWork(t, s1, handler("s1"))
	require.NoError(t, s1.Update(t.Context(), func(tx approvals.Tx) error {
		return tx.Enqueue(approvals.Task{Kind: "long", Key: "1"})
	}))
	var first string
	select {
	case first = <-runs:
	case <-time.After(10 * time.Second):
		t.Fatal("the task did not start")
	}
	stop2 := runWork(t, s2, handler("s2"))
	// Two DeadAfters and many sweeps later, nobody else has run it.
	select {
	case who := <-runs:
		t.Fatalf("the task ran again on %s while %s still ran it", who, first)
	case <-time.After(2 * opts.DeadAfter):
	}
	close(release)
	stop1()
	stop2()
}
