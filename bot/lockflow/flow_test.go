package lockflow_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/bot/lockflow"
	"github.com/lockbot/lockbot/kandji/kandjitest"
	"github.com/lockbot/lockbot/okta"
	"github.com/lockbot/lockbot/okta/oktatest"
)

// bob's devices, the look-alikes that must never be locked with them, and
// someone else.
var tenant = []kandjitest.Device{
	{ID: "bob-mac", Name: "Bob's MacBook Pro", Platform: "Mac", Serial: "C02BOBMAC1", UserEmail: "bob@corp.com"},
	{ID: "bob-phone", Name: "Bob's iPhone", Platform: "iPhone", Serial: "F17BOBPHONE", UserEmail: "bob@corp.com"},
	{ID: "xbob-mac", Name: "Xbob's Mac", Platform: "Mac", Serial: "C02XBOB001", UserEmail: "xbob@corp.com"},
	{ID: "evil-mac", Name: "Evil Mac", Platform: "Mac", Serial: "C02EVIL001", UserEmail: "bob@corp.com.evil"},
	{ID: "kate-mac", Name: "Kate's Mac", Platform: "Mac", Serial: "C02KATE001", UserEmail: "kate@corp.com"},
	{ID: "kelvin-mac", Name: "Kelvin Kate's Mac", Platform: "Mac", Serial: "C02KELVIN1", UserEmail: "\u212Aate@corp.com"},
}

func TestAutomaticLockLocksEveryDeviceOnce(t *testing.T) {
	w := newWorld(t, tenant)
	require.Len(t, w.admit(event("e1", okta.EventSuspend, "00ubob", "bob@corp.com")), 1)
	j := w.lockOf("e1", final)
	assert.Equal(t, approvals.JobDone, j.State)
	assert.Equal(t, map[string]approvals.Outcome{"bob-mac": approvals.OutcomeLocked, "bob-phone": approvals.OutcomeLocked}, outcomes(j))
	for _, id := range []string{"bob-mac", "bob-phone"} {
		assert.Equal(t, 1, w.kandji.LockPosts(id), id)
	}
	for _, id := range []string{"xbob-mac", "evil-mac"} {
		assert.Zero(t, w.kandji.LockPosts(id), "never a look-alike: %s", id)
	}
	msg, phone := w.kandji.LastLockRequest("bob-mac")
	assert.Equal(t, "Locked by IT", msg)
	assert.Empty(t, phone)
	results := w.records(approvals.Filter{ID: j.ID, Kinds: []approvals.Kind{approvals.KindLockResult}})
	assert.Len(t, results, 2, "one journal record per device, once Kandji answered")
	assert.Len(t, w.records(approvals.Filter{Kinds: []approvals.Kind{approvals.KindAutoLock}}), 1)
	assert.Len(t, w.records(approvals.Filter{Kinds: []approvals.Kind{approvals.KindLockDone}, ID: j.ID}), 1)

	// The same event again (Okta's retry, the catch-up) is not admitted.
	assert.Empty(t, w.admit(event("e1", okta.EventSuspend, "00ubob", "bob@corp.com")))
}

// TestLookAlikeIsAnotherPerson: a device assigned to "\u212Aate@corp.com"
// (KELVIN SIGN) is never locked for kate@corp.com, whether the lookup is
// exact or an inventory sweep.
func TestLookAlikeIsAnotherPerson(t *testing.T) {
	for _, sweep := range []bool{false, true} {
		t.Run(fmt.Sprintf("sweep=%v", sweep), func(t *testing.T) {
			w := newWorld(t, tenant, withConfig(func(c *lockflow.Config) {
				if sweep {
					c.TenantDevices = 1 // a sweep costs one call, so even one waiting person is swept for
				}
			}))
			w.admit(event("k1", okta.EventSuspend, "00ukate", "kate@corp.com"), event("k2", okta.EventSuspend, "00ubob", "bob@corp.com"))
			j := w.lockOf("k1", final)
			w.lockOf("k2", final)
			assert.Equal(t, map[string]approvals.Outcome{"kate-mac": approvals.OutcomeLocked}, outcomes(j))
			assert.Zero(t, w.kandji.LockPosts("kelvin-mac"))
			swept := false
			for _, r := range w.kandji.Requests() {
				if r.Path == "/api/v1/devices" && !strings.Contains(r.RawQuery, "user_email") {
					swept = true
				}
			}
			assert.Equal(t, sweep, swept, "the lookup was the one under test")
		})
	}
}

