package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals"
)

// epoch is the time of the records the suite writes: whole microseconds in
// UTC, which every store keeps exactly.
var epoch = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

// update runs fn in one Update and fails the test on an error.
func update(t *testing.T, s approvals.Store, fn func(tx approvals.Tx) error) {
	t.Helper()
	require.NoError(t, s.Update(t.Context(), fn))
}

// view runs fn in one View and fails the test on an error.
func view(t *testing.T, s approvals.Store, fn func(tx approvals.Tx) error) {
	t.Helper()
	require.NoError(t, s.View(t.Context(), fn))
}

// sampleRequest is a pending request created at epoch+i minutes.
func sampleRequest(i int) approvals.Request {
	at := epoch.Add(time.Duration(i) * time.Minute)
	return approvals.Request{
		ID: fmt.Sprintf("REQ%03d", i), Person: approvals.Person{Email: "jane@corp.com", Name: "Jane"},
		Requester: "U_REQ", Reason: "stolen laptop", Origin: approvals.Origin{Kind: approvals.OriginManual},
		Devices: []approvals.Device{{ID: "dev-1", Name: "Jane's Mac", Serial: "C02JANE", Platform: "Mac"}},
		Created: at, Expires: at.Add(30 * time.Minute), Required: 1, State: approvals.StatePending,
	}
}

func testRequests(t *testing.T, h Harness) {
	s := open(t, h)
	view(t, s, func(tx approvals.Tx) error {
		_, err := tx.Request("nope")
		assert.ErrorIs(t, err, approvals.ErrNotFound)
		return nil
	})
	update(t, s, func(tx approvals.Tx) error {
		for _, i := range []int{3, 1, 2} {
			require.NoError(t, tx.PutRequest(sampleRequest(i)))
		}
		return nil
	})
	update(t, s, func(tx approvals.Tx) error {
		r := sampleRequest(2)
		r.State, r.DecidedBy = approvals.StateDenied, "U_APPROVER"
		return tx.PutRequest(r)
	})
	view(t, s, func(tx approvals.Tx) error {
		got, err := tx.Request("REQ001")
		require.NoError(t, err)
		assert.Equal(t, sampleRequest(1), got, "a request reads back exactly as stored")
		pending, err := tx.Requests(approvals.StatePending, 0)
		require.NoError(t, err)
		require.Len(t, pending, 2)
		assert.Equal(t, "REQ001", pending[0].ID, "oldest first")
		assert.Equal(t, "REQ003", pending[1].ID)
		one, err := tx.Requests(approvals.StatePending, 1)
		require.NoError(t, err)
		assert.Len(t, one, 1)
		denied, err := tx.Requests(approvals.StateDenied, 0)
		require.NoError(t, err)
		require.Len(t, denied, 1)
		assert.Equal(t, "U_APPROVER", denied[0].DecidedBy)
		return nil
	})
	err := s.Update(t.Context(), func(tx approvals.Tx) error {
		return tx.PutRequest(approvals.Request{ID: "X", State: "executing"})
	})
	assert.ErrorIs(t, err, approvals.ErrInvalid, "an unknown state is never stored")
	err = s.Update(t.Context(), func(tx approvals.Tx) error { return tx.PutRequest(approvals.Request{State: approvals.StatePending}) })
	assert.ErrorIs(t, err, approvals.ErrInvalid, "neither is a request without an ID")
}

