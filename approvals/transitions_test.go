package approvals

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixture is a stored request in some state, built without the engine so
// that every state can be the starting point of every operation.
type fixture struct {
	name  string
	state State
	edit  func(r *Request) // optional changes on top of the state
}

func (f fixture) request(now time.Time) Request {
	r := Request{
		ID: "REQ" + string(f.state), Target: target, Requester: requester, Reason: "stolen",
		Origin: Origin{Kind: OriginManual}, Devices: sampleDevices(),
		Created: now, Expires: now.Add(10 * time.Minute), Required: 1, State: f.state,
	}
	if f.state != StatePending {
		r.Approvals = []Approval{{By: approverA, At: now}}
		r.DecidedBy, r.DecidedAt = approverA, now
	}
	if f.edit != nil {
		f.edit(&r)
	}
	return r
}

// The columns of the table: who acts.
var actors = [4]string{requester, approverA, approverB, outsider}

// want is the result of one (state, actor, operation): the exact error, and
// the state stored afterwards.
type want struct {
	err   error
	state State
}

// same gives every actor the same result, for operations without an actor.
func same(w want) [4]want { return [4]want{w, w, w, w} }

// decided is what approve and deny give on a request that is no longer
// pending: the requester still cannot approve their own, an outsider is
// still no approver, and every other attempt finds it decided.
func decided(s State, op string) [4]want {
	first := want{ErrNotPending, s}
	if op == "approve" {
		first = want{ErrSelfApproval, s}
	}
	return [4]want{first, {ErrNotPending, s}, {ErrNotPending, s}, {ErrNotApprover, s}}
}

func TestTransitionTable(t *testing.T) {
	pending := fixture{name: "pending", state: StatePending}
	overdue := fixture{name: "pending past deadline", state: StatePending,
		edit: func(r *Request) { r.Expires = r.Created.Add(-time.Minute) }}
	halfway := fixture{name: "pending, A approved, 2 required", state: StatePending,
		edit: func(r *Request) { r.Required, r.Approvals = 2, []Approval{{By: approverA, At: r.Created}} }}
	fixtures := []fixture{pending, overdue, halfway}
	for _, s := range []State{StateApproved, StateExecuting, StateDone, StateFailed, StateDenied, StateExpired, StateCancelled} {
		fixtures = append(fixtures, fixture{name: string(s), state: s})
	}

	notPending := func(s State) [4]want { return same(want{ErrNotPending, s}) }
	unchanged := func(s State) [4]want { return same(want{nil, s}) }
	table := map[string]map[string][4]want{
		pending.name: {
			"approve": {{ErrSelfApproval, StatePending}, {nil, StateApproved}, {nil, StateApproved}, {ErrNotApprover, StatePending}},
			"deny":    {{nil, StateCancelled}, {nil, StateDenied}, {nil, StateDenied}, {ErrNotApprover, StatePending}},
			"begin":   notPending(StatePending),
			"finish":  notPending(StatePending),
			"expire":  unchanged(StateExpired),
		},
		overdue.name: {
			"approve": {{ErrSelfApproval, StatePending}, {ErrExpired, StateExpired}, {ErrExpired, StateExpired}, {ErrNotApprover, StatePending}},
			"deny":    {{ErrExpired, StateExpired}, {ErrExpired, StateExpired}, {ErrExpired, StateExpired}, {ErrNotApprover, StatePending}},
			"begin":   notPending(StatePending),
			"finish":  notPending(StatePending),
			"expire":  unchanged(StateExpired),
		},
		halfway.name: {
			"approve": {{ErrSelfApproval, StatePending}, {ErrAlreadyApproved, StatePending}, {nil, StateApproved}, {ErrNotApprover, StatePending}},
			"deny":    {{nil, StateCancelled}, {nil, StateDenied}, {nil, StateDenied}, {ErrNotApprover, StatePending}},
			"begin":   notPending(StatePending),
			"finish":  notPending(StatePending),
			"expire":  unchanged(StateExpired),
		},
		"approved": {
			"approve": decided(StateApproved, "approve"), "deny": decided(StateApproved, "deny"),
			"begin": unchanged(StateExecuting), "finish": notPending(StateApproved), "expire": unchanged(StateApproved),
		},
		"executing": {
			"approve": decided(StateExecuting, "approve"), "deny": decided(StateExecuting, "deny"),
			"begin": notPending(StateExecuting), "finish": unchanged(StateDone), "expire": unchanged(StateExecuting),
		},
	}
	for _, s := range []State{StateDone, StateFailed, StateDenied, StateExpired, StateCancelled} {
		table[string(s)] = map[string][4]want{
			"approve": decided(s, "approve"), "deny": decided(s, "deny"),
			"begin": notPending(s), "finish": notPending(s), "expire": unchanged(s),
		}
	}

	ops := []string{"approve", "deny", "begin", "finish", "expire"}
	for _, fx := range fixtures {
		for _, op := range ops {
			wants, ok := table[fx.name][op]
			require.True(t, ok, "table misses (%s, %s)", fx.name, op)
			for i, actor := range actors {
				w := wants[i]
				t.Run(fmt.Sprintf("%s/%s/%s", fx.name, op, actor), func(t *testing.T) {
					runTransition(t, fx, op, actor, w)
				})
			}
		}
	}
}

