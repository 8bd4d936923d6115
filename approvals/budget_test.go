package approvals_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/approvals/sqlite"
	"github.com/lockbot/lockbot/approvals/sqlite/sqlitetest"
)

// TestBudgetIsSharedByEveryHolder: two replicas' budgets of 7,200 an hour
// (2 a second, bursts of 2) on one store hand out, between them, a burst
// of two and then one token every 500 ms, as one budget would.
func TestBudgetIsSharedByEveryHolder(t *testing.T) {
	s, err := sqlite.Open(t.Context(), sqlitetest.Dir(t), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	now := func() time.Time { return t0 }
	a, err := approvals.NewBudget(s, "kandji", 7200, now)
	require.NoError(t, err)
	b, err := approvals.NewBudget(s, "kandji", 7200, now)
	require.NoError(t, err)

	var mu sync.Mutex
	var waits []time.Duration
	var wg sync.WaitGroup
	for i := range 10 {
		budget := a
		if i%2 == 1 {
			budget = b
		}
		wg.Go(func() {
			w, err := budget.Reserve(context.Background())
			assert.NoError(t, err)
			mu.Lock()
			waits = append(waits, w)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(waits)
	ms := time.Millisecond
	assert.Equal(t, []time.Duration{0, 0, 500 * ms, 1000 * ms, 1500 * ms, 2000 * ms, 2500 * ms, 3000 * ms, 3500 * ms, 4000 * ms}, waits)
}

// TestBudgetRefillsWhileIdle: after a quiet spell the burst is back, and
// no more than the burst.
func TestBudgetRefillsWhileIdle(t *testing.T) {
	s, err := sqlite.Open(t.Context(), sqlitetest.Dir(t), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	b, err := approvals.NewBudget(s, "kandji", 3600*3, func() time.Time { return at }) // 3 a second
	require.NoError(t, err)
	reserve := func() time.Duration {
		w, err := b.Reserve(t.Context())
		require.NoError(t, err)
		return w
	}
	for range 3 {
		assert.Zero(t, reserve(), "the burst")
	}
	assert.Equal(t, time.Second/3, reserve())
	at = at.Add(time.Hour)
	for range 3 {
		assert.Zero(t, reserve(), "the burst is back after an idle hour")
	}
	assert.Equal(t, time.Second/3, reserve(), "and no more than the burst")
}

func TestBudgetRefusesNoRate(t *testing.T) {
	_, err := approvals.NewBudget(nil, "kandji", 0, nil)
	assert.ErrorIs(t, err, approvals.ErrInvalid)
}