// TestLookupByLoginWhenEmailDiffers: Kandji knows the person by the Okta
// login, not the profile email; the lock finds them and says how.
func TestLookupByLoginWhenEmailDiffers(t *testing.T) {
	devices := []kandjitest.Device{{ID: "rob-mac", Platform: "Mac", Serial: "C02ROB0001", UserEmail: "rob.b@corp.com"}}
	w := newWorld(t, devices, withOkta(oktatest.User{ID: "00urob", Login: "rob.b@corp.com", Email: "robert@corp.com", Status: oktatest.StatusSuspended}))
	w.admit(event("r1", okta.EventSuspend, "00urob", "rob.b@corp.com"))
	j := w.lockOf("r1", final)
	assert.Equal(t, "robert@corp.com", j.Target(), "the profile email is the person")
	assert.Equal(t, lockflow.MatchedLogin, j.MatchedBy)
	assert.Equal(t, approvals.OutcomeLocked, outcomes(j)["rob-mac"])
}

// TestLookupFindsOddlyStoredEmail: Kandji stores the email with other
// capitals and surrounding spaces, which its exact filter does not match;
// an inventory read finds the devices.
func TestLookupFindsOddlyStoredEmail(t *testing.T) {
	devices := []kandjitest.Device{{ID: "ann-mac", Platform: "Mac", Serial: "C02ANN0001", UserEmail: "ann@corp.com"}}
	w := newWorld(t, devices)
	require.True(t, w.kandji.SetUserEmail("ann-mac", " Ann@Corp.com "))
	w.admit(event("a1", okta.EventSuspend, "00uann", "ann@corp.com"))
	j := w.lockOf("a1", final)
	assert.Equal(t, approvals.OutcomeLocked, outcomes(j)["ann-mac"])
}

// TestStaleSuspendIsSkipped: a suspend recovered after downtime, for a
// person Okta shows ACTIVE again, locks nothing and says why.
func TestStaleSuspendIsSkipped(t *testing.T) {
	w := newWorld(t, tenant, withOkta(oktatest.User{ID: "00ubob", Login: "bob@corp.com", Email: "bob@corp.com", Status: oktatest.StatusActive}))
	ev := event("s1", okta.EventSuspend, "00ubob", "bob@corp.com")
	ev.Source = okta.SourceCatchup
	w.admit(ev)
	j := w.lockOf("s1", final)
	assert.Equal(t, approvals.JobSkipped, j.State)
	assert.Contains(t, j.Outcome, "ACTIVE again")
	assert.Zero(t, w.kandji.LockPosts("bob-mac"))
	assert.Len(t, w.records(approvals.Filter{Kinds: []approvals.Kind{approvals.KindLockSkipped}}), 1, "the skip is journaled")
	assert.Empty(t, w.records(approvals.Filter{Kinds: []approvals.Kind{approvals.KindLockResult}}))
}

// TestSuspiciousActivityLocksAnActivePerson: the person who reports
// suspicious activity is active, and that is no reason to skip.
func TestSuspiciousActivityLocksAnActivePerson(t *testing.T) {
	w := newWorld(t, tenant, withOkta(oktatest.User{ID: "00ubob", Login: "bob@corp.com", Email: "bob@corp.com", Status: oktatest.StatusActive}))
	w.admit(event("x1", okta.EventSuspicious, "00ubob", "bob@corp.com"))
	j := w.lockOf("x1", final)
	assert.Equal(t, approvals.JobDone, j.State)
	assert.Equal(t, 1, w.kandji.LockPosts("bob-mac"))
}