// runTransition performs one cell of the table and checks the error, the
// returned and stored request, the expiry callback and the journal.
func runTransition(t *testing.T, fx fixture, op, actor string, w want) {
	ctx := context.Background()
	clock := newFakeClock()
	store := NewMemoryStore()
	journal, records := testJournal(t)
	var expiredIDs []string
	e := NewEngine(store, testApprovers(), WithClock(clock.Now), WithJournal(journal),
		WithOnExpire(func(r Request) { expiredIDs = append(expiredIDs, r.ID) }))
	before := fx.request(clock.Now())
	require.NoError(t, store.Create(ctx, before))

	becameExpired := w.state == StateExpired && before.State != StateExpired
	var got Request
	var err error
	switch op {
	case "approve":
		got, err = e.Approve(ctx, before.ID, actor)
	case "deny":
		got, err = e.Deny(ctx, before.ID, actor, "not needed")
	case "begin":
		got, err = e.Begin(ctx, before.ID)
	case "finish":
		got, err = e.Finish(ctx, before.ID, true, "2 of 2 devices locked")
	case "expire":
		clock.Advance(time.Hour)
		var expired []Request
		expired, err = e.ExpireDue(ctx)
		if becameExpired {
			require.Len(t, expired, 1)
			got = expired[0]
		} else {
			assert.Empty(t, expired)
		}
	}

	stored, gerr := store.Get(ctx, before.ID)
	require.NoError(t, gerr)
	if w.err != nil {
		require.ErrorIs(t, err, w.err, "%s(%s) by %s", op, fx.name, actor)
		assert.Equal(t, w.err, err, "a refusal is the bare sentinel")
		assert.Zero(t, got, "a refusal returns no request")
		if w.state == before.State {
			assert.Equal(t, before, stored, "a refusal changes nothing")
		}
	} else {
		require.NoError(t, err, "%s(%s) by %s", op, fx.name, actor)
		if op != "expire" || becameExpired {
			assert.Equal(t, stored, got, "the returned request is the stored one")
		}
	}
	assert.Equal(t, w.state, stored.State)

	if becameExpired {
		assert.Equal(t, []string{before.ID}, expiredIDs, "OnExpire called once")
		assert.Equal(t, SystemActor, stored.DecidedBy)
	} else {
		assert.Empty(t, expiredIDs)
	}

	recs := records()
	kinds := make([]Kind, len(recs))
	for i, r := range recs {
		kinds[i] = r.Kind
	}
	if (op == "approve" || op == "deny") && w.err != nil {
		require.NotEmpty(t, recs)
		last := recs[len(recs)-1]
		assert.Equal(t, KindRefused, last.Kind)
		assert.Equal(t, actor, last.Actor)
		assert.Equal(t, refusalReason(w.err), last.Details["reason"])
		assert.Equal(t, op, last.Details["op"])
	}
	if becameExpired {
		assert.Contains(t, kinds, KindExpired)
	}
}

func TestDecisionFields(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	e := NewEngine(NewMemoryStore(), testApprovers(), WithClock(clock.Now))

	r, err := e.Open(ctx, manualRequest())
	require.NoError(t, err)
	clock.Advance(time.Minute)
	r, err = e.Approve(ctx, r.ID, approverA)
	require.NoError(t, err)
	assert.Equal(t, []Approval{{By: approverA, At: clock.Now()}}, r.Approvals)
	assert.Equal(t, approverA, r.DecidedBy)
	assert.Equal(t, clock.Now(), r.DecidedAt)

	r, err = e.Begin(ctx, r.ID)
	require.NoError(t, err)
	r, err = e.Finish(ctx, r.ID, false, "1 of 2 devices locked")
	require.NoError(t, err)
	assert.Equal(t, StateFailed, r.State)
	assert.Equal(t, "1 of 2 devices locked", r.Outcome)

	denied, err := e.Open(ctx, manualRequest())
	require.NoError(t, err)
	denied, err = e.Deny(ctx, denied.ID, approverB, "wrong person")
	require.NoError(t, err)
	assert.Equal(t, "denied: wrong person", denied.Outcome)
	assert.Equal(t, approverB, denied.DecidedBy)

	cancelled, err := e.Open(ctx, manualRequest())
	require.NoError(t, err)
	cancelled, err = e.Deny(ctx, cancelled.ID, requester, "")
	require.NoError(t, err)
	assert.Equal(t, "cancelled by the requester", cancelled.Outcome)
}
