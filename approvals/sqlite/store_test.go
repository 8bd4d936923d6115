package sqlite_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/approvals/sqlite"
	"github.com/lockbot/lockbot/approvals/sqlite/sqlitetest"
	"github.com/lockbot/lockbot/approvals/storetest"
)

// testOptions polls quickly so the suite is not slowed by idle waits.
func testOptions() sqlite.Options {
	return sqlite.Options{PollInterval: 20 * time.Millisecond, OrphanCheck: 50 * time.Millisecond, OrphanAfter: time.Second}
}

func TestConformance(t *testing.T) {
	dirs := map[approvals.Store]string{}
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) approvals.Store {
			dir := sqlitetest.Dir(t)
			s, err := sqlite.Open(t.Context(), dir, testOptions())
			require.NoError(t, err)
			dirs[s] = dir
			return s
		},
		Reopen: func(t *testing.T, old approvals.Store) approvals.Store {
			require.NoError(t, old.Close())
			s, err := sqlite.Open(t.Context(), dirs[old], testOptions())
			require.NoError(t, err)
			dirs[s] = dirs[old]
			return s
		},
	})
}