// TestRefusedTokenIsRetriedUntilFixed: Kandji answers 401 on the lock (a
// revoked token); the job keeps retrying, saying which token to fix, and
// locks once Kandji accepts again. It used to report "0 of 2 secured" and
// mark the event done.
func TestRefusedTokenIsRetriedUntilFixed(t *testing.T) {
	w := newWorld(t, tenant)
	w.kandji.FailLocks(6, http.StatusUnauthorized, 0)
	w.admit(event("t1", okta.EventSuspend, "00ubob", "bob@corp.com"))
	j := w.lockOf("t1", func(j approvals.LockJob) bool { return j.State == approvals.JobRetrying })
	assert.Contains(t, j.LastError, "KANDJI_API_TOKEN", "the live state names the token to fix")
	assert.Contains(t, j.LastError, "retrying, attempt")
	j = w.lockOf("t1", final)
	assert.Equal(t, approvals.JobDone, j.State, "locked once the token works again")
	assert.Equal(t, map[string]approvals.Outcome{"bob-mac": approvals.OutcomeLocked, "bob-phone": approvals.OutcomeLocked}, outcomes(j))
	assert.Greater(t, j.Attempts, 1)
}

// TestLongOutageStillLocks: Kandji fails for far longer than the client's
// own retries (and the three rounds the old bot gave up after); the lock
// keeps going until it succeeds.
func TestLongOutageStillLocks(t *testing.T) {
	w := newWorld(t, tenant)
	w.kandji.FailLocks(16, http.StatusServiceUnavailable, 0) // more than 3 rounds of 2 devices × 2 client attempts
	w.admit(event("o1", okta.EventDeactivate, "00ubob", "bob@corp.com"))
	j := w.lockOf("o1", final)
	assert.Equal(t, approvals.JobDone, j.State)
	assert.Greater(t, j.Attempts, 3)
	for _, d := range j.Devices {
		assert.Equal(t, approvals.OutcomeLocked, d.Outcome, d.ID)
	}
}

// TestDeadlineEndsWithAPlainReport: a lock still failing when the deadline
// passes ends failed, each device saying so.
func TestDeadlineEndsWithAPlainReport(t *testing.T) {
	w := newWorld(t, tenant, withConfig(func(c *lockflow.Config) { c.Deadline = 300 * time.Millisecond }))
	w.kandji.FailLocks(1_000_000, http.StatusServiceUnavailable, 0)
	w.admit(event("d1", okta.EventSuspend, "00ubob", "bob@corp.com"))
	j := w.lockOf("d1", final)
	assert.Equal(t, approvals.JobFailed, j.State)
	for _, d := range j.Devices {
		assert.Equal(t, approvals.OutcomeFailed, d.Outcome)
		assert.Contains(t, d.Detail, "deadline")
	}
	assert.Contains(t, j.Outcome, "a person must act")
	assert.Len(t, w.records(approvals.Filter{ID: j.ID, Kinds: []approvals.Kind{approvals.KindLockResult}}), 2)
}

// TestOutcomesComeFromWhatKandjiSaysOfTheLock: a device busy with another
// MDM command is retried (never ✅), a 409 with no lock in its commands is
// not a lock, and a lock Kandji cannot confirm is not ✅ either.
func TestOutcomesComeFromWhatKandjiSaysOfTheLock(t *testing.T) {
	w := newWorld(t, tenant)
	require.True(t, w.kandji.SetBusy("bob-mac", "EraseDevice"))
	w.admit(event("b1", okta.EventSuspend, "00ubob", "bob@corp.com"))
	j := w.lockOf("b1", func(j approvals.LockJob) bool { return j.State == approvals.JobRetrying })
	assert.Equal(t, approvals.OutcomeRetrying, outcomes(j)["bob-mac"], "busy is never locked")
	assert.Contains(t, j.LastError, "EraseDevice")
	w.kandji.CompleteCommands("bob-mac")
	j = w.lockOf("b1", final)
	assert.Equal(t, approvals.OutcomeLocked, outcomes(j)["bob-mac"])

	t.Run("unconfirmed", func(t *testing.T) {
		w := newWorld(t, tenant)
		require.True(t, w.kandji.SetLockConflict("bob-mac", true))
		w.kandji.SetCommandsFailure(http.StatusForbidden)
		w.admit(event("u1", okta.EventSuspend, "00ubob", "bob@corp.com"))
		j := w.lockOf("u1", final)
		assert.Equal(t, approvals.OutcomeUnconfirmed, outcomes(j)["bob-mac"])
		assert.Equal(t, approvals.JobFailed, j.State, "an unconfirmed lock calls for a person")
	})
}

