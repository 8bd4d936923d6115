package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/approvals/postgres"
	"github.com/lockbot/lockbot/approvals/postgres/postgrestest"
)

// openBench opens a store on a fresh database of the test server with the
// default options, as production does: the figures include a round trip
// per statement and the server's flush of every commit.
func openBench(b *testing.B) *postgres.Store {
	b.Helper()
	s, err := postgres.Open(context.Background(), postgrestest.URL(b), postgres.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkAdmitEvent is what a hook delivery of one event waits for: the
// trigger and its task, committed.
//
//	go test -run '^$' -bench . ./approvals/postgres
func BenchmarkAdmitEvent(b *testing.B) {
	s := openBench(b)
	ctx := context.Background()
	now := time.Now()
	for i := range b.N {
		err := s.Update(ctx, func(tx approvals.Tx) error {
			id := fmt.Sprintf("okta:bench-%d", i)
			if _, err := tx.AdmitTrigger(approvals.Trigger{ID: id, Source: approvals.SourceHook, Type: "user.lifecycle.suspend", Admitted: now, Email: "bob@corp.com"}); err != nil {
				return err
			}
			return tx.Enqueue(approvals.Task{Kind: approvals.TaskTrigger, Key: id})
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenAndApprove is a manual request from the slash command to
// the approval that opens its lock job: two transactions.
func BenchmarkOpenAndApprove(b *testing.B) {
	s := openBench(b)
	ctx := context.Background()
	e := approvals.NewEngine(s, approvals.AuthorizerFunc(func(context.Context, string) (bool, error) { return true, nil }),
		approvals.WithCardChannel("CAPPROVE"))
	for i := range b.N {
		r, err := e.Open(ctx, approvals.NewRequest{Person: approvals.Person{Email: fmt.Sprintf("p%d@corp.com", i)}, Requester: "UALICE", Reason: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Approve(ctx, r.ID, "UDAVE"); err != nil {
			b.Fatal(err)
		}
	}
}
