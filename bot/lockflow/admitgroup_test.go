package lockflow

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/okta"
)

// TestAdmitGroupCommitsLateArrivalsTogether: calls that arrive while a
// transaction runs are decided by the next one, all together, and a call
// whose context ended while it waited is in no batch.
func TestAdmitGroupCommitsLateArrivalsTogether(t *testing.T) {
	var g admitGroup
	var mu sync.Mutex
	var batches [][]string
	firstRunning, releaseFirst := make(chan struct{}), make(chan struct{})
	commit := func(calls []*admitCall) {
		mu.Lock()
		first := len(batches) == 0
		var ids []string
		for _, c := range calls {
			ids = append(ids, c.evs[0].UUID)
			c.admitted = c.evs
		}
		batches = append(batches, ids)
		mu.Unlock()
		if first {
			close(firstRunning)
			<-releaseFirst
		}
	}
	one := func(id string) []okta.Event { return []okta.Event{{UUID: id}} }

	var wg sync.WaitGroup
	results := make(map[string]error)
	var rmu sync.Mutex
	run := func(ctx context.Context, id string) {
		wg.Go(func() {
			got, err := g.do(ctx, one(id), commit)
			rmu.Lock()
			defer rmu.Unlock()
			results[id] = err
			if err == nil {
				assert.Equal(t, one(id), got, "a call gets its own events back")
			}
		})
	}
	run(t.Context(), "first")
	<-firstRunning
	gone, cancel := context.WithCancel(t.Context())
	run(t.Context(), "a")
	run(gone, "cancelled")
	run(t.Context(), "b")
	require.Eventually(t, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.queue) == 3
	}, 20*time.Second, time.Millisecond, "three calls wait for the transaction under way")
	cancel()
	close(releaseFirst)
	wg.Wait()

	require.Len(t, batches, 2)
	assert.Equal(t, []string{"first"}, batches[0])
	assert.ElementsMatch(t, []string{"a", "b"}, batches[1], "the waiting calls share one transaction; the cancelled one is in none")
	assert.NoError(t, results["a"])
	assert.NoError(t, results["b"])
	assert.ErrorIs(t, results["cancelled"], context.Canceled)
	assert.False(t, g.busy, "the gate is free again")
}

// TestAdmitGroupFailureReachesEveryCall: when the shared transaction fails,
// every call in it gets the error.
func TestAdmitGroupFailureReachesEveryCall(t *testing.T) {
	var g admitGroup
	boom := errors.New("disk full")
	_, err := g.do(t.Context(), []okta.Event{{UUID: "x"}}, func(calls []*admitCall) {
		for _, c := range calls {
			c.err = boom
		}
	})
	assert.ErrorIs(t, err, boom)
	// The group is usable after a failure.
	got, err := g.do(t.Context(), []okta.Event{{UUID: "y"}}, func(calls []*admitCall) {
		for _, c := range calls {
			c.admitted = c.evs
		}
	})
	require.NoError(t, err)
	assert.Len(t, got, 1)
}
