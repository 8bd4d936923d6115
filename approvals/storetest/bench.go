package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lockbot/lockbot/approvals"
)

// Bench runs the store benchmarks on s: what a hook delivery of one event
// waits for (the trigger and its task, committed), and a manual request
// from the slash command to the approval that opens its lock job (two
// transactions). A store's own benchmark calls it with a store opened as
// production opens it, so the figures include its durability costs.
func Bench(b *testing.B, s approvals.Store) {
	b.Run("AdmitEvent", func(b *testing.B) {
		ctx := context.Background()
		now := time.Now()
		for i := range b.N {
			err := s.Update(ctx, func(tx approvals.Tx) error {
				id := fmt.Sprintf("okta:bench-%d-%d", b.N, i)
				if _, err := tx.AdmitTrigger(approvals.Trigger{ID: id, Source: approvals.SourceHook, Type: "user.lifecycle.suspend", Admitted: now, Email: "bob@corp.com"}); err != nil {
					return err
				}
				return tx.Enqueue(approvals.Task{Kind: approvals.TaskTrigger, Key: id})
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("OpenAndApprove", func(b *testing.B) {
		ctx := context.Background()
		e := approvals.NewEngine(s, approvals.AuthorizerFunc(func(context.Context, string) (bool, error) { return true, nil }),
			approvals.WithCardChannel("CAPPROVE"))
		for i := range b.N {
			r, err := e.Open(ctx, approvals.NewRequest{Person: approvals.Person{Email: fmt.Sprintf("p%d-%d@corp.com", b.N, i)}, Requester: "UALICE", Reason: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := e.Approve(ctx, r.ID, "UDAVE"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
