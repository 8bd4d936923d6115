package approvals

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRefusalReason(t *testing.T) {
	tests := []struct {
		err    error
		reason string
	}{
		{ErrSelfApproval, "self_approval"},
		{ErrNotApprover, "not_approver"},
		{ErrAlreadyApproved, "already_approved"},
		{ErrNotPending, "not_pending"},
		{ErrExpired, "expired"},
		{ErrNotFound, "not_found"},
		{fmt.Errorf("sqlite: request R1: %w", ErrNotFound), "not_found"},
		{fmt.Errorf("approvals: asking whether U1 may approve: %w", errors.New("slack: 500")), "error"},
		{ErrInvalid, "error"},
		{ErrBadEmail, "error"},
		{errors.New("approvals: user is not an approver"), "error"}, // same text, different error
		{context.Canceled, "error"},
		{nil, "error"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.reason, refusalReason(tt.err), "refusalReason(%v)", tt.err)
		assert.Equal(t, tt.reason != "error", IsRefusal(tt.err), "IsRefusal(%v)", tt.err)
	}
}

func TestRefusalReasonsAreDistinct(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range refusalReasons {
		assert.False(t, seen[r.reason], "reason %q twice", r.reason)
		seen[r.reason] = true
		assert.NotEqual(t, "error", r.reason)
		assert.Equal(t, r.reason, refusalReason(r.err))
	}
}

func TestMayDecide(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("slack: users.info failed")
	var asked []string
	auth := AuthorizerFunc(func(_ context.Context, user string) (bool, error) {
		asked = append(asked, user)
		switch user {
		case "U-approver":
			return true, nil
		case "U-broken":
			return true, boom // an error wins over the answer
		}
		return false, nil
	})
	e := NewEngine(nil, auth)
	assert.NoError(t, e.mayDecide(ctx, "U-approver"))
	assert.ErrorIs(t, e.mayDecide(ctx, "U-other"), ErrNotApprover)
	err := e.mayDecide(ctx, "U-broken")
	require.ErrorIs(t, err, boom)
	assert.NotErrorIs(t, err, ErrNotApprover)
	assert.False(t, IsRefusal(err), "an Authorizer failure is not a refusal")
	assert.Contains(t, err.Error(), "U-broken")
	assert.Equal(t, []string{"U-approver", "U-other", "U-broken"}, asked, "asked every time, never remembered")

	assert.NoError(t, e.mayDecide(ctx, "U-approver"))
	assert.Len(t, asked, 4)

	assert.ErrorIs(t, NewEngine(nil, nil).mayDecide(ctx, "anyone"), ErrNotApprover, "a nil Authorizer lets nobody decide")
}

func TestEngineOptions(t *testing.T) {
	e := NewEngine(nil, nil)
	assert.Equal(t, DefaultLockDeadline, e.LockDeadline())
	assert.WithinDuration(t, time.Now(), e.Now(), time.Minute)
	assert.NotNil(t, e.log)

	e = NewEngine(nil, nil, WithClock(nil), WithLogger(nil), WithLockDeadline(0), WithLockDeadline(-time.Hour))
	assert.Equal(t, DefaultLockDeadline, e.LockDeadline(), "d ≤ 0 keeps the default")
	assert.WithinDuration(t, time.Now(), e.Now(), time.Minute, "nil clock keeps time.Now")
	assert.NotNil(t, e.log, "nil logger keeps the default")

	e = NewEngine(nil, nil, WithClock(func() time.Time { return t0 }), WithLockDeadline(time.Hour), WithCardChannel("C1"))
	assert.Equal(t, t0, e.Now())
	assert.Equal(t, time.Hour, e.LockDeadline())
	assert.Equal(t, "C1", e.cardChannel)
}

func TestRetryAfter(t *testing.T) {
	cause := errors.New("kandji: 429")
	tests := []struct {
		name  string
		err   error
		delay time.Duration
		ok    bool
	}{
		{"nil", nil, 0, false},
		{"plain error", cause, 0, false},
		{"retry", RetryAfter(5*time.Second, nil), 5 * time.Second, true},
		{"retry with cause", RetryAfter(time.Minute, cause), time.Minute, true},
		{"zero becomes a millisecond", RetryAfter(0, nil), time.Millisecond, true},
		{"negative becomes a millisecond", RetryAfter(-time.Hour, nil), time.Millisecond, true},
		{"just under a millisecond", RetryAfter(time.Millisecond-1, nil), time.Millisecond, true},
		{"wrapped", fmt.Errorf("lock L1: %w", RetryAfter(time.Second, cause)), time.Second, true},
		{"wrapped twice", fmt.Errorf("a: %w", fmt.Errorf("b: %w", RetryAfter(2*time.Second, nil))), 2 * time.Second, true},
		{"outer wins", RetryAfter(time.Second, RetryAfter(time.Hour, nil)), time.Second, true},
		{"text only", errors.New("retry after 5s"), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := RetryDelay(tt.err)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.delay, d)
		})
	}

	err := RetryAfter(time.Minute, cause)
	assert.ErrorIs(t, err, cause)
	assert.Equal(t, cause, errors.Unwrap(err))
	assert.Equal(t, "kandji: 429 (retry after 1m0s)", err.Error())
	assert.Equal(t, "retry after 1ms", RetryAfter(0, nil).Error())
	assert.Nil(t, errors.Unwrap(RetryAfter(time.Second, nil)))
}

// TestRetryDelayThroughMultiErrors: Go's error trees branch at
// errors.Join and at fmt.Errorf with several %w; errors.Is and errors.As
// look through them, RetryDelay follows only Unwrap() error. A handler
// that joins a RetryAfter with a cleanup error loses its delay and is
// retried on the TaskBackoff schedule instead.
func TestRetryDelayThroughMultiErrors(t *testing.T) {
	retry := RetryAfter(time.Minute, nil)
	cleanup := errors.New("close: broken pipe")
	for name, err := range map[string]error{
		"errors.Join":  errors.Join(retry, cleanup),
		"two %w":       fmt.Errorf("%w (and %w)", cleanup, retry),
		"wrapped Join": fmt.Errorf("lock L1: %w", errors.Join(cleanup, retry)),
	} {
		d, ok := RetryDelay(err)
		assert.True(t, ok, "%s: RetryDelay(%v)", name, err)
		assert.Equal(t, time.Minute, d, name)
	}
}

func TestTaskBackoff(t *testing.T) {
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{math.MinInt, time.Second},
		{-1, time.Second},
		{0, time.Second},
		{1, time.Second},
		{2, 2 * time.Second},
		{3, 4 * time.Second},
		{8, 128 * time.Second},
		{9, 256 * time.Second},
		{10, MaxTaskBackoff},
		{11, MaxTaskBackoff},
		{1000, MaxTaskBackoff},
		{math.MaxInt, MaxTaskBackoff},
	}
	prev := time.Duration(0)
	for _, tt := range tests {
		got := TaskBackoff(tt.attempt)
		assert.Equal(t, tt.want, got, "TaskBackoff(%d)", tt.attempt)
		assert.GreaterOrEqual(t, got, prev, "never shrinks")
		prev = got
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := NewID()
		assert.Len(t, id, 26, "128 bits in unpadded base32")
		for _, c := range id {
			assert.True(t, c >= 'A' && c <= 'Z' || c >= '2' && c <= '7', "%q in %q is not base32", c, id)
		}
		assert.False(t, seen[id])
		seen[id] = true
	}
}
