package sqlite_test

import (
	"context"
	"testing"

	"github.com/lockbot/lockbot/approvals/sqlite"
	"github.com/lockbot/lockbot/approvals/sqlite/sqlitetest"
	"github.com/lockbot/lockbot/approvals/storetest"
)

// BenchmarkStore runs the store benchmarks on a real file, as production
// opens it: the figures include the fsync of every commit.
//
//	go test -run '^$' -bench . ./approvals/sqlite
func BenchmarkStore(b *testing.B) {
	s, err := sqlite.Open(context.Background(), sqlitetest.Dir(b), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	storetest.Bench(b, s)
}
