package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals"
)

// The actors of the decision tests. The requester is an approver too, so
// every self-approval test proves that being one does not help.
const (
	requester = "U_REQ"
	approverA = "U_APPROVER_A"
	approverB = "U_APPROVER_B"
	outsider  = "U_OUTSIDER"
)

// clock is a settable clock for the engine.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// approverSet authorises exactly users.
func approverSet(users ...string) approvals.Authorizer {
	set := map[string]bool{}
	for _, u := range users {
		set[u] = true
	}
	return approvals.AuthorizerFunc(func(ctx context.Context, id string) (bool, error) { return set[id], ctx.Err() })
}

// newEngine is an engine over s whose clock the test moves.
func newEngine(s approvals.Store) (*approvals.Engine, *clock) {
	c := &clock{t: time.Now().UTC().Truncate(time.Millisecond)}
	return approvals.NewEngine(s, approverSet(requester, approverA, approverB),
		approvals.WithClock(c.Now), approvals.WithCardChannel("CAPPROVE"), approvals.WithLockDeadline(time.Hour)), c
}

// openRequest opens a request needing required approvals for ttl.
func openRequest(t *testing.T, e *approvals.Engine, required int, ttl time.Duration) approvals.Request {
	t.Helper()
	r, err := e.Open(t.Context(), approvals.NewRequest{
		Person: approvals.Person{Email: "jane@corp.com"}, Requester: requester, Reason: "laptop stolen",
		Devices:  []approvals.Device{{ID: "dev-1", Name: "Jane's Mac", Serial: "C02JANE", Platform: "Mac"}},
		Required: required, TTL: ttl, Priority: approvals.PriorityInteractive,
	})
	require.NoError(t, err)
	return r
}

// want is the result of one decision: the exact error and the state after.
type want struct {
	err   error
	state approvals.State
}

