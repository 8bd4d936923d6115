package postgres_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/approvals/postgres/postgrestest"
)

// TestDeadlockRunsAgain makes two Updates lock two records in opposite
// orders: Postgres breaks the deadlock by failing one, which runs again
// and succeeds, so both Updates return nil and no change is lost.
func TestDeadlockRunsAgain(t *testing.T) {
	url := postgrestest.URL(t)
	s1 := open(t, url, testOptions())
	defer s1.Close()
	s2 := open(t, url, testOptions())
	defer s2.Close()
	require.NoError(t, s1.Update(t.Context(), func(tx approvals.Tx) error {
		require.NoError(t, tx.SetValue("x", []byte("0")))
		return tx.SetValue("y", []byte("0"))
	}))
	var runs atomic.Int32
	var both sync.WaitGroup
	both.Add(2)
	cross := func(s interface {
		Update(context.Context, func(approvals.Tx) error) error
	}, first, second string) error {
		return s.Update(t.Context(), func(tx approvals.Tx) error {
			run := runs.Add(1)
			if _, err := tx.Value(first); err != nil {
				return err
			}
			if run <= 2 {
				// Both hold their first record before either asks for
				// its second: a deadlock, on the first runs only.
				both.Done()
				both.Wait()
			}
			if _, err := tx.Value(second); err != nil {
				return err
			}
			return tx.SetValue(first+second, []byte("done"))
		})
	}
	var wg sync.WaitGroup
	var err1, err2 error
	wg.Go(func() { err1 = cross(s1, "x", "y") })
	wg.Go(func() { err2 = cross(s2, "y", "x") })
	wg.Wait()
	require.NoError(t, err1)
	require.NoError(t, err2)
	assert.Equal(t, int32(3), runs.Load(), "the loser of the deadlock ran again, once")
	require.NoError(t, s1.View(t.Context(), func(tx approvals.Tx) error {
		for _, k := range []string{"xy", "yx"} {
			v, err := tx.Value(k)
			require.NoError(t, err)
			assert.Equal(t, "done", string(v))
		}
		return nil
	}))
}

// TestChangedAcrossReplicas: a commit on one replica closes the Changed
// channel of another, by notification.
func TestChangedAcrossReplicas(t *testing.T) {
	url := postgrestest.URL(t)
	s1 := open(t, url, testOptions())
	defer s1.Close()
	s2 := open(t, url, testOptions())
	defer s2.Close()
	// The listener of s2 may not be listening yet: commit until it hears.
	deadline := time.Now().Add(10 * time.Second)
	for heard := false; !heard; {
		require.True(t, time.Now().Before(deadline), "the other replica never heard of a commit")
		ch := s2.Changed()
		require.NoError(t, s1.Update(t.Context(), func(tx approvals.Tx) error { return tx.SetValue("k", []byte("v")) }))
		select {
		case <-ch:
			heard = true
		case <-time.After(100 * time.Millisecond):
		}
	}
	own := s1.Changed()
	require.NoError(t, s1.Update(t.Context(), func(tx approvals.Tx) error {
		_, err := tx.Value("k")
		return err
	}))
	select {
	case <-own:
	default:
		t.Fatal("a local commit closes Changed at once")
	}
}
