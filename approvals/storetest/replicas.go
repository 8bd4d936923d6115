package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals"
)

// overlapWatch is how long the lease test watches a second replica that
// wants a held lease, to see it does not get it too. It is an
// observation, not a wait for anything: a correct store passes whatever
// its length.
const overlapWatch = 300 * time.Millisecond

// share is h.Share with the second handle closed at the end of the test.
func share(t *testing.T, h Harness, s approvals.Store) approvals.Store {
	t.Helper()
	s2 := h.Share(t, s)
	t.Cleanup(func() { _ = s2.Close() })
	return s2
}

// takeover is how long a lease or an orphaned task may take to move.
func (h Harness) takeover() time.Duration {
	if h.Takeover > 0 {
		return h.Takeover
	}
	return hang
}

// testReplicas runs the races of the single-store tests across two
// handles on one store, as two replicas of lockbot would, and checks what
// only replicas have: tasks shared out, leases handed over, and the tasks
// of a replica that died.
func testReplicas(t *testing.T, h Harness) {
	t.Run("DecisionRaces", func(t *testing.T) { testReplicaDecisions(t, h) })
	t.Run("AdmitAndOnceRaces", func(t *testing.T) { testReplicaAdmit(t, h) })
	t.Run("NoLostUpdates", func(t *testing.T) { testReplicaNoLostUpdates(t, h) })
	t.Run("NoLostCreates", func(t *testing.T) { testReplicaNoLostCreates(t, h) })
	t.Run("Serialize", func(t *testing.T) { testReplicaSerialize(t, h) })
	t.Run("TasksRunOnce", func(t *testing.T) { testReplicaTasks(t, h) })
	t.Run("LeadExclusive", func(t *testing.T) { testReplicaLead(t, h) })
	t.Run("DeadReplicaTask", func(t *testing.T) { testReplicaDeadTask(t, h) })
}