func testAborted(t *testing.T, h Harness) {
	s := open(t, h)
	boom := errors.New("boom")
	err := s.Update(t.Context(), func(tx approvals.Tx) error {
		require.NoError(t, tx.PutRequest(sampleRequest(1)))
		require.NoError(t, tx.PutLock(sampleLock("L1", "jane@corp.com", 0)))
		_, err := tx.AdmitTrigger(approvals.Trigger{ID: "okta:1", Admitted: epoch})
		require.NoError(t, err)
		require.NoError(t, tx.Append(approvals.Record{Time: epoch, Kind: approvals.KindOpened, ID: "REQ001"}))
		require.NoError(t, tx.PutPost(approvals.Post{Key: "lock:L1", Kind: approvals.PostLock, Channel: "C1", Rev: 1, Created: epoch}))
		require.NoError(t, tx.SetValue("cursor", []byte("x")))
		_, err = tx.Once("env-1", epoch.Add(time.Hour))
		require.NoError(t, err)
		require.NoError(t, tx.Enqueue(approvals.Task{Kind: "aborted", Key: "k"}))
		return boom
	})
	require.ErrorIs(t, err, boom, "Update returns fn's error unchanged")
	view(t, s, func(tx approvals.Tx) error {
		_, err := tx.Request("REQ001")
		assert.ErrorIs(t, err, approvals.ErrNotFound)
		_, err = tx.Lock("L1")
		assert.ErrorIs(t, err, approvals.ErrNotFound)
		_, err = tx.Trigger("okta:1")
		assert.ErrorIs(t, err, approvals.ErrNotFound)
		_, err = tx.Post("lock:L1")
		assert.ErrorIs(t, err, approvals.ErrNotFound)
		_, err = tx.Value("cursor")
		assert.ErrorIs(t, err, approvals.ErrNotFound)
		recs, err := tx.Records(approvals.Filter{}, 0)
		require.NoError(t, err)
		assert.Empty(t, recs)
		return nil
	})
	update(t, s, func(tx approvals.Tx) error {
		first, err := tx.Once("env-1", epoch.Add(time.Hour))
		assert.True(t, first, "an aborted Once is forgotten")
		return err
	})
	// The aborted task never runs.
	ran := make(chan string, 1)
	stop := work(t, s, map[string]approvals.Handler{"aborted": {Workers: 1, Run: func(_ context.Context, r approvals.TaskRun) error {
		ran <- r.Key
		return nil
	}}})
	update(t, s, func(tx approvals.Tx) error { return tx.Enqueue(approvals.Task{Kind: "aborted", Key: "later"}) })
	assert.Equal(t, "later", waitFor(t, ran), "only the committed task runs")
	stop()
	select {
	case k := <-ran:
		t.Fatalf("the task of an aborted transaction ran: %s", k)
	default:
	}
}

func testView(t *testing.T, h Harness) {
	s := open(t, h)
	err := s.View(t.Context(), func(tx approvals.Tx) error { return tx.PutRequest(sampleRequest(1)) })
	require.Error(t, err)
	view(t, s, func(tx approvals.Tx) error {
		_, err := tx.Request("REQ001")
		assert.ErrorIs(t, err, approvals.ErrNotFound, "a write inside View is not kept")
		return nil
	})
}

// testNoLostUpdates runs many read-modify-write transactions on one
// record at once: none of their changes may be lost.
func testNoLostUpdates(t *testing.T, h Harness) {
	concurrentApprovals(t, []approvals.Store{open(t, h)}, 10, "every concurrent change is kept")
}