// TestEventsForOnePersonMakeOneLock: events about one person within the
// window join one lock; one after it opens another.
func TestEventsForOnePersonMakeOneLock(t *testing.T) {
	w := newWorld(t, tenant, withClock(), withConfig(func(c *lockflow.Config) { c.CoalesceWindow = time.Minute }))
	w.admit(event("c1", okta.EventSuspend, "00ubob", "bob@corp.com"))
	first := w.lockOf("c1", final)
	w.admit(event("c2", okta.EventDeactivate, "00ubob", "Bob@Corp.com"))
	joined := w.lockOf("c2", func(j approvals.LockJob) bool { return len(j.Triggers) == 2 })
	assert.Equal(t, first.ID, joined.ID)
	assert.Equal(t, 1, w.kandji.LockPosts("bob-mac"), "no second lock for a coalesced event")
	w.clock.Advance(2 * time.Minute)
	w.admit(event("c3", okta.EventSuspend, "00ubob", "bob@corp.com"))
	third := w.lockOf("c3", final)
	assert.NotEqual(t, first.ID, third.ID)
}

func TestDryRunLocksNothing(t *testing.T) {
	w := newWorld(t, tenant, withConfig(func(c *lockflow.Config) { c.DryRun = true }))
	w.admit(event("y1", okta.EventSuspend, "00ubob", "bob@corp.com"))
	j := w.lockOf("y1", final)
	assert.Equal(t, approvals.JobDone, j.State)
	assert.Equal(t, approvals.OutcomeDryRun, outcomes(j)["bob-mac"])
	assert.Zero(t, w.kandji.LockPosts("bob-mac"))
	assert.True(t, strings.HasPrefix(j.Outcome, "dry run"))
}

func TestDomainNotAllowedIsRefusedAndNoticed(t *testing.T) {
	w := newWorld(t, tenant, withConfig(func(c *lockflow.Config) { c.AllowedDomains = []string{"example.org"} }))
	w.admit(event("n1", okta.EventSuspend, "00ubob", "bob@corp.com"))
	require.Eventually(t, func() bool {
		return len(w.records(approvals.Filter{Kinds: []approvals.Kind{approvals.KindRefused}})) == 1
	}, hang, 5*time.Millisecond)
	assert.Zero(t, w.kandji.LockPosts("bob-mac"))
	var notices []approvals.Post
	require.NoError(t, w.store.View(t.Context(), func(tx approvals.Tx) error {
		var err error
		notices, err = tx.Posts(approvals.PostQuery{Kind: approvals.PostNotice})
		return err
	}))
	require.Len(t, notices, 1)
	assert.Contains(t, notices[0].Text, "LOCKBOT_ALLOWED_DOMAINS")
}