func testReplicaDecisions(t *testing.T, h Harness) {
	s1 := open(t, h)
	s2 := share(t, h, s1)
	e1, _ := newEngine(s1)
	e2, _ := newEngine(s2)
	engines := [2]*approvals.Engine{e1, e2}
	t.Run("two approvers, one needed", func(t *testing.T) {
		r := openRequest(t, e1, 1, time.Hour)
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i, who := range []string{approverA, approverB, approverA, approverB, approverB, approverA} {
			e := engines[i%2]
			wg.Go(func() {
				got, err := e.Approve(context.Background(), r.ID, who)
				if err == nil && got.State == approvals.StateApproved {
					wins.Add(1)
				}
				if err != nil {
					assert.True(t, errors.Is(err, approvals.ErrNotPending) || errors.Is(err, approvals.ErrAlreadyApproved), "%v", err)
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int32(1), wins.Load(), "exactly one click completes the quorum, whichever replica took it")
		assert.Equal(t, 1, countLocksOf(t, s1, r.ID), "and one lock job is opened")
		assert.Equal(t, 1, countLocksOf(t, s2, r.ID), "which both replicas see")
	})
	t.Run("approve and deny at once", func(t *testing.T) {
		for round := range 6 {
			approver, denier := engines[round%2], engines[(round+1)%2]
			r := openRequest(t, e1, 1, time.Hour)
			var wg sync.WaitGroup
			wg.Go(func() { _, _ = approver.Approve(context.Background(), r.ID, approverA) })
			wg.Go(func() { _, _ = denier.Deny(context.Background(), r.ID, approverB, "") })
			wg.Wait()
			got, err := e2.Get(t.Context(), r.ID)
			require.NoError(t, err)
			switch got.State {
			case approvals.StateApproved:
				assert.Equal(t, 1, countLocksOf(t, s1, r.ID))
			case approvals.StateDenied:
				assert.Zero(t, countLocksOf(t, s1, r.ID), "a denied request locks nothing")
			default:
				t.Fatalf("state %s after approve and deny", got.State)
			}
		}
	})
	t.Run("two needed, both at once", func(t *testing.T) {
		r := openRequest(t, e2, 2, time.Hour)
		var wg sync.WaitGroup
		wg.Go(func() { _, _ = e1.Approve(context.Background(), r.ID, approverA) })
		wg.Go(func() { _, _ = e2.Approve(context.Background(), r.ID, approverB) })
		wg.Wait()
		got, err := e1.Get(t.Context(), r.ID)
		require.NoError(t, err)
		assert.Equal(t, approvals.StateApproved, got.State)
		assert.Len(t, got.Approvals, 2, "neither approval is lost")
		assert.Equal(t, 1, countLocksOf(t, s2, r.ID))
	})
}

func testReplicaAdmit(t *testing.T, h Harness) {
	s1 := open(t, h)
	s2 := share(t, h, s1)
	stores := [2]approvals.Store{s1, s2}
	for round := range 4 {
		id := fmt.Sprintf("okta:shared-%d", round)
		env := fmt.Sprintf("env-shared-%d", round)
		var admitted, seen atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			s := stores[i%2]
			wg.Go(func() {
				err := s.Update(context.Background(), func(tx approvals.Tx) error {
					first, err := tx.AdmitTrigger(approvals.Trigger{ID: id, Admitted: epoch})
					if err != nil {
						return err
					}
					if first {
						admitted.Add(1)
					}
					first, err = tx.Once(env, time.Now().Add(time.Hour))
					if first {
						seen.Add(1)
					}
					return err
				})
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		assert.Equal(t, int32(1), admitted.Load(), "replicas admitting one event at once admit it once")
		assert.Equal(t, int32(1), seen.Load(), "replicas given one delivery at once see it new once")
	}
}

func testReplicaNoLostUpdates(t *testing.T, h Harness) {
	s1 := open(t, h)
	concurrentApprovals(t, []approvals.Store{s1, share(t, h, s1)}, 8, "every change of every replica is kept")
}

// testReplicaNoLostCreates counts in a value that does not exist yet:
// Updates that find a record missing and create it must run one after the
// other too, or the first counts would be lost.
func testReplicaNoLostCreates(t *testing.T, h Harness) {
	s1 := open(t, h)
	s2 := share(t, h, s1)
	stores := [2]approvals.Store{s1, s2}
	const writers, each = 8, 5
	var wg sync.WaitGroup
	for w := range writers {
		s := stores[w%2]
		wg.Go(func() {
			for range each {
				assert.NoError(t, s.Update(context.Background(), func(tx approvals.Tx) error {
					n := 0
					v, err := tx.Value("counter")
					switch {
					case errors.Is(err, approvals.ErrNotFound):
					case err != nil:
						return err
					default:
						if n, err = strconv.Atoi(string(v)); err != nil {
							return err
						}
					}
					return tx.SetValue("counter", []byte(strconv.Itoa(n+1)))
				}))
			}
		})
	}
	wg.Wait()
	view(t, s2, func(tx approvals.Tx) error {
		v, err := tx.Value("counter")
		require.NoError(t, err)
		assert.Equal(t, strconv.Itoa(writers*each), string(v), "every count is kept, the first ones too")
		return nil
	})
}

// testReplicaSerialize has replicas open "a lock for this person unless
// one is open", serialized on the person: exactly one is opened.
func testReplicaSerialize(t *testing.T, h Harness) {
	s1 := open(t, h)
	s2 := share(t, h, s1)
	stores := [2]approvals.Store{s1, s2}
	key := approvals.EmailKey("jane@corp.com")
	var wg sync.WaitGroup
	for i := range 8 {
		s := stores[i%2]
		wg.Go(func() {
			assert.NoError(t, s.Update(context.Background(), func(tx approvals.Tx) error {
				if err := tx.Serialize("person:" + key); err != nil {
					return err
				}
				n, err := tx.CountLocks(approvals.LockQuery{Key: key, Live: true})
				if err != nil || n > 0 {
					return err
				}
				return tx.PutLock(sampleLock(fmt.Sprintf("L%d", i), "jane@corp.com", i))
			}))
		})
	}
	wg.Wait()
	view(t, s1, func(tx approvals.Tx) error {
		n, err := tx.CountLocks(approvals.LockQuery{Key: key})
		require.NoError(t, err)
		assert.Equal(t, 1, n, "one lock, whichever replica opened it")
		return nil
	})
}

// testReplicaTasks works one queue from two replicas: each task runs
// once, and both replicas take some. A task holds its worker until both
// replicas have started one, so the first replica's two workers cannot
// take them all.
func testReplicaTasks(t *testing.T, h Harness) {
	s1 := open(t, h)
	s2 := share(t, h, s1)
	var mu sync.Mutex
	runs := map[string]int{}
	by := map[int]int{}
	both := make(chan struct{})
	var bothOnce sync.Once
	done := make(chan string, 64)
	handler := func(replica int) map[string]approvals.Handler {
		return map[string]approvals.Handler{"shared": {Workers: 2, Run: func(ctx context.Context, r approvals.TaskRun) error {
			mu.Lock()
			runs[r.Key]++
			by[replica]++
			n := len(by)
			mu.Unlock()
			if n == 2 {
				bothOnce.Do(func() { close(both) })
			}
			select {
			case <-both:
			case <-ctx.Done():
			case <-time.After(hang):
			}
			done <- r.Key
			return nil
		}}}
	}
	stop1 := work(t, s1, handler(1))
	stop2 := work(t, s2, handler(2))
	const n = 20
	update(t, s1, func(tx approvals.Tx) error {
		for i := range n {
			require.NoError(t, tx.Enqueue(approvals.Task{Kind: "shared", Key: fmt.Sprint(i)}))
		}
		return nil
	})
	// The same tasks enqueued again by the other replica are the same
	// tasks.
	update(t, s2, func(tx approvals.Tx) error {
		for i := range n {
			require.NoError(t, tx.Enqueue(approvals.Task{Kind: "shared", Key: fmt.Sprint(i)}))
		}
		return nil
	})
	for range n {
		waitFor(t, done)
	}
	stop1()
	stop2()
	mu.Lock()
	defer mu.Unlock()
	assert.Len(t, runs, n)
	for k, c := range runs {
		assert.Equal(t, 1, c, "task %s ran %d times", k, c)
	}
	assert.Positive(t, by[1], "the first replica took tasks")
	assert.Positive(t, by[2], "the second replica took tasks")
}

// testReplicaLead has two replicas want one lease: one leads at a time,
// and when the holder's Lead ends the other takes over within the
// store's takeover time, back and forth.
func testReplicaLead(t *testing.T, h Harness) {
	s1 := open(t, h)
	s2 := share(t, h, s1)
	stores := map[int]approvals.Store{1: s1, 2: s2}
	var holders atomic.Int32
	var overlap atomic.Bool
	started := make(chan int, 16)
	lead := func(who int) (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- stores[who].Lead(ctx, "exclusive", func(ctx context.Context) error {
				if holders.Add(1) > 1 {
					overlap.Store(true)
				}
				started <- who
				<-ctx.Done()
				holders.Add(-1)
				return nil
			})
		}()
		var once sync.Once
		stop = func() {
			once.Do(func() {
				cancel()
				assert.NoError(t, waitFor(t, done), "Lead returns once its context ends")
			})
		}
		t.Cleanup(stop)
		return stop
	}
	stops := map[int]func(){1: lead(1), 2: lead(2)}
	holder := waitFor(t, started)
	for range 3 {
		select {
		case who := <-started:
			t.Fatalf("replica %d took the lease while replica %d held it", who, holder)
		case <-time.After(overlapWatch):
		}
		other := 3 - holder
		at := time.Now()
		stops[holder]()
		select {
		case who := <-started:
			require.Equal(t, other, who)
			t.Logf("the lease moved to replica %d in %s", who, time.Since(at).Round(time.Millisecond))
		case <-time.After(h.takeover()):
			t.Fatalf("the lease did not move to replica %d within %s of replica %d stopping", other, h.takeover(), holder)
		}
		stops[holder] = lead(holder) // wants it back
		holder = other
	}
	assert.False(t, overlap.Load(), "two replicas led at once")
}

// testReplicaDeadTask closes a replica under its running task, without
// stopping its Work first, as a crash would: the other replica runs the
// task.
func testReplicaDeadTask(t *testing.T, h Harness) {
	s1 := open(t, h)
	dying := share(t, h, s1)
	cut := make(chan string, 4)
	work(t, dying, map[string]approvals.Handler{"orphan": {Workers: 1, Run: func(ctx context.Context, r approvals.TaskRun) error {
		cut <- r.Key
		<-ctx.Done()
		return ctx.Err()
	}}})
	update(t, s1, func(tx approvals.Tx) error { return tx.Enqueue(approvals.Task{Kind: "orphan", Key: "1"}) })
	require.Equal(t, "1", waitFor(t, cut), "the dying replica has the task")
	ran := make(chan string, 4)
	stop := work(t, s1, map[string]approvals.Handler{"orphan": {Workers: 1, Run: func(_ context.Context, r approvals.TaskRun) error {
		ran <- r.Key
		return nil
	}}})
	at := time.Now()
	require.NoError(t, dying.Close())
	select {
	case k := <-ran:
		assert.Equal(t, "1", k)
		t.Logf("the task moved in %s", time.Since(at).Round(time.Millisecond))
	case <-time.After(h.takeover()):
		t.Fatalf("the task of the closed replica did not run on the other within %s", h.takeover())
	}
	stop()
}
