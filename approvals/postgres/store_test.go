package postgres_test

import (
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/approvals/postgres"
	"github.com/lockbot/lockbot/approvals/postgres/postgrestest"
	"github.com/lockbot/lockbot/approvals/storetest"
)

func TestMain(m *testing.M) { os.Exit(postgrestest.Main(m)) }

// testOptions polls quickly so the suite is not slowed by idle waits. The
// liveness timings stay long enough that a replica slowed by the race
// detector on a small machine is not taken for dead; the tests of
// takeover after a death use shorter ones of their own.
func testOptions() postgres.Options {
	return postgres.Options{
		PollInterval: 50 * time.Millisecond, StopGrace: 2 * time.Second,
		Heartbeat: 200 * time.Millisecond, DeadAfter: 5 * time.Second, OrphanCheck: 100 * time.Millisecond,
		LeaseTTL: 3 * time.Second, LeaseRenew: 200 * time.Millisecond,
	}
}

// open opens the store at url with opts, failing the test on an error.
func open(t testing.TB, url string, opts postgres.Options) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), url, opts)
	require.NoError(t, err)
	return s
}

func TestConformance(t *testing.T) {
	postgrestest.Server(t)
	var mu sync.Mutex
	urls := map[approvals.Store]string{}
	remember := func(s approvals.Store, url string) approvals.Store {
		mu.Lock()
		defer mu.Unlock()
		urls[s] = url
		return s
	}
	urlOf := func(s approvals.Store) string {
		mu.Lock()
		defer mu.Unlock()
		return urls[s]
	}
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) approvals.Store {
			url := postgrestest.URL(t)
			return remember(open(t, url, testOptions()), url)
		},
		Reopen: func(t *testing.T, old approvals.Store) approvals.Store {
			require.NoError(t, old.Close())
			return remember(open(t, urlOf(old), testOptions()), urlOf(old))
		},
		Share: func(t *testing.T, s approvals.Store) approvals.Store {
			return remember(open(t, urlOf(s), testOptions()), urlOf(s))
		},
		// A released lease moves at the next notification or renewal; the
		// task of a closed replica at the next sweep, or after its first
		// retry's backoff (a second) when its cancellation was recorded.
		Takeover: 5 * time.Second,
	})
}
