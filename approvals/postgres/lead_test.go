package postgres_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals/postgres"
	"github.com/lockbot/lockbot/approvals/postgres/postgrestest"
)

// shortLease are timings for the takeover tests: a lease of a second,
// renewed every 100 ms.
func shortLease() postgres.Options {
	o := testOptions()
	o.LeaseTTL, o.LeaseRenew = time.Second, 100*time.Millisecond
	return o
}

// leader runs Lead on s in the background and reports fn's starts and
// ends; stop ends the Lead and waits for it.
type leader struct {
	started, ended chan time.Time
	stop           func()
}

func lead(t *testing.T, s *postgres.Store, holders *atomic.Int32, overlap *atomic.Bool) *leader {
	l := &leader{started: make(chan time.Time, 8), ended: make(chan time.Time, 8)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.Lead(ctx, "poller", func(ctx context.Context) error {
			if holders.Add(1) > 1 {
				overlap.Store(true)
			}
			l.started <- time.Now()
			<-ctx.Done()
			holders.Add(-1)
			l.ended <- time.Now()
			return nil
		})
	}()
	stopped := false
	l.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("Lead did not return after its context ended")
		}
	}
	t.Cleanup(l.stop)
	return l
}

// within receives from ch within d, or fails the test.
func within(t *testing.T, ch <-chan time.Time, d time.Duration, what string) time.Time {
	t.Helper()
	select {
	case at := <-ch:
		return at
	case <-time.After(d):
		t.Fatalf("%s: nothing within %s", what, d)
		return time.Time{}
	}
}

// TestLeaseTakeoverAfterPartition cuts the holder of a lease off from
// the database: it cannot renew, so it stops its work before the lease
// expires, and the other replica takes the lease once it has expired,
// about LeaseTTL after the last renewal.
func TestLeaseTakeoverAfterPartition(t *testing.T) {
	url := postgrestest.URL(t)
	opts := shortLease()
	p, through := newProxy(t, url)
	cutOff := open(t, through, opts)
	defer cutOff.Close()
	other := open(t, url, opts)
	defer other.Close()
	var holders atomic.Int32
	var overlap atomic.Bool
	a := lead(t, cutOff, &holders, &overlap)
	within(t, a.started, 10*time.Second, "the first replica leads")
	b := lead(t, other, &holders, &overlap)

	cut := time.Now()
	p.Cut()
	aEnded := within(t, a.ended, 2*opts.LeaseTTL, "the cut-off holder stops")
	bStarted := within(t, b.started, 2*opts.LeaseTTL, "the other replica takes over")
	assert.True(t, aEnded.Before(bStarted), "the cut-off holder stopped before the other started")
	assert.False(t, overlap.Load(), "never two holders at once")
	took := bStarted.Sub(cut)
	t.Logf("cut-off holder stopped after %s; takeover after %s", aEnded.Sub(cut).Round(time.Millisecond), took.Round(time.Millisecond))
	// The last renewal was at most one LeaseRenew before the cut, and the
	// lease lasts LeaseTTL from it.
	assert.GreaterOrEqual(t, took, opts.LeaseTTL-2*opts.LeaseRenew, "the lease is not taken before it expires")
	assert.Less(t, took, opts.LeaseTTL+time.Second, "and is taken soon after")
	info, err := other.Describe(t.Context())
	require.NoError(t, err)
	require.Len(t, info.Leases, 1)
	assert.Equal(t, "poller", info.Leases[0].Name)
	assert.Equal(t, other.ID(), info.Leases[0].Holder)
	assert.True(t, info.Leases[0].Held)
	b.stop()
	a.stop()
}

// TestLeaseMovesAtOnce: a holder whose Lead ends, or whose store closes,
// releases the lease, so the other replica does not wait for it to
// expire.
func TestLeaseMovesAtOnce(t *testing.T) {
	url := postgrestest.URL(t)
	opts := testOptions() // a lease of 3 s: waiting for expiry would show
	s1 := open(t, url, opts)
	defer s1.Close()
	s2 := open(t, url, opts)
	defer s2.Close()
	var holders atomic.Int32
	var overlap atomic.Bool
	a := lead(t, s1, &holders, &overlap)
	within(t, a.started, 10*time.Second, "the first replica leads")
	b := lead(t, s2, &holders, &overlap)
	at := time.Now()
	a.stop()
	within(t, b.started, opts.LeaseTTL/2, "the lease moves when its holder's Lead ends")
	t.Logf("moved in %s", time.Since(at).Round(time.Millisecond))

	// Now the holder's store closes under its Lead.
	s3 := open(t, url, opts)
	defer s3.Close()
	c := lead(t, s3, &holders, &overlap)
	at = time.Now()
	require.NoError(t, s2.Close())
	within(t, b.ended, opts.LeaseTTL/2, "Close cancels the leader work")
	within(t, c.started, opts.LeaseTTL/2, "and releases the lease")
	t.Logf("moved in %s", time.Since(at).Round(time.Millisecond))
	assert.False(t, overlap.Load(), "never two holders at once")
}