// concurrentApprovals has 8 writers, taking the stores in turn, each add
// each approvals to one request, one read-modify-write transaction at a
// time, and checks through every store that none was lost.
func concurrentApprovals(t *testing.T, stores []approvals.Store, each int, msg string) {
	update(t, stores[0], func(tx approvals.Tx) error { return tx.PutRequest(sampleRequest(1)) })
	const writers = 8
	var wg sync.WaitGroup
	for w := range writers {
		s := stores[w%len(stores)]
		wg.Go(func() {
			for i := range each {
				err := s.Update(context.Background(), func(tx approvals.Tx) error {
					r, err := tx.Request("REQ001")
					if err != nil {
						return err
					}
					r.Approvals = append(r.Approvals, approvals.Approval{By: fmt.Sprintf("U%d-%d", w, i), At: epoch})
					return tx.PutRequest(r)
				})
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	for _, s := range stores {
		view(t, s, func(tx approvals.Tx) error {
			r, err := tx.Request("REQ001")
			require.NoError(t, err)
			assert.Len(t, r.Approvals, writers*each, msg)
			return nil
		})
	}
}

// sampleLock is a live lock job for email created at epoch+i minutes.
func sampleLock(id, email string, i int) approvals.LockJob {
	at := epoch.Add(time.Duration(i) * time.Minute)
	return approvals.LockJob{ID: id, Key: approvals.EmailKey(email), Person: approvals.Person{Email: email},
		Origin: approvals.Origin{Kind: approvals.OriginOkta}, State: approvals.JobQueued, Created: at, Updated: at,
		Deadline: at.Add(24 * time.Hour), Report: approvals.PostKey(approvals.PostLock, id)}
}

func testLocks(t *testing.T, h Harness) {
	s := open(t, h)
	update(t, s, func(tx approvals.Tx) error {
		a := sampleLock("A", "jane@corp.com", 0)
		b := sampleLock("B", "Jane@Corp.com", 2)
		b.LookedUp = true
		b.Devices = []approvals.DeviceState{{Device: approvals.Device{ID: "d1", Platform: "Mac"}, Outcome: approvals.OutcomeLocked}}
		c := sampleLock("C", "bob@corp.com", 1)
		c.State = approvals.JobDone
		d := sampleLock("D", "jane@corp.com", 3)
		d.RequestID = "REQ9"
		for _, j := range []approvals.LockJob{a, b, c, d} {
			require.NoError(t, tx.PutLock(j))
		}
		return nil
	})
	ids := func(js []approvals.LockJob) []string {
		out := make([]string, len(js))
		for i, j := range js {
			out[i] = j.ID
		}
		return out
	}
	view(t, s, func(tx approvals.Tx) error {
		got, err := tx.Lock("B")
		require.NoError(t, err)
		assert.Equal(t, approvals.OutcomeLocked, got.Devices[0].Outcome)
		for _, tt := range []struct {
			q    approvals.LockQuery
			want []string
		}{
			{approvals.LockQuery{}, []string{"A", "C", "B", "D"}},
			{approvals.LockQuery{Key: "jane@corp.com"}, []string{"A", "B", "D"}},
			{approvals.LockQuery{Key: "jane@corp.com", Since: epoch.Add(2 * time.Minute)}, []string{"B", "D"}},
			{approvals.LockQuery{Live: true}, []string{"A", "B", "D"}},
			{approvals.LockQuery{LookingUp: true}, []string{"A", "D"}},
			{approvals.LockQuery{RequestID: "REQ9"}, []string{"D"}},
			{approvals.LockQuery{Live: true, Limit: 2}, []string{"A", "B"}},
		} {
			js, err := tx.Locks(tt.q)
			require.NoError(t, err)
			assert.Equal(t, tt.want, ids(js), "%+v", tt.q)
			n, err := tx.CountLocks(tt.q)
			require.NoError(t, err)
			assert.Equal(t, len(tt.want), n, "count %+v", tt.q)
		}
		return nil
	})
	update(t, s, func(tx approvals.Tx) error {
		a, err := tx.Lock("A")
		require.NoError(t, err)
		a.State = approvals.JobFailed
		return tx.PutLock(a)
	})
	view(t, s, func(tx approvals.Tx) error {
		n, err := tx.CountLocks(approvals.LockQuery{Live: true})
		require.NoError(t, err)
		assert.Equal(t, 2, n, "a job leaves the live set when it reaches a final state")
		return nil
	})
}

func testTriggers(t *testing.T, h Harness) {
	s := open(t, h)
	tr := approvals.Trigger{ID: "okta:uuid-1", Source: approvals.SourceHook, Type: "user.lifecycle.suspend", Admitted: epoch, Login: "jane@corp.com"}
	update(t, s, func(tx approvals.Tx) error {
		first, err := tx.AdmitTrigger(tr)
		require.NoError(t, err)
		assert.True(t, first)
		again, err := tx.AdmitTrigger(tr)
		require.NoError(t, err)
		assert.False(t, again, "the same ID in the same transaction")
		return nil
	})
	// The same event delivered many times at once (Okta's retry racing the
	// catch-up, two replicas) is admitted exactly once.
	var wg sync.WaitGroup
	var mu sync.Mutex
	admitted := 0
	for range 8 {
		wg.Go(func() {
			err := s.Update(context.Background(), func(tx approvals.Tx) error {
				first, err := tx.AdmitTrigger(approvals.Trigger{ID: "okta:uuid-2", Admitted: epoch})
				if first {
					mu.Lock()
					admitted++
					mu.Unlock()
				}
				return err
			})
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	assert.Equal(t, 1, admitted, "racing admissions of one event admit it once")
	update(t, s, func(tx approvals.Tx) error {
		got, err := tx.Trigger("okta:uuid-1")
		require.NoError(t, err)
		assert.Equal(t, tr, got)
		got.Handled, got.LockID = true, "L1"
		return tx.PutTrigger(got)
	})
	view(t, s, func(tx approvals.Tx) error {
		got, err := tx.Trigger("okta:uuid-1")
		require.NoError(t, err)
		assert.True(t, got.Handled)
		assert.Equal(t, "L1", got.LockID)
		return nil
	})
	update(t, s, func(tx approvals.Tx) error {
		again, err := tx.AdmitTrigger(tr)
		assert.False(t, again, "a handled trigger is still remembered")
		return err
	})
}

func testOnce(t *testing.T, h Harness) {
	s := open(t, h)
	now := time.Now()
	once := func(key string, until time.Time) bool {
		var first bool
		update(t, s, func(tx approvals.Tx) error {
			var err error
			first, err = tx.Once(key, until)
			return err
		})
		return first
	}
	assert.True(t, once("env-1", now.Add(time.Hour)))
	assert.False(t, once("env-1", now.Add(time.Hour)), "a second delivery is seen")
	assert.True(t, once("env-2", now.Add(-time.Second)))
	assert.True(t, once("env-2", now.Add(time.Hour)), "a key whose time ran out is new again")
	assert.False(t, once("env-2", now.Add(time.Hour)))
}

func testPosts(t *testing.T, h Harness) {
	s := open(t, h)
	now := epoch
	update(t, s, func(tx approvals.Tx) error {
		require.NoError(t, approvals.Touch(tx, "lock:A", "CNOTIFY", approvals.PriorityBulk, now))
		require.NoError(t, approvals.Touch(tx, "request:R", "CAPPROVE", approvals.PriorityInteractive, now.Add(time.Second)))
		require.NoError(t, approvals.Touch(tx, "lock:B", "CNOTIFY", approvals.PriorityNormal, now.Add(2*time.Second)))
		require.NoError(t, approvals.Touch(tx, "lock:A", "CNOTIFY", approvals.PriorityBulk, now.Add(3*time.Second)))
		return approvals.Notify(tx, "CNOTIFY", "", "⚠️ heads up", approvals.PriorityNormal, now.Add(4*time.Second))
	})
	keys := func(ps []approvals.Post) []string {
		out := make([]string, len(ps))
		for i, p := range ps {
			out[i] = p.Key
		}
		return out
	}
	view(t, s, func(tx approvals.Tx) error {
		a, err := tx.Post("lock:A")
		require.NoError(t, err)
		assert.Equal(t, 2, a.Rev, "each Touch is one revision")
		assert.Equal(t, approvals.PostLock, a.Kind)
		assert.Equal(t, "A", a.Ref)
		due, err := tx.Posts(approvals.PostQuery{Channel: "CNOTIFY", Due: now.Add(time.Minute)})
		require.NoError(t, err)
		require.Len(t, due, 3)
		assert.Equal(t, "lock:B", due[0].Key, "normal before bulk")
		assert.Equal(t, approvals.PostNotice, due[1].Kind)
		assert.Equal(t, "⚠️ heads up", due[1].Text)
		assert.Equal(t, "lock:A", due[2].Key)
		return nil
	})
	// Written: no longer due. A failed write waits for its next try.
	update(t, s, func(tx approvals.Tx) error {
		b, err := tx.Post("lock:B")
		require.NoError(t, err)
		b.TS, b.PostedRev = "1700000000.000100", b.Rev
		require.True(t, b.AddCopy("1700000000.000200"))
		require.False(t, b.AddCopy("1700000000.000200"))
		require.NoError(t, tx.PutPost(b))
		a, err := tx.Post("lock:A")
		require.NoError(t, err)
		a.NextTry, a.Attempts, a.LastError = now.Add(time.Hour), 1, "slack 503"
		return tx.PutPost(a)
	})
	view(t, s, func(tx approvals.Tx) error {
		due, err := tx.Posts(approvals.PostQuery{Channel: "CNOTIFY", Due: now.Add(time.Minute)})
		require.NoError(t, err)
		assert.Equal(t, []string{keys(due)[0]}, keys(due), "only the notice is due")
		b, err := tx.Post("lock:B")
		require.NoError(t, err)
		assert.Equal(t, []string{"1700000000.000200"}, b.Copies)
		later, err := tx.Posts(approvals.PostQuery{Channel: "CNOTIFY", Due: now.Add(2 * time.Hour)})
		require.NoError(t, err)
		assert.Len(t, later, 2, "the failed write is due again at its next try")
		all, err := tx.Posts(approvals.PostQuery{Kind: approvals.PostLock})
		require.NoError(t, err)
		assert.Len(t, all, 2)
		return nil
	})
	// A post standing in a digest passes its changes to the digest.
	update(t, s, func(tx approvals.Tx) error {
		a, err := tx.Post("lock:A")
		require.NoError(t, err)
		a.Digest = "digest:D1"
		require.NoError(t, tx.PutPost(a))
		require.NoError(t, tx.PutPost(approvals.Post{Key: "digest:D1", Kind: approvals.PostDigest, Ref: "D1", Channel: "CNOTIFY", Created: now}))
		return approvals.Touch(tx, "lock:A", "CNOTIFY", approvals.PriorityBulk, now)
	})
	view(t, s, func(tx approvals.Tx) error {
		d, err := tx.Post("digest:D1")
		require.NoError(t, err)
		assert.Equal(t, 1, d.Rev)
		in, err := tx.Posts(approvals.PostQuery{Digest: "digest:D1"})
		require.NoError(t, err)
		assert.Equal(t, []string{"lock:A"}, keys(in))
		due, err := tx.Posts(approvals.PostQuery{Channel: "CNOTIFY", Due: now.Add(2 * time.Hour)})
		require.NoError(t, err)
		assert.NotContains(t, keys(due), "lock:A", "a post in a digest is not written on its own")
		return nil
	})
}

func testJournal(t *testing.T, h Harness) {
	s := open(t, h)
	recs := []approvals.Record{
		{Time: epoch, Kind: approvals.KindOpened, ID: "R1", Actor: "U1", Target: "jane@corp.com", Details: map[string]string{"reason": "stolen"}},
		{Time: epoch.Add(time.Minute), Kind: approvals.KindApproved, ID: "R1", Actor: "U2", Target: "Jane@Corp.com"},
		{Time: epoch.Add(2 * time.Minute), Kind: approvals.KindLockResult, ID: "L1", Target: "\u212Aate@corp.com", Details: map[string]string{"outcome": "locked"}},
		{Time: epoch.Add(3 * time.Minute), Kind: approvals.KindLockResult, ID: "L2", Target: "kate@corp.com"},
	}
	update(t, s, func(tx approvals.Tx) error {
		for _, r := range recs {
			require.NoError(t, tx.Append(r))
		}
		return nil
	})
	err := s.Update(t.Context(), func(tx approvals.Tx) error {
		return tx.Append(approvals.Record{Time: epoch, Kind: approvals.KindPINRevealed, Details: map[string]string{"PIN": "123456"}})
	})
	assert.Error(t, err, "a record naming a PIN is refused")
	assert.Error(t, s.Update(t.Context(), func(tx approvals.Tx) error { return tx.Append(approvals.Record{Kind: approvals.KindOpened}) }),
		"a record without a time is refused")
	ids := func(rs []approvals.Record) []string {
		var out []string
		for _, r := range rs {
			out = append(out, string(r.Kind)+"/"+r.ID)
		}
		return out
	}
	view(t, s, func(tx approvals.Tx) error {
		all, err := tx.Records(approvals.Filter{}, 0)
		require.NoError(t, err)
		require.Len(t, all, 4)
		assert.Equal(t, recs[0], all[0], "records read back exactly, in order")
		for _, tt := range []struct {
			f    approvals.Filter
			want []string
		}{
			{approvals.Filter{ID: "R1"}, []string{"request.opened/R1", "request.approved/R1"}},
			{approvals.Filter{Target: "JANE@corp.com"}, []string{"request.opened/R1", "request.approved/R1"}},
			{approvals.Filter{Target: "kate@corp.com"}, []string{"lock.result/L2"}},
			{approvals.Filter{Kinds: []approvals.Kind{approvals.KindLockResult}}, []string{"lock.result/L1", "lock.result/L2"}},
			{approvals.Filter{Since: epoch.Add(time.Minute), Until: epoch.Add(3 * time.Minute)}, []string{"request.approved/R1", "lock.result/L1"}},
		} {
			got, err := tx.Records(tt.f, 0)
			require.NoError(t, err)
			assert.Equal(t, tt.want, ids(got), "%+v", tt.f)
		}
		two, err := tx.Records(approvals.Filter{}, 2)
		require.NoError(t, err)
		assert.Len(t, two, 2)
		return nil
	})
}

func testValues(t *testing.T, h Harness) {
	s := open(t, h)
	update(t, s, func(tx approvals.Tx) error {
		_, err := tx.Value("okta.cursor")
		assert.ErrorIs(t, err, approvals.ErrNotFound)
		require.NoError(t, tx.SetValue("okta.cursor", []byte(`{"next":"/api/v1/logs?after=1"}`)))
		return tx.SetValue("okta.cursor", []byte(`{"next":"/api/v1/logs?after=2"}`))
	})
	view(t, s, func(tx approvals.Tx) error {
		v, err := tx.Value("okta.cursor")
		require.NoError(t, err)
		assert.JSONEq(t, `{"next":"/api/v1/logs?after=2"}`, string(v))
		return nil
	})
}

// testReopen checks that every kind of record survives a restart.
func testReopen(t *testing.T, h Harness) {
	s := h.New(t)
	update(t, s, func(tx approvals.Tx) error {
		require.NoError(t, tx.PutRequest(sampleRequest(1)))
		require.NoError(t, tx.PutLock(sampleLock("L1", "jane@corp.com", 0)))
		_, err := tx.AdmitTrigger(approvals.Trigger{ID: "okta:1", Admitted: epoch})
		require.NoError(t, err)
		require.NoError(t, tx.Append(approvals.Record{Time: epoch, Kind: approvals.KindOpened, ID: "REQ001"}))
		require.NoError(t, approvals.Touch(tx, "lock:L1", "C1", approvals.PriorityNormal, epoch))
		require.NoError(t, tx.SetValue("k", []byte("v")))
		_, err = tx.Once("env-1", time.Now().Add(time.Hour))
		return err
	})
	s = h.Reopen(t, s)
	t.Cleanup(func() { _ = s.Close() })
	update(t, s, func(tx approvals.Tx) error {
		r, err := tx.Request("REQ001")
		require.NoError(t, err)
		assert.Equal(t, sampleRequest(1), r)
		_, err = tx.Lock("L1")
		require.NoError(t, err)
		again, err := tx.AdmitTrigger(approvals.Trigger{ID: "okta:1", Admitted: epoch})
		require.NoError(t, err)
		assert.False(t, again, "seen events stay seen across a restart")
		recs, err := tx.Records(approvals.Filter{}, 0)
		require.NoError(t, err)
		assert.Len(t, recs, 1)
		p, err := tx.Post("lock:L1")
		require.NoError(t, err)
		assert.Equal(t, 1, p.Rev)
		v, err := tx.Value("k")
		require.NoError(t, err)
		assert.Equal(t, "v", string(v))
		first, err := tx.Once("env-1", time.Now().Add(time.Hour))
		require.NoError(t, err)
		assert.False(t, first, "a delivery seen before the restart is still seen")
		return nil
	})
}

// testPostsTakeTurns: a post shown and then changed again waits behind
// the posts already waiting, and one changed while it waits keeps its
// place, so a report edited on every retry cannot hold a channel's writer
// while the other posts wait.
func testPostsTakeTurns(t *testing.T, h Harness) {
	s := open(t, h)
	at := func(sec int) time.Time { return epoch.Add(time.Duration(sec) * time.Second) }
	update(t, s, func(tx approvals.Tx) error {
		require.NoError(t, approvals.Touch(tx, "lock:X", "CNOTIFY", approvals.PriorityNormal, at(0)))
		return approvals.Touch(tx, "lock:Y", "CNOTIFY", approvals.PriorityNormal, at(1))
	})
	update(t, s, func(tx approvals.Tx) error {
		x, err := tx.Post("lock:X")
		require.NoError(t, err)
		x.TS, x.PostedRev = "1700000000.000100", x.Rev // written
		require.NoError(t, tx.PutPost(x))
		require.NoError(t, approvals.Touch(tx, "lock:X", "CNOTIFY", approvals.PriorityNormal, at(2))) // changed again
		require.NoError(t, approvals.Touch(tx, "lock:Z", "CNOTIFY", approvals.PriorityNormal, at(3)))
		require.NoError(t, approvals.Touch(tx, "lock:X", "CNOTIFY", approvals.PriorityNormal, at(4))) // and again, while waiting
		return approvals.Touch(tx, "lock:Y", "CNOTIFY", approvals.PriorityNormal, at(5))
	})
	view(t, s, func(tx approvals.Tx) error {
		due, err := tx.Posts(approvals.PostQuery{Channel: "CNOTIFY", Due: at(60)})
		require.NoError(t, err)
		var keys []string
		for _, p := range due {
			keys = append(keys, p.Key)
		}
		assert.Equal(t, []string{"lock:Y", "lock:X", "lock:Z"}, keys, "Y waited since 1 s, X since 2 s, Z since 3 s")
		return nil
	})
}