func testDecisions(t *testing.T, h Harness) {
	type setup struct {
		name     string
		required int
		prepare  func(t *testing.T, e *approvals.Engine, c *clock, id string)
	}
	pending := setup{name: "pending", required: 1}
	overdue := setup{name: "pending past deadline", required: 1, prepare: func(_ *testing.T, _ *approvals.Engine, c *clock, _ string) {
		c.Advance(time.Hour)
	}}
	halfway := setup{name: "pending, A approved, 2 required", required: 2, prepare: func(t *testing.T, e *approvals.Engine, _ *clock, id string) {
		_, err := e.Approve(t.Context(), id, approverA)
		require.NoError(t, err)
	}}
	decidedBy := func(name string, do func(ctx context.Context, e *approvals.Engine, id string) error) setup {
		return setup{name: name, required: 1, prepare: func(t *testing.T, e *approvals.Engine, _ *clock, id string) {
			require.NoError(t, do(t.Context(), e, id))
		}}
	}
	approved := decidedBy("approved", func(ctx context.Context, e *approvals.Engine, id string) error {
		_, err := e.Approve(ctx, id, approverA)
		return err
	})
	denied := decidedBy("denied", func(ctx context.Context, e *approvals.Engine, id string) error {
		_, err := e.Deny(ctx, id, approverA, "")
		return err
	})
	cancelled := decidedBy("cancelled", func(ctx context.Context, e *approvals.Engine, id string) error {
		_, err := e.Deny(ctx, id, requester, "")
		return err
	})
	expired := setup{name: "expired", required: 1, prepare: func(t *testing.T, e *approvals.Engine, c *clock, id string) {
		c.Advance(time.Hour)
		require.NoError(t, e.Expire(t.Context(), id))
	}}
	actors := [4]string{requester, approverA, approverB, outsider}
	decided := func(s approvals.State) map[string][4]want {
		return map[string][4]want{
			"approve": {{approvals.ErrSelfApproval, s}, {approvals.ErrNotPending, s}, {approvals.ErrNotPending, s}, {approvals.ErrNotApprover, s}},
			"deny":    {{approvals.ErrNotPending, s}, {approvals.ErrNotPending, s}, {approvals.ErrNotPending, s}, {approvals.ErrNotApprover, s}},
		}
	}
	P, A, D, X, C := approvals.StatePending, approvals.StateApproved, approvals.StateDenied, approvals.StateExpired, approvals.StateCancelled
	table := []struct {
		setup
		ops map[string][4]want
	}{
		{pending, map[string][4]want{
			"approve": {{approvals.ErrSelfApproval, P}, {nil, A}, {nil, A}, {approvals.ErrNotApprover, P}},
			"deny":    {{nil, C}, {nil, D}, {nil, D}, {approvals.ErrNotApprover, P}},
		}},
		{overdue, map[string][4]want{
			"approve": {{approvals.ErrSelfApproval, P}, {approvals.ErrExpired, X}, {approvals.ErrExpired, X}, {approvals.ErrNotApprover, P}},
			"deny":    {{approvals.ErrExpired, X}, {approvals.ErrExpired, X}, {approvals.ErrExpired, X}, {approvals.ErrNotApprover, P}},
		}},
		{halfway, map[string][4]want{
			"approve": {{approvals.ErrSelfApproval, P}, {approvals.ErrAlreadyApproved, P}, {nil, A}, {approvals.ErrNotApprover, P}},
			"deny":    {{nil, C}, {nil, D}, {nil, D}, {approvals.ErrNotApprover, P}},
		}},
		{approved, decided(A)},
		{denied, decided(D)},
		{cancelled, decided(C)},
		{expired, decided(X)},
	}
	// One store for the table: each case has its own request and engine.
	s := open(t, h)
	for _, row := range table {
		for op, wants := range row.ops {
			for i, actor := range actors {
				t.Run(row.name+"/"+op+"/"+actor, func(t *testing.T) {
					e, c := newEngine(s)
					r := openRequest(t, e, row.required, 10*time.Minute)
					if row.prepare != nil {
						row.prepare(t, e, c, r.ID)
					}
					var err error
					if op == "approve" {
						_, err = e.Approve(t.Context(), r.ID, actor)
					} else {
						_, err = e.Deny(t.Context(), r.ID, actor, "")
					}
					w := wants[i]
					if w.err == nil {
						require.NoError(t, err)
					} else {
						require.True(t, errors.Is(err, w.err), "want %v, got %v", w.err, err)
					}
					got, err := e.Get(t.Context(), r.ID)
					require.NoError(t, err)
					assert.Equal(t, w.state, got.State)
					locks := countLocksOf(t, s, r.ID)
					if got.State == approvals.StateApproved {
						assert.Equal(t, 1, locks, "an approved request has exactly one lock job")
						assert.NotEmpty(t, got.LockID)
					} else {
						assert.Zero(t, locks, "only an approval opens a lock job")
					}
					if w.err != nil {
						assertRefusalJournaled(t, s, r.ID, actor)
					}
				})
			}
		}
	}
	t.Run("not found", func(t *testing.T) {
		e, _ := newEngine(s)
		_, err := e.Approve(t.Context(), "nope", approverA)
		assert.ErrorIs(t, err, approvals.ErrNotFound)
	})
	t.Run("approval opens the lock and journals it", func(t *testing.T) {
		e, _ := newEngine(s)
		r := openRequest(t, e, 1, time.Minute)
		got, err := e.Approve(t.Context(), r.ID, approverB)
		require.NoError(t, err)
		var job approvals.LockJob
		view(t, s, func(tx approvals.Tx) error {
			job, err = tx.Lock(got.LockID)
			return err
		})
		assert.Equal(t, r.ID, job.RequestID)
		assert.Equal(t, approverB, job.Approver, "the approver who completed the quorum gets the PINs")
		assert.Equal(t, approvals.JobQueued, job.State)
		assert.Equal(t, r.Devices, job.Shown)
		assert.Equal(t, approvals.PostKey(approvals.PostRequest, r.ID), job.Report, "a manual lock shows on its request's card")
		view(t, s, func(tx approvals.Tx) error {
			recs, err := tx.Records(approvals.Filter{ID: r.ID}, 0)
			require.NoError(t, err)
			var kinds []approvals.Kind
			for _, rec := range recs {
				kinds = append(kinds, rec.Kind)
			}
			assert.Equal(t, []approvals.Kind{approvals.KindOpened, approvals.KindApproval, approvals.KindApproved}, kinds)
			card, err := tx.Post(approvals.PostKey(approvals.PostRequest, r.ID))
			require.NoError(t, err)
			assert.Greater(t, card.Rev, 1, "the card is posted, then edited after the decision")
			assert.Equal(t, "CAPPROVE", card.Channel)
			return nil
		})
	})
}

// countLocksOf counts the lock jobs carrying out request id.
func countLocksOf(t *testing.T, s approvals.Store, id string) int {
	t.Helper()
	var n int
	view(t, s, func(tx approvals.Tx) error {
		var err error
		n, err = tx.CountLocks(approvals.LockQuery{RequestID: id})
		return err
	})
	return n
}

// assertRefusalJournaled checks the last record about id is user's refusal.
func assertRefusalJournaled(t *testing.T, s approvals.Store, id, user string) {
	t.Helper()
	view(t, s, func(tx approvals.Tx) error {
		recs, err := tx.Records(approvals.Filter{ID: id, Kinds: []approvals.Kind{approvals.KindRefused}}, 0)
		require.NoError(t, err)
		if assert.NotEmpty(t, recs, "a refused click is journaled") {
			last := recs[len(recs)-1]
			assert.Equal(t, user, last.Actor)
			assert.NotEmpty(t, last.Details["reason"])
			assert.NotEqual(t, "error", last.Details["reason"], "a refusal is journaled by its short name")
		}
		return nil
	})
}

