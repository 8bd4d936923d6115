package kandji

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/kandji/kandjitest"
)

// clientTimeout is short so that the tests below end soon; nothing asserts how long they take.
const clientTimeout = 100 * time.Millisecond

// TestLockSlowerThanClientTimeout has Kandji queue the lock but answer after the HTTP client gave
// up: that is an unknown outcome the caller may repeat, not a stopped call, and the client does
// not repeat it itself. The caller's repeat is then judged from the command list.
func TestLockSlowerThanClientTimeout(t *testing.T) {
	var log retryLog
	c, fake := fakeTenant(t, lockTenant(), log.option(), WithHTTPClient(&http.Client{Timeout: clientTimeout}))
	fake.SetLockAnswerDelay(time.Hour)

	res, err := c.Lock(t.Context(), "mac-1", LockOptions{})
	require.ErrorIs(t, err, ErrOutcomeUnknown)
	assert.NotErrorIs(t, err, context.DeadlineExceeded, "the caller's context did not end")
	assert.NotErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "kandji: outcome unknown, the request may have reached Kandji: POST /devices/{id}/action/lock: ")
	assert.Contains(t, err.Error(), "Client.Timeout exceeded")
	assert.Equal(t, LockResult{}, res)
	assert.Equal(t, 1, fake.LockPosts("mac-1"), "never re-POSTed blindly")
	assert.Empty(t, log.get())
	require.NoError(t, fake.WaitIdle(t.Context()), "the fake has seen the client go")
	assert.Equal(t, kandjitest.LockAnswers{Accepted: 1}, fake.LockAnswers("mac-1"), "Kandji did queue it")

	fake.SetLockAnswerDelay(0)
	res, err = c.Lock(t.Context(), "mac-1", LockOptions{})
	require.NoError(t, err, "the caller's repeat is safe")
	assert.Equal(t, LockPending, res.Status)
	assert.Equal(t, kandjitest.LockAnswers{Accepted: 1, AlreadyLocked: 1}, fake.LockAnswers("mac-1"))
	assert.Len(t, fake.Commands("mac-1"), 1, "one lock command in all")
}

// TestLockCallerDeadline lets the caller's own deadline pass while Kandji holds the answer: the
// error is the context's, not ErrOutcomeUnknown.
func TestLockCallerDeadline(t *testing.T) {
	c, fake := fakeTenant(t, lockTenant())
	fake.SetLockAnswerDelay(time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), clientTimeout)
	defer cancel()
	_, err := c.Lock(ctx, "mac-1", LockOptions{})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, ErrOutcomeUnknown)
	assert.Contains(t, err.Error(), "stopped after the request was sent, so Kandji may have queued it")
	assert.Equal(t, 1, fake.LockPosts("mac-1"))
}

// TestGETClientTimeoutIsRetried holds every answer past the client's timeout: a read is retried,
// and the final error says Kandji did not answer rather than posing as the caller's deadline.
func TestGETClientTimeoutIsRetried(t *testing.T) {
	var log retryLog
	c, fake := macTenant(t, log.option(), WithHTTPClient(&http.Client{Timeout: clientTimeout}),
		WithRetries(2, time.Millisecond, time.Millisecond))
	fake.SetLatency(time.Hour)
	_, err := c.Device(t.Context(), "mac-1")
	require.Error(t, err)
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "kandji: GET /devices/{id}: ")
	assert.Contains(t, err.Error(), "Client.Timeout exceeded")
	assert.Equal(t, []retryCall{{"GET", routeDevice, 0}}, log.get())
	assert.Equal(t, 2, countRoute(fake, "GET", "/api/v1/devices/mac-1"))
}
