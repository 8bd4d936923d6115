package sqlite

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// waiters is how many are queued at the gate.
func (g *writeGate) waiters() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.urgent) + len(g.normal)
}

// TestWriteGateServesUrgentFirstThenInOrder: once the holder is done, an
// urgent writer goes first, then the others in the order they came; one
// that gave up is skipped.
func TestWriteGateServesUrgentFirstThenInOrder(t *testing.T) {
	var g writeGate
	require.NoError(t, g.acquire(t.Context(), false))

	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	queue := func(ctx context.Context, name string, urgent bool) {
		n := g.waiters()
		wg.Go(func() {
			if err := g.acquire(ctx, urgent); err != nil {
				mu.Lock()
				order = append(order, name+":"+err.Error())
				mu.Unlock()
				return
			}
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			g.release()
		})
		require.Eventually(t, func() bool { return g.waiters() == n+1 }, 20*time.Second, time.Millisecond, "%s is queued", name)
	}
	gone, cancel := context.WithCancel(t.Context())
	queue(t.Context(), "task-1", false)
	queue(gone, "gave-up", false)
	queue(t.Context(), "task-2", false)
	queue(t.Context(), "hook", true)
	cancel()
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(order) == 1 && g.waiters() == 3
	}, 20*time.Second, time.Millisecond, "the one that gave up left the queue")
	g.release()
	wg.Wait()
	assert.Equal(t, []string{"gave-up:context canceled", "hook", "task-1", "task-2"}, order)

	// Free again: the next writer passes at once.
	require.NoError(t, g.acquire(t.Context(), false))
	g.release()
}

// TestWriteGateGrantWhileGivingUpPassesItOn: a waiter granted the gate at
// the moment its context ends hands it to the next one, so the gate is
// never lost.
func TestWriteGateGrantWhileGivingUpPassesItOn(t *testing.T) {
	for range 200 {
		var g writeGate
		require.NoError(t, g.acquire(t.Context(), false))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- g.acquire(ctx, false) }()
		require.Eventually(t, func() bool { return g.waiters() == 1 }, 20*time.Second, time.Microsecond)
		// Race the grant against the cancellation.
		go cancel()
		g.release()
		if err := <-done; err == nil {
			g.release()
		}
		acquired := make(chan error, 1)
		go func() { acquired <- g.acquire(t.Context(), false) }()
		select {
		case err := <-acquired:
			require.NoError(t, err)
		case <-time.After(20 * time.Second):
			t.Fatal("the gate was lost")
		}
		g.release()
	}
}
