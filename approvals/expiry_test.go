package approvals

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// expiryLog collects OnExpire calls.
type expiryLog struct {
	mu  sync.Mutex
	ids []string
}

func (l *expiryLog) record(r Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ids = append(l.ids, r.ID)
}

func (l *expiryLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.ids...)
}

func TestExpireDue(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	journal, records := testJournal(t)
	var log expiryLog
	e := NewEngine(NewMemoryStore(), testApprovers(), WithClock(clock.Now), WithJournal(journal),
		WithOnExpire(log.record))

	short, long, decided := openRequest(t, e, 1, 5*time.Minute), openRequest(t, e, 1, time.Hour), openRequest(t, e, 1, 5*time.Minute)
	_, err := e.Approve(ctx, decided.ID, approverA)
	require.NoError(t, err)
	auto, err := e.OpenAutomatic(ctx, NewRequest{Target: target, Requester: "okta", TTL: time.Minute})
	require.NoError(t, err)

	clock.Advance(5*time.Minute - time.Nanosecond)
	got, err := e.ExpireDue(ctx)
	require.NoError(t, err)
	assert.Empty(t, got, "nothing is due before its deadline")

	clock.Advance(time.Nanosecond)
	got, err = e.ExpireDue(ctx)
	require.NoError(t, err)
	require.Len(t, got, 1, "a request expires at its deadline exactly")
	assert.Equal(t, short.ID, got[0].ID)
	assert.Equal(t, StateExpired, got[0].State)
	assert.Equal(t, SystemActor, got[0].DecidedBy)
	assert.Equal(t, clock.Now(), got[0].DecidedAt)
	assert.Equal(t, "expired, nothing was locked", got[0].Outcome)
	assert.Equal(t, []string{short.ID}, log.get())

	got, err = e.ExpireDue(ctx)
	require.NoError(t, err)
	assert.Empty(t, got, "an expired request does not expire twice")

	clock.Advance(time.Hour)
	got, err = e.ExpireDue(ctx)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, long.ID, got[0].ID)
	assert.Equal(t, []string{short.ID, long.ID}, log.get())

	for id, want := range map[string]State{decided.ID: StateApproved, auto.ID: StateExecuting} {
		r, err := e.Get(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, want, r.State, "only pending requests expire")
	}

	var expiredRecs []Record
	for _, r := range records() {
		if r.Kind == KindExpired {
			expiredRecs = append(expiredRecs, r)
		}
	}
	require.Len(t, expiredRecs, 2)
	assert.Equal(t, Record{Time: testEpoch.Add(5 * time.Minute), Kind: KindExpired, ID: short.ID,
		Actor: SystemActor, Target: target,
		Details: map[string]string{"deadline": short.Expires.Format(time.RFC3339)}}, expiredRecs[0])
}

// atDeadline opens one request on a fake clock and moves the clock to its
// deadline.
func atDeadline(t *testing.T) (*Engine, Request, *expiryLog) {
	t.Helper()
	clock := newFakeClock()
	log := &expiryLog{}
	e := NewEngine(NewMemoryStore(), testApprovers(), WithClock(clock.Now), WithOnExpire(log.record))
	r := openRequest(t, e, 1, 0)
	clock.Advance(DefaultTTL)
	return e, r, log
}

func TestExpiryByClickCallsOnExpireOnce(t *testing.T) {
	ctx := context.Background()
	e, r, log := atDeadline(t)
	_, err := e.Approve(ctx, r.ID, approverA)
	require.ErrorIs(t, err, ErrExpired)
	_, err = e.Deny(ctx, r.ID, approverB, "")
	require.ErrorIs(t, err, ErrNotPending, "the first click expired it")
	got, err := e.ExpireDue(ctx)
	require.NoError(t, err)
	assert.Empty(t, got)
	assert.Equal(t, []string{r.ID}, log.get())
}

