package postgres_test

import (
	"context"
	"testing"

	"github.com/lockbot/lockbot/approvals/postgres"
	"github.com/lockbot/lockbot/approvals/postgres/postgrestest"
	"github.com/lockbot/lockbot/approvals/storetest"
)

// BenchmarkStore runs the store benchmarks on a fresh database of the test
// server with the default options, as production does: the figures
// include a round trip per statement and the server's flush of every
// commit.
//
//	LOCKBOT_TEST_DATABASE_URL=postgres://… go test -run '^$' -bench . ./approvals/postgres
func BenchmarkStore(b *testing.B) {
	s, err := postgres.Open(context.Background(), postgrestest.URL(b), postgres.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	storetest.Bench(b, s)
}