// TestApprovedRequestLocksAndSendsPINs: a manual lock looks the person up
// afresh, marks a device that is no longer theirs, and asks for the PINs
// to be sent to the approver who completed the quorum.
func TestApprovedRequestLocksAndSendsPINs(t *testing.T) {
	w := newWorld(t, tenant)
	r, err := w.engine.Open(t.Context(), approvals.NewRequest{
		Person: approvals.Person{Email: "bob@corp.com"}, Requester: "UALICE",
		Devices: []approvals.Device{{ID: "bob-mac", Name: "Bob's MacBook Pro", Platform: "Mac"}, {ID: "old-ipad", Name: "Old iPad", Platform: "iPad"}},
	})
	require.NoError(t, err)
	r, err = w.engine.Approve(t.Context(), r.ID, "UDAVE")
	require.NoError(t, err)
	var j approvals.LockJob
	require.Eventually(t, func() bool {
		_ = w.store.View(t.Context(), func(tx approvals.Tx) error {
			j, err = tx.Lock(r.LockID)
			return err
		})
		return j.State.Final()
	}, hang, 5*time.Millisecond)
	assert.Equal(t, map[string]approvals.Outcome{"bob-mac": approvals.OutcomeLocked, "bob-phone": approvals.OutcomeLocked,
		"old-ipad": approvals.OutcomeUnassigned}, outcomes(j))
	select {
	case key := <-w.pins:
		assert.Equal(t, lockflow.PINsTaskKey(j.ID, "UDAVE", "approved"), key)
	case <-time.After(hang):
		t.Fatal("the approver's PINs were never asked for")
	}
}

// TestApproveRouteOpensARequest: an event type routed to approval opens a
// request showing the devices, and locks nothing.
func TestApproveRouteOpensARequest(t *testing.T) {
	w := newWorld(t, tenant)
	w.admit(event("q1", okta.EventRiskDetect, "00ubob", "bob@corp.com"))
	var reqs []approvals.Request
	require.Eventually(t, func() bool {
		_ = w.store.View(t.Context(), func(tx approvals.Tx) error {
			var err error
			reqs, err = tx.Requests(approvals.StatePending, 0)
			return err
		})
		return len(reqs) == 1
	}, hang, 5*time.Millisecond)
	assert.Len(t, reqs[0].Devices, 2)
	assert.Equal(t, lockflow.OktaRequester, reqs[0].Requester)
	assert.Zero(t, w.kandji.LockPosts("bob-mac"))
}

// TestConcurrentAdmissionsAdmitEachEventOnce: deliveries that race (Okta
// retrying while the first try is still being answered, the catch-up
// reading the same events) admit every event exactly once between them,
// and each admitted event has its trigger stored.
func TestConcurrentAdmissionsAdmitEachEventOnce(t *testing.T) {
	w := newWorld(t, tenant)
	const callers, events = 20, 10
	got := make([][]okta.Event, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			// Callers overlap in pairs: caller i sends events of block i/2.
			var evs []okta.Event
			for j := range events {
				evs = append(evs, event(fmt.Sprintf("race-%d-%d", i/2, j), okta.EventSuspend, "00ubob", "bob@corp.com"))
			}
			var err error
			got[i], err = w.flow.Admit(t.Context(), evs)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	seen := map[string]int{}
	for _, g := range got {
		for _, ev := range g {
			seen[ev.UUID]++
		}
	}
	assert.Len(t, seen, callers/2*events, "every event admitted")
	for id, n := range seen {
		assert.Equal(t, 1, n, "%s admitted once", id)
	}
	require.NoError(t, w.store.View(t.Context(), func(tx approvals.Tx) error {
		for id := range seen {
			_, err := tx.Trigger("okta:" + id)
			assert.NoError(t, err, id)
		}
		return nil
	}))
}

// TestAdmitAfterTheCallerGaveUpAdmitsNothing: the hook's request ended (Okta
// timed out), so nothing is admitted and Okta's retry brings the event.
func TestAdmitAfterTheCallerGaveUpAdmitsNothing(t *testing.T) {
	w := newWorld(t, tenant)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := w.flow.Admit(ctx, []okta.Event{event("late", okta.EventSuspend, "00ubob", "bob@corp.com")})
	require.ErrorIs(t, err, context.Canceled)
	assert.Len(t, w.admit(event("late", okta.EventSuspend, "00ubob", "bob@corp.com")), 1, "the retry is admitted")
}