// testDecisionRaces clicks at once: one request, many clicks, exactly one
// outcome and at most one lock.
func testDecisionRaces(t *testing.T, h Harness) {
	t.Run("two approvers, one needed", func(t *testing.T) {
		s := open(t, h)
		e, _ := newEngine(s)
		r := openRequest(t, e, 1, time.Hour)
		var mu sync.Mutex
		wins := 0
		var wg sync.WaitGroup
		for _, who := range []string{approverA, approverB, approverA, approverB, approverA, approverB} {
			wg.Go(func() {
				got, err := e.Approve(context.Background(), r.ID, who)
				if err == nil && got.State == approvals.StateApproved {
					mu.Lock()
					wins++
					mu.Unlock()
				}
				if err != nil {
					assert.True(t, errors.Is(err, approvals.ErrNotPending) || errors.Is(err, approvals.ErrAlreadyApproved), "%v", err)
				}
			})
		}
		wg.Wait()
		assert.Equal(t, 1, wins, "exactly one click completes the quorum")
		assert.Equal(t, 1, countLocksOf(t, s, r.ID), "and one lock job is opened")
	})
	t.Run("approve and deny at once", func(t *testing.T) {
		s := open(t, h)
		for range 5 {
			e, _ := newEngine(s)
			r := openRequest(t, e, 1, time.Hour)
			var wg sync.WaitGroup
			wg.Go(func() { _, _ = e.Approve(context.Background(), r.ID, approverA) })
			wg.Go(func() { _, _ = e.Deny(context.Background(), r.ID, approverB, "") })
			wg.Wait()
			got, err := e.Get(t.Context(), r.ID)
			require.NoError(t, err)
			switch got.State {
			case approvals.StateApproved:
				assert.Equal(t, 1, countLocksOf(t, s, r.ID))
			case approvals.StateDenied:
				assert.Zero(t, countLocksOf(t, s, r.ID), "a denied request locks nothing")
			default:
				t.Fatalf("state %s after approve and deny", got.State)
			}
		}
	})
	t.Run("two needed, both at once", func(t *testing.T) {
		s := open(t, h)
		e, _ := newEngine(s)
		r := openRequest(t, e, 2, time.Hour)
		var wg sync.WaitGroup
		wg.Go(func() { _, _ = e.Approve(context.Background(), r.ID, approverA) })
		wg.Go(func() { _, _ = e.Approve(context.Background(), r.ID, approverB) })
		wg.Wait()
		got, err := e.Get(t.Context(), r.ID)
		require.NoError(t, err)
		assert.Equal(t, approvals.StateApproved, got.State)
		assert.Len(t, got.Approvals, 2)
		assert.Equal(t, 1, countLocksOf(t, s, r.ID))
	})
}

// testExpiry checks the expiry task: it runs at the deadline, in its own
// task, and expires a request nobody decided.
func testExpiry(t *testing.T, h Harness) {
	t.Run("early expiry waits", func(t *testing.T) {
		s := open(t, h)
		e, _ := newEngine(s)
		r := openRequest(t, e, 1, 10*time.Minute)
		err := e.Expire(t.Context(), r.ID)
		d, ok := approvals.RetryDelay(err)
		require.True(t, ok, "before its deadline a request asks to be expired later: %v", err)
		assert.Equal(t, 10*time.Minute, d)
		got, err := e.Get(t.Context(), r.ID)
		require.NoError(t, err)
		assert.Equal(t, approvals.StatePending, got.State)
	})
	t.Run("a decided request stays decided", func(t *testing.T) {
		s := open(t, h)
		e, c := newEngine(s)
		r := openRequest(t, e, 1, 10*time.Minute)
		_, err := e.Deny(t.Context(), r.ID, approverA, "wrong person")
		require.NoError(t, err)
		c.Advance(time.Hour)
		require.NoError(t, e.Expire(t.Context(), r.ID))
		got, err := e.Get(t.Context(), r.ID)
		require.NoError(t, err)
		assert.Equal(t, approvals.StateDenied, got.State)
		assert.Equal(t, "denied: wrong person", got.Outcome)
	})
	t.Run("the expiry task runs at the deadline", func(t *testing.T) {
		s := open(t, h)
		e := approvals.NewEngine(s, approverSet(approverA), approvals.WithCardChannel("CAPPROVE"))
		r := openRequest(t, e, 1, 300*time.Millisecond)
		stop := work(t, s, map[string]approvals.Handler{approvals.TaskExpire: {Workers: 1, Run: func(ctx context.Context, run approvals.TaskRun) error {
			return e.Expire(ctx, run.Key)
		}}})
		defer stop()
		require.Eventually(t, func() bool {
			got, err := e.Get(t.Context(), r.ID)
			return err == nil && got.State == approvals.StateExpired
		}, 15*time.Second, 10*time.Millisecond, "nobody decided, so it expires")
		got, err := e.Get(t.Context(), r.ID)
		require.NoError(t, err)
		assert.False(t, got.DecidedAt.Before(r.Expires), "not before its deadline")
		view(t, s, func(tx approvals.Tx) error {
			recs, err := tx.Records(approvals.Filter{ID: r.ID, Kinds: []approvals.Kind{approvals.KindExpired}}, 0)
			require.NoError(t, err)
			assert.Len(t, recs, 1)
			card, err := tx.Post(approvals.PostKey(approvals.PostRequest, r.ID))
			require.NoError(t, err)
			assert.Equal(t, 2, card.Rev, "the card is edited to say so")
			return nil
		})
	})
}
