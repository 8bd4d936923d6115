package okta

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// errTestAdmitterFull is what a testAdmitter built with admitAtMost refuses
// with, so tests can tell that refusal from other failures.
var errTestAdmitterFull = errors.New("test admitter: too many pending events")

// testAdmitter is the Admitter the hook and catch-up tests hand events to,
// standing in for the database-backed store production uses. It keeps only
// what the Admitter contract promises callers: dedupe by UUID across calls,
// and all or nothing on failure. It queues what it admitted, so a test can
// check exactly what was handed over and in which order.
type testAdmitter struct {
	fail       error // when set, every Admit fails with it
	maxPending int   // when > 0, a call that would leave more pending fails

	mu      sync.Mutex
	seen    map[string]struct{}
	pending []Event // admitted and not yet taken, oldest first
}

// testAdmitterOption configures newTestAdmitter.
type testAdmitterOption func(*testAdmitter)

// admitFails makes every Admit fail with err and admit nothing, as a store
// that is down or closed does.
func admitFails(err error) testAdmitterOption {
	return func(a *testAdmitter) { a.fail = err }
}

// admitAtMost makes Admit refuse, with errTestAdmitterFull, a call whose new
// events would leave more than n pending (admitted and not taken), as a
// store that bounds its backlog does. Duplicates do not count.
func admitAtMost(n int) testAdmitterOption {
	return func(a *testAdmitter) { a.maxPending = n }
}

func newTestAdmitter(opts ...testAdmitterOption) *testAdmitter {
	a := &testAdmitter{seen: make(map[string]struct{})}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Admit implements Admitter. Like a real store it admits nothing when ctx
// has ended, so a request Okta gave up on is answered 503.
func (a *testAdmitter) Admit(ctx context.Context, evs []Event) ([]Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail != nil {
		return nil, a.fail
	}
	var fresh []Event
	batch := make(map[string]struct{}, len(evs))
	for _, ev := range evs {
		if _, ok := a.seen[ev.UUID]; ok {
			continue
		}
		if _, ok := batch[ev.UUID]; ok {
			continue
		}
		batch[ev.UUID] = struct{}{}
		fresh = append(fresh, ev)
	}
	if a.maxPending > 0 && len(a.pending)+len(fresh) > a.maxPending {
		return nil, fmt.Errorf("%w: %d pending, limit %d", errTestAdmitterFull, len(a.pending), a.maxPending)
	}
	for id := range batch {
		a.seen[id] = struct{}{}
	}
	a.pending = append(a.pending, fresh...)
	// A copy, so a caller changing what it got back cannot change what
	// the test later reads.
	return slices.Clone(fresh), nil
}

// Len is the number of events admitted and not yet taken.
func (a *testAdmitter) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.pending)
}

// take removes and returns up to n of the oldest pending events. Their
// UUIDs stay seen, as a handled event's does in a real store.
func (a *testAdmitter) take(n int) []Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	n = min(n, len(a.pending))
	out := slices.Clone(a.pending[:n])
	a.pending = slices.Delete(a.pending, 0, n)
	return out
}

// takeN returns the n oldest events admitted and not taken yet and checks
// that no further one is pending: exactly what was admitted since the last
// take, in admission order.
func takeN(t testing.TB, a *testAdmitter, n int) []Event {
	t.Helper()
	got := a.take(n)
	require.Len(t, got, n, "events admitted")
	extra := a.take(a.Len())
	require.Empty(t, extra, "unexpected extra events")
	return got
}

func uuidsOf(evs []Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.UUID
	}
	return out
}
