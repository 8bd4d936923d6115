package approvals

import (
	"context"
	"encoding/base32"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpen(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	journal, records := testJournal(t)
	e := NewEngine(NewMemoryStore(), testApprovers(), WithClock(clock.Now), WithJournal(journal))

	r, err := e.Open(ctx, manualRequest())
	require.NoError(t, err)
	assert.Equal(t, Request{
		ID: r.ID, Target: target, Requester: requester, Reason: "laptop stolen",
		Origin: Origin{Kind: OriginManual}, Devices: sampleDevices(),
		Created: clock.Now(), Expires: clock.Now().Add(DefaultTTL), Required: DefaultRequired, State: StatePending,
	}, r)
	stored, err := e.Get(ctx, r.ID)
	require.NoError(t, err)
	assert.Equal(t, r, stored)

	assert.Equal(t, []Record{{Time: clock.Now(), Kind: KindOpened, ID: r.ID, Actor: requester, Target: target,
		Details: map[string]string{
			"reason": "laptop stolen", "origin": OriginManual, "required": "1",
			"expires": r.Expires.Format(time.RFC3339),
			"devices": "Jane's MacBook Pro (C02XK1JHJG5J), Jane's iPhone (F2LZK0Q1N72Q)",
		}}}, records())

	nr := manualRequest()
	nr.Required, nr.TTL = 2, time.Hour
	nr.Origin = Origin{Kind: OriginOkta, EventType: "user.account.report_suspicious_activity_by_enduser", EventID: "evt-9"}
	r2, err := e.Open(ctx, nr)
	require.NoError(t, err)
	assert.Equal(t, 2, r2.Required)
	assert.Equal(t, clock.Now().Add(time.Hour), r2.Expires)
	assert.Equal(t, nr.Origin, r2.Origin)
}

func TestRequestIDs(t *testing.T) {
	ctx := context.Background()
	e := NewEngine(NewMemoryStore(), nil)
	seen := map[string]bool{}
	for range 200 {
		r, err := e.Open(ctx, manualRequest())
		require.NoError(t, err)
		raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(r.ID)
		require.NoError(t, err, "IDs are unpadded base32, safe in URLs")
		assert.GreaterOrEqual(t, len(raw)*8, 128, "at least 128 random bits")
		assert.False(t, seen[r.ID])
		seen[r.ID] = true
	}
}

func TestOpenRefusesInvalidRequests(t *testing.T) {
	tests := []struct {
		name string
		edit func(*NewRequest)
		want string
	}{
		{name: "no target", edit: func(nr *NewRequest) { nr.Target = "  " }, want: "target is empty"},
		{name: "no requester", edit: func(nr *NewRequest) { nr.Requester = "" }, want: "requester is empty"},
		{name: "negative quorum", edit: func(nr *NewRequest) { nr.Required = -1 }, want: "negative"},
		{name: "negative TTL", edit: func(nr *NewRequest) { nr.TTL = -time.Second }, want: "TTL is negative"},
		{name: "everything wrong", edit: func(nr *NewRequest) { *nr = NewRequest{TTL: -1} },
			want: "target is empty; requester is empty; TTL is negative"},
	}
	for _, tt := range tests {
		for _, open := range []string{"Open", "OpenAutomatic"} {
			t.Run(open+"/"+tt.name, func(t *testing.T) {
				ctx := context.Background()
				journal, records := testJournal(t)
				store := NewMemoryStore()
				e := NewEngine(store, testApprovers(), WithJournal(journal))
				nr := manualRequest()
				tt.edit(&nr)
				var err error
				if open == "Open" {
					_, err = e.Open(ctx, nr)
				} else {
					_, err = e.OpenAutomatic(ctx, nr)
				}
				require.ErrorIs(t, err, errInvalid)
				assert.ErrorContains(t, err, tt.want)
				list, lerr := store.List(ctx)
				require.NoError(t, lerr)
				assert.Empty(t, list)
				assert.Empty(t, records())
			})
		}
	}
}

func TestOpenAutomatic(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	journal, records := testJournal(t)
	e := NewEngine(NewMemoryStore(), testApprovers(), WithClock(clock.Now), WithJournal(journal))
	nr := NewRequest{Target: target, Requester: "okta", Reason: "user suspended", Devices: sampleDevices(),
		Required: 3, Origin: Origin{EventType: "user.lifecycle.suspend", EventID: "evt-1", Actor: "admin@example.com"}}
	r, err := e.OpenAutomatic(ctx, nr)
	require.NoError(t, err)
	assert.Equal(t, StateExecuting, r.State)
	assert.Equal(t, "okta", r.DecidedBy)
	assert.Equal(t, clock.Now(), r.DecidedAt)
	assert.Zero(t, r.Required, "an automatic lock needs no approvals")
	assert.Equal(t, OriginOkta, r.Origin.Kind)

	recs := records()
	require.Len(t, recs, 1)
	assert.Equal(t, KindAutoLock, recs[0].Kind)
	assert.Equal(t, "okta", recs[0].Actor)
	assert.Equal(t, map[string]string{
		"reason": "user suspended", "origin": OriginOkta, "event_type": "user.lifecycle.suspend",
		"event_id": "evt-1", "okta_actor": "admin@example.com", "required": "0",
		"expires": r.Expires.Format(time.RFC3339),
		"devices": "Jane's MacBook Pro (C02XK1JHJG5J), Jane's iPhone (F2LZK0Q1N72Q)",
	}, recs[0].Details)

	_, err = e.Approve(ctx, r.ID, approverA)
	require.ErrorIs(t, err, ErrNotPending, "nobody approves an automatic lock")
	done, err := e.Finish(ctx, r.ID, true, "")
	require.NoError(t, err)
	assert.Equal(t, StateDone, done.State)
	assert.Equal(t, "done", done.Outcome, "an empty outcome is named after the state")
}

func TestJournalOfAFullFlow(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	journal, records := testJournal(t)
	e := NewEngine(NewMemoryStore(), testApprovers(), WithClock(clock.Now), WithJournal(journal))
	nr := manualRequest()
	nr.Required = 2
	r, err := e.Open(ctx, nr)
	require.NoError(t, err)
	_, err = e.Approve(ctx, r.ID, approverA)
	require.NoError(t, err)
	_, err = e.Approve(ctx, r.ID, requester)
	require.ErrorIs(t, err, ErrSelfApproval)
	_, err = e.Approve(ctx, r.ID, approverB)
	require.NoError(t, err)
	_, err = e.Deny(ctx, r.ID, outsider, "")
	require.ErrorIs(t, err, ErrNotApprover)
	_, err = e.Approve(ctx, "missing", approverA)
	require.ErrorIs(t, err, ErrNotFound)

	type line struct {
		kind    Kind
		actor   string
		target  string
		details map[string]string
	}
	var got []line
	for _, rec := range records() {
		if rec.Kind == KindOpened {
			continue
		}
		got = append(got, line{rec.Kind, rec.Actor, rec.Target, rec.Details})
	}
	assert.Equal(t, []line{
		{KindApproval, approverA, target, map[string]string{"approvals": "1", "required": "2"}},
		{KindRefused, requester, target, map[string]string{"op": "approve", "reason": "self_approval"}},
		{KindApproval, approverB, target, map[string]string{"approvals": "2", "required": "2"}},
		{KindApproved, approverB, target, map[string]string{"approvers": approverA + "," + approverB}},
		{KindRefused, outsider, target, map[string]string{"op": "deny", "reason": "not_approver"}},
		{KindRefused, approverA, "", map[string]string{"op": "approve", "reason": "not_found"}},
	}, got)
}

func TestAuthorizerFailure(t *testing.T) {
	ctx := context.Background()
	slackDown := errors.New("usergroups.users.list: service unavailable")
	var asked []string
	auth := AuthorizerFunc(func(_ context.Context, userID string) (bool, error) {
		asked = append(asked, userID)
		return false, slackDown
	})
	journal, records := testJournal(t)
	e := NewEngine(NewMemoryStore(), auth, WithJournal(journal))
	r, err := e.Open(ctx, manualRequest())
	require.NoError(t, err)

	_, err = e.Approve(ctx, r.ID, approverA)
	require.ErrorIs(t, err, slackDown, "the Authorizer's error is returned wrapped")
	assert.NotErrorIs(t, err, ErrNotApprover)
	_, err = e.Deny(ctx, r.ID, approverB, "")
	require.ErrorIs(t, err, slackDown)
	_, err = e.Approve(ctx, r.ID, requester)
	require.ErrorIs(t, err, ErrSelfApproval)
	assert.Equal(t, []string{approverA, approverB}, asked, "self-approval is refused before asking")

	got, err := e.Get(ctx, r.ID)
	require.NoError(t, err)
	assert.Equal(t, r, got, "nothing changed")
	recs := records()
	assert.Equal(t, "error", recs[1].Details["reason"])
	assert.NotContains(t, recs[1].Details, "error", "no error text in the journal")

	cancelled, err := e.Deny(ctx, r.ID, requester, "")
	require.NoError(t, err, "withdrawing needs no authorisation")
	assert.Equal(t, StateCancelled, cancelled.State)
}

func TestNilAuthorizerLetsNobodyDecide(t *testing.T) {
	ctx := context.Background()
	e := NewEngine(NewMemoryStore(), nil)
	r, err := e.Open(ctx, manualRequest())
	require.NoError(t, err)
	_, err = e.Approve(ctx, r.ID, approverA)
	require.ErrorIs(t, err, ErrNotApprover)
	_, err = e.Deny(ctx, r.ID, approverA, "")
	require.ErrorIs(t, err, ErrNotApprover)
}

// TestDecisionsFailClosedWithoutJournal: what cannot be audited is not done.
func TestDecisionsFailClosedWithoutJournal(t *testing.T) {
	ctx := context.Background()
	j, err := OpenJournal(filepath.Join(t.TempDir(), "audit.jsonl"))
	require.NoError(t, err)
	store := NewMemoryStore()
	logger, logs := logBuffer()
	e := NewEngine(store, testApprovers(), WithJournal(j), WithLogger(logger))
	r, err := e.Open(ctx, manualRequest())
	require.NoError(t, err)
	require.NoError(t, j.Close()) // the disk is gone

	_, err = e.Approve(ctx, r.ID, approverA)
	require.ErrorIs(t, err, errClosed)
	got, err := e.Get(ctx, r.ID)
	require.NoError(t, err)
	assert.Equal(t, r, got, "the approval was not made")
	assert.Contains(t, logs.String(), "journaling a refusal failed")

	_, err = e.Open(ctx, manualRequest())
	require.ErrorIs(t, err, errClosed)
	_, err = e.OpenAutomatic(ctx, NewRequest{Target: target, Requester: "okta"})
	require.ErrorIs(t, err, errClosed)
	list, err := store.List(ctx)
	require.NoError(t, err)
	assert.Len(t, list, 1, "nothing unjournaled was stored")
}

func TestStoreFailuresAfterJournaling(t *testing.T) {
	ctx := context.Background()
	journal, records := testJournal(t)
	store := &flakyStore{CacheStore: NewMemoryStore()}
	logger, logs := logBuffer()
	e := NewEngine(store, testApprovers(), WithJournal(journal), WithLogger(logger))
	r, err := e.Open(ctx, manualRequest())
	require.NoError(t, err)

	store.fail(errDisk, "create")
	_, err = e.Open(ctx, manualRequest())
	require.ErrorIs(t, err, errDisk)
	assert.Contains(t, logs.String(), "journaled request was not stored")

	store.fail(errDisk, "get")
	_, err = e.Approve(ctx, r.ID, approverA)
	require.ErrorIs(t, err, errDisk)
	_, err = e.Begin(ctx, r.ID)
	require.ErrorIs(t, err, ErrNotPending, "Begin does not read first")
	_, err = e.List(ctx)
	require.NoError(t, err)

	store.fail(errDisk, "list")
	_, err = e.List(ctx)
	require.ErrorIs(t, err, errDisk)
	store.fail(nil)
	assert.Len(t, records(), 3, "two opens and the refused approval")
}

func TestJournaledChangeThatIsNotStored(t *testing.T) {
	ctx := context.Background()
	journal, records := testJournal(t)
	store, err := OpenStore(t.TempDir())
	require.NoError(t, err)
	logger, logs := logBuffer()
	e := NewEngine(store, testApprovers(), WithJournal(journal), WithLogger(logger))
	r, err := e.Open(ctx, manualRequest())
	require.NoError(t, err)
	require.NoError(t, store.disk.f.Close()) // every store write now fails

	_, err = e.Approve(ctx, r.ID, approverA)
	require.ErrorContains(t, err, "write store log")
	assert.Contains(t, logs.String(), "journaled change was not stored")
	got, err := e.Get(ctx, r.ID)
	require.NoError(t, err)
	assert.Equal(t, StatePending, got.State)
	kinds := []Kind{}
	for _, rec := range records() {
		kinds = append(kinds, rec.Kind)
	}
	assert.Equal(t, []Kind{KindOpened, KindApproval, KindApproved, KindRefused}, kinds,
		"the journal shows the attempt and its failure")
}

func TestRetentionHidesOldRequests(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	e := NewEngine(NewMemoryStore(), testApprovers(), WithClock(clock.Now), WithRetention(time.Hour))
	old, err := e.Open(ctx, manualRequest())
	require.NoError(t, err)
	_, err = e.Deny(ctx, old.ID, approverA, "")
	require.NoError(t, err)
	nr := manualRequest()
	nr.TTL = 3 * time.Hour
	live, err := e.Open(ctx, nr)
	require.NoError(t, err)

	clock.Advance(time.Hour + time.Second)
	_, err = e.Get(ctx, old.ID)
	require.ErrorIs(t, err, ErrNotFound)
	_, err = e.SetCard(ctx, old.ID, Card{Channel: "C1"})
	require.ErrorIs(t, err, ErrNotFound)
	_, err = e.Approve(ctx, old.ID, approverA)
	require.ErrorIs(t, err, ErrNotFound)
	list, err := e.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1, "live requests are never hidden")
	assert.Equal(t, live.ID, list[0].ID)
}

func TestSetCard(t *testing.T) {
	ctx := context.Background()
	e := NewEngine(NewMemoryStore(), testApprovers())
	r, err := e.Open(ctx, manualRequest())
	require.NoError(t, err)
	card := Card{Channel: "C0APPROVALS", TS: "1700000000.000100"}
	got, err := e.SetCard(ctx, r.ID, card)
	require.NoError(t, err)
	assert.Equal(t, card, got.Card)
	got, err = e.Get(ctx, r.ID)
	require.NoError(t, err)
	assert.Equal(t, card, got.Card)
	_, err = e.SetCard(ctx, "missing", card)
	require.ErrorIs(t, err, ErrNotFound)
}

func TestStateTerminal(t *testing.T) {
	for s, want := range map[State]bool{
		StatePending: false, StateApproved: false, StateExecuting: false,
		StateDone: true, StateFailed: true, StateDenied: true, StateExpired: true, StateCancelled: true,
		"bogus": false,
	} {
		assert.Equal(t, want, s.Terminal(), "%s", s)
	}
}