func TestExpireDueRacingApprove(t *testing.T) {
	ctx := context.Background()
	for range 50 {
		e, r, log := atDeadline(t)
		var wg sync.WaitGroup
		var expired []Request
		var approveErr, expireErr error
		wg.Go(func() { _, approveErr = e.Approve(ctx, r.ID, approverA) })
		wg.Go(func() { expired, expireErr = e.ExpireDue(ctx) })
		wg.Wait()

		require.NoError(t, expireErr)
		assert.True(t, errors.Is(approveErr, ErrExpired) || errors.Is(approveErr, ErrNotPending), "%v", approveErr)
		assert.Equal(t, []string{r.ID}, log.get(), "expired once, by whichever came first")
		assert.Equal(t, errors.Is(approveErr, ErrNotPending), len(expired) == 1)
	}
}

func TestExpireDueReportsStoreFailures(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	store := &flakyStore{CacheStore: NewMemoryStore()}
	e := NewEngine(store, testApprovers(), WithClock(clock.Now))
	a, err := e.Open(ctx, manualRequest())
	require.NoError(t, err)
	clock.Advance(DefaultTTL)

	store.fail(errDisk, "update")
	got, err := e.ExpireDue(ctx)
	require.ErrorIs(t, err, errDisk)
	assert.Empty(t, got)

	store.fail(errDisk, "list")
	_, err = e.ExpireDue(ctx)
	require.ErrorIs(t, err, errDisk)

	store.fail(nil)
	got, err = e.ExpireDue(ctx)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, a.ID, got[0].ID)
}

// startRun runs e.Run in the synctest bubble until the returned stop is
// called; stop checks that Run returned nil.
func startRun(t *testing.T, e *Engine) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	synctest.Wait()
	return func() {
		cancel()
		require.NoError(t, <-done)
	}
}

func TestRunExpiresAtDeadlines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		var log expiryLog
		e := NewEngine(NewMemoryStore(), testApprovers(), WithOnExpire(log.record))

		slow := openRequest(t, e, 1, 30*time.Minute)
		stop := startRun(t, e)
		defer stop()
		assert.Empty(t, log.get())

		time.Sleep(10 * time.Minute)
		fast := openRequest(t, e, 1, 5*time.Minute) // earlier than the armed deadline: Run must re-arm
		synctest.Wait()
		time.Sleep(5*time.Minute - time.Nanosecond)
		synctest.Wait()
		assert.Empty(t, log.get())
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		assert.Equal(t, []string{fast.ID}, log.get())

		time.Sleep(15 * time.Minute)
		synctest.Wait()
		assert.Equal(t, []string{fast.ID, slow.ID}, log.get())
		r, err := e.Get(ctx, slow.ID)
		require.NoError(t, err)
		assert.Equal(t, StateExpired, r.State)
	})
}

func TestRunExpiresOverdueAtStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log expiryLog
		e := NewEngine(NewMemoryStore(), testApprovers(), WithOnExpire(log.record))
		r, err := e.Open(context.Background(), manualRequest())
		require.NoError(t, err)
		time.Sleep(time.Hour) // the process was down past the deadline

		stop := startRun(t, e)
		defer stop()
		assert.Equal(t, []string{r.ID}, log.get())
	})
}

func TestRunRetriesAfterStoreFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log expiryLog
		logger, logs := logBuffer()
		store := &flakyStore{CacheStore: NewMemoryStore()}
		e := NewEngine(store, testApprovers(), WithOnExpire(log.record), WithLogger(logger))
		r, err := e.Open(context.Background(), manualRequest())
		require.NoError(t, err)
		time.Sleep(time.Hour)
		store.fail(errDisk, "list")

		stop := startRun(t, e)
		defer stop()
		assert.Empty(t, log.get())
		assert.Contains(t, logs.String(), "requests failed")

		store.fail(nil)
		time.Sleep(retryWait)
		synctest.Wait()
		assert.Equal(t, []string{r.ID}, log.get(), "retried after retryWait")
	})
}

func TestRunIdlesWithoutRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log expiryLog
		e := NewEngine(NewMemoryStore(), testApprovers(), WithOnExpire(log.record))
		stop := startRun(t, e)
		defer stop()
		time.Sleep(3 * idleWait)
		synctest.Wait()
		assert.Empty(t, log.get())
	})
}
