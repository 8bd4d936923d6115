package approvals

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clicker is one racing goroutine's click.
type clicker func(ctx context.Context, e *Engine, id string, i int) (Request, error)

func approveAs(user func(i int) string) clicker {
	return func(ctx context.Context, e *Engine, id string, i int) (Request, error) {
		return e.Approve(ctx, id, user(i))
	}
}

// nthApprover names 50 distinct approvers.
func nthApprover(i int) string { return fmt.Sprintf("U_APPROVER_%02d", i) }

func TestRacingClicks(t *testing.T) {
	const goroutines, rounds = 50, 100
	everyone := make([]string, 0, goroutines+1)
	for i := range goroutines {
		everyone = append(everyone, nthApprover(i))
	}
	auth := approverSet(append(everyone, requester)...)

	tests := []struct {
		name     string
		required int
		click    clicker
		// the one terminal state the race may end in; "" means approved or denied
		final       State
		wantPending int // successful calls that see the request still pending
	}{
		{name: "approve only, 1 required", required: 1, final: StateApproved,
			click: approveAs(nthApprover)},
		{name: "approve only, 3 required", required: 3, final: StateApproved, wantPending: 2,
			click: approveAs(nthApprover)},
		{name: "same approver 50 times, 1 required", required: 1, final: StateApproved,
			click: approveAs(func(int) string { return nthApprover(0) })},
		{name: "approve and deny", required: 1,
			click: func(ctx context.Context, e *Engine, id string, i int) (Request, error) {
				if i%2 == 0 {
					return e.Deny(ctx, id, nthApprover(i), "no")
				}
				return e.Approve(ctx, id, nthApprover(i))
			}},
		{name: "approvers racing the requester's withdrawal", required: 1,
			click: func(ctx context.Context, e *Engine, id string, i int) (Request, error) {
				if i == goroutines/2 {
					return e.Deny(ctx, id, requester, "")
				}
				return e.Approve(ctx, id, nthApprover(i))
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range rounds {
				raceOnce(t, auth, tt.required, goroutines, tt.click, tt.final, tt.wantPending)
			}
		})
	}
}

// raceOnce lets n goroutines click one request at once and checks that
// exactly one of them decided it, and that the stored request agrees.
func raceOnce(t *testing.T, auth Authorizer, required, n int, click clicker, final State, wantPending int) {
	t.Helper()
	ctx := context.Background()
	e := NewEngine(NewMemoryStore(), auth)
	nr := manualRequest()
	nr.Required = required
	r, err := e.Open(ctx, nr)
	require.NoError(t, err)

	type result struct {
		r   Request
		err error
	}
	results := make([]result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			got, err := click(ctx, e, r.ID, i)
			results[i] = result{got, err}
		})
	}
	close(start)
	wg.Wait()

	var terminal []Request
	pending := 0
	for _, res := range results {
		switch {
		case res.err == nil && res.r.State == StatePending:
			pending++
		case res.err == nil:
			terminal = append(terminal, res.r)
		default:
			assert.True(t, errors.Is(res.err, ErrNotPending) || errors.Is(res.err, ErrAlreadyApproved),
				"unexpected refusal %v", res.err)
		}
	}
	require.Len(t, terminal, 1, "exactly one call decides the request")
	assert.Equal(t, wantPending, pending)
	if final != "" {
		assert.Equal(t, final, terminal[0].State)
	}
	stored, err := e.Get(ctx, r.ID)
	require.NoError(t, err)
	assert.Equal(t, terminal[0], stored, "the deciding call saw what was stored")
	if stored.State == StateApproved {
		assert.Len(t, stored.Approvals, required)
	}
}

// TestRacingClicksPersisted runs the same race on a persisted store, whose
// Update writes to disk while holding its lock.
func TestRacingClicksPersisted(t *testing.T) {
	store, err := OpenStore(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, store.Close()) })
	e := NewEngine(store, approverSet(approverA, approverB, outsider))
	ctx := context.Background()
	for range 5 {
		r, err := e.Open(ctx, manualRequest())
		require.NoError(t, err)
		var wins sync.Map
		var wg sync.WaitGroup
		for i, u := range []string{approverA, approverB, outsider, approverA, approverB, outsider} {
			wg.Go(func() {
				var got Request
				var err error
				if i%3 == 2 {
					got, err = e.Deny(ctx, r.ID, u, "")
				} else {
					got, err = e.Approve(ctx, r.ID, u)
				}
				if err == nil {
					wins.Store(i, got.State)
				}
			})
		}
		wg.Wait()
		n := 0
		wins.Range(func(any, any) bool { n++; return true })
		assert.Equal(t, 1, n, "exactly one decision")
	}
}
