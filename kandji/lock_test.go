package kandji

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/kandji/kandjitest"
)

func TestLockBody(t *testing.T) {
	tests := []struct {
		name string
		opts LockOptions
		want string
	}{
		{"empty", LockOptions{}, `{}`},
		{"message only", LockOptions{Message: "Lost? Call IT"}, `{"Message":"Lost? Call IT"}`},
		{"both", LockOptions{Message: "Locked <by> IT", PhoneNumber: "+1 555 0100"},
			`{"Message":"Locked \u003cby\u003e IT","PhoneNumber":"+1 555 0100"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux := setupMux(t)
			var got []byte
			mux.HandleFunc("POST /devices/{id}/action/lock", func(w http.ResponseWriter, r *http.Request) {
				got, _ = io.ReadAll(r.Body)
				_, _ = w.Write([]byte(`{"PIN": "123456"}`))
			})
			res, err := c.Lock(t.Context(), "dev-1", tt.opts)
			require.NoError(t, err)
			assert.Equal(t, "123456", res.PIN)
			assert.JSONEq(t, tt.want, string(got))
		})
	}

	c, fake := fakeTenant(t, lockTenant())
	_, err := c.Lock(t.Context(), "iphone-1", LockOptions{Message: "Call IT", PhoneNumber: "555"})
	require.NoError(t, err)
	msg, phone := fake.LastLockRequest("iphone-1")
	assert.Equal(t, [2]string{"Call IT", "555"}, [2]string{msg, phone})
}

func TestLockAnswerShapes(t *testing.T) {
	tests := []struct {
		name, body, wantPIN string
		wantWarn            bool
	}{
		{"mac", `{"PIN": "496406"}`, "496406", false},
		{"lower-case key", `{"pin": "192746"}`, "192746", false},
		{"number", `{"PIN": 496406}`, "496406", false},
		{"empty object", `{}`, "", false},
		{"no body", ``, "", false},
		{"null", `null`, "", false},
		{"not JSON", `<html>ok</html>`, "", true},
		{"string", `"locked"`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			c, mux := setupMux(t, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			mux.HandleFunc("POST /devices/{id}/action/lock", respond(200, "application/json", tt.body))
			res, err := c.Lock(t.Context(), "dev-1", LockOptions{})
			require.NoError(t, err, "an accepted lock is never reported as a failure")
			assert.Equal(t, LockResult{Status: LockAccepted, PIN: tt.wantPIN}, res)
			assert.Equal(t, tt.wantWarn, strings.Contains(logs.String(), "level=WARN"), logs.String())
		})
	}
}

func TestLockRetries(t *testing.T) {
	tests := []struct {
		name          string
		status        int
		failures      int
		wantStatus    int // of the error, 0 for success
		wantLockPosts int
	}{
		{"503 then locked", 503, 1, 0, 2},
		{"429 then locked", 429, 2, 0, 3},
		{"500 until attempts run out", 500, 10, 500, 4},
		{"403 is not retried", 403, 1, 403, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log retryLog
			c, fake := fakeTenant(t, lockTenant(), log.option())
			fake.FailNext(tt.failures, tt.status, 0)
			res, err := c.Lock(t.Context(), "mac-1", LockOptions{})
			assert.Equal(t, tt.wantLockPosts, fake.LockPosts("mac-1"))
			if tt.wantStatus != 0 {
				var apiErr *Error
				require.ErrorAs(t, err, &apiErr)
				assert.Equal(t, tt.wantStatus, apiErr.StatusCode)
				assert.Equal(t, LockNoOutcome, res.Status)
				assert.False(t, fake.Locked("mac-1"))
				assert.Zero(t, countRoute(fake, "GET", "/api/v1/devices/mac-1/commands"), "only a 400 or 409 needs the command list")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, LockAccepted, res.Status)
			assert.Equal(t, fake.PIN("mac-1"), res.PIN)
			assert.Len(t, log.get(), tt.wantLockPosts-1)
		})
	}
}

// TestLockRefusalNotRetried answers the lock with a 400 Kandji's documentation does not explain:
// it is not repeated, and with no lock in the command list it is ErrBusy, not success.
func TestLockRefusalNotRetried(t *testing.T) {
	var log retryLog
	c, fake := fakeTenant(t, lockTenant(), log.option())
	fake.FailNext(1, 400, 0)
	res, err := c.Lock(t.Context(), "mac-1", LockOptions{})
	require.ErrorIs(t, err, ErrBusy)
	var busy *BusyError
	require.ErrorAs(t, err, &busy)
	assert.Equal(t, 400, busy.StatusCode)
	assert.Equal(t, "Injected failure: 400 Bad Request", busy.Message)
	assert.Equal(t, LockResult{}, res)
	assert.Equal(t, 1, fake.LockPosts("mac-1"))
	assert.Equal(t, 1, countRoute(fake, "GET", "/api/v1/devices/mac-1/commands"))
	assert.Empty(t, log.get())
}

// TestLockRetryAnsweredAlreadyLocked is the gateway that answers 502 although the lock went
// through: the retry then hears "already locked", and the command list, not the message, says
// what that means.
func TestLockRetryAnsweredAlreadyLocked(t *testing.T) {
	tests := []struct {
		name, second, commands string
		want                   LockResult
		wantErr                error
	}{
		{"lock pending", `"This device is already locked."`, commandsJSON(lockCmd(1, "2025-06-01T09:00:00Z", "")),
			LockResult{Status: LockPending, Detail: "DeviceLock is pending, requested 2025-06-01T09:00:00Z", AlreadyLocked: true}, nil},
		{"lock completed", `"This device is already locked."`,
			commandsJSON(lockCmd(3, "2025-06-01T09:00:00Z", "2025-06-01T09:00:05Z")),
			LockResult{Status: LockAlreadyDone, Detail: "DeviceLock completed 2025-06-01T09:00:05Z", AlreadyLocked: true}, nil},
		{"command running, no lock", `"Command already running"`, commandsJSON(), LockResult{}, ErrBusy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux := setupMux(t)
			var posts atomic.Int32
			mux.HandleFunc("POST /devices/{id}/action/lock", func(w http.ResponseWriter, r *http.Request) {
				if posts.Add(1) == 1 {
					respond(502, "text/html", "<h1>502 Bad Gateway</h1>")(w, r)
					return
				}
				respond(400, "application/json", tt.second)(w, r)
			})
			mux.HandleFunc("GET /devices/{id}/commands", respond(200, "application/json", tt.commands))
			res, err := c.Lock(t.Context(), "dev-1", LockOptions{})
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tt.want, res)
			assert.Equal(t, int32(2), posts.Load())
		})
	}
}

// TestLockNotRetriedAfterSend drops the connection once the lock request has been read: the
// command may be queued, so a retry could lock twice and the outcome is unknown.
func TestLockNotRetriedAfterSend(t *testing.T) {
	var log retryLog
	c, mux := setupMux(t, log.option())
	var posts atomic.Int32
	mux.HandleFunc("POST /devices/{id}/action/lock", func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		_, _ = io.ReadAll(r.Body)
		panic(http.ErrAbortHandler)
	})
	res, err := c.Lock(t.Context(), "dev-1", LockOptions{Message: "m"})
	require.ErrorIs(t, err, ErrOutcomeUnknown)
	assert.Contains(t, err.Error(), "kandji: outcome unknown, the request may have reached Kandji: POST /devices/{id}/action/lock: ")
	assert.Equal(t, LockResult{}, res)
	assert.Equal(t, int32(1), posts.Load())
	assert.Empty(t, log.get())
}

// TestLockRetriedOnDialError points the client at a port nobody listens on: nothing can have been
// sent, so every attempt is made.
func TestLockRetriedOnDialError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	var log retryLog
	c := testClient(t, "http://"+addr, "tok", log.option())
	_, err = c.Lock(t.Context(), "dev-1", LockOptions{})
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrOutcomeUnknown)
	assert.True(t, isDialError(err), "%v", err)
	want := retryCall{"POST", routeLock, 0}
	assert.Equal(t, []retryCall{want, want, want}, log.get())
}

// TestLockAcceptedAnswerLost cuts the 200 answer short: Kandji accepted the lock, so Lock reports
// success without a PIN and warns.
func TestLockAcceptedAnswerLost(t *testing.T) {
	var logs bytes.Buffer
	c, mux := setupMux(t, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	var posts atomic.Int32
	mux.HandleFunc("POST /devices/{id}/action/lock", func(w http.ResponseWriter, _ *http.Request) {
		posts.Add(1)
		w.Header().Set("Content-Length", "40")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"PIN": "5`))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	})
	res, err := c.Lock(t.Context(), "dev-1", LockOptions{})
	require.NoError(t, err)
	assert.Equal(t, LockResult{Status: LockAccepted}, res)
	assert.Equal(t, int32(1), posts.Load())
	assert.Contains(t, logs.String(), "read the PIN with UnlockPIN")
}

func TestLockContext(t *testing.T) {
	c, fake := fakeTenant(t, lockTenant())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := c.Lock(ctx, "mac-1", LockOptions{})
	require.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, fake.LockPosts("mac-1"))
	assert.False(t, fake.Locked("mac-1"))
}

func TestUnlockPIN(t *testing.T) {
	c, fake := fakeTenant(t, lockTenant())
	res, err := c.Lock(t.Context(), "mac-1", LockOptions{})
	require.NoError(t, err)
	_, err = c.Lock(t.Context(), "iphone-1", LockOptions{})
	require.NoError(t, err)

	pin, err := c.UnlockPIN(t.Context(), "mac-1")
	require.NoError(t, err)
	assert.Equal(t, res.PIN, pin)
	assert.Equal(t, fake.PIN("mac-1"), pin)

	tests := []struct {
		id      string
		wantErr error
		wantMsg string
	}{
		{"iphone-1", nil, "400 Bad Request: No unlock PIN is available for this device."},
		{"mac-pending", nil, "400 Bad Request: No unlock PIN is available for this device."},
		{"gone-1", ErrNotFound, "404 Not Found"},
		{"", ErrInvalidInput, "invalid input"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			pin, err := c.UnlockPIN(t.Context(), tt.id)
			require.Error(t, err)
			assert.Empty(t, pin)
			assert.Contains(t, err.Error(), tt.wantMsg)
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
			}
		})
	}
}

func TestUnlockPINAnswerShapes(t *testing.T) {
	tests := []struct {
		name, body, wantPIN, wantErr string
	}{
		{"documented", `{"pin": "192746"}`, "192746", ""},
		{"upper-case key", `{"PIN": "192746"}`, "192746", ""},
		{"number", `{"pin": 192746}`, "192746", ""},
		{"empty pin", `{"pin": ""}`, "", "carries no PIN"},
		{"null", `null`, "", "carries no PIN"},
		{"truncated", `{"pin": "1927`, "", "not the expected JSON"},
		{"array", `["192746"]`, "", "not the expected JSON"},
		{"empty body", ``, "", "not the expected JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux := setupMux(t)
			mux.HandleFunc("GET /devices/{id}/secrets/unlockpin", respond(200, "application/json", tt.body))
			pin, err := c.UnlockPIN(t.Context(), "dev-1")
			assert.Equal(t, tt.wantPIN, pin)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), "1927", "no part of a PIN leaks into the error")
		})
	}
}

// TestSecretsNeverLeak drives every failure path with a debug logger attached and checks that
// neither the token nor any PIN appears in an error or a log line.
func TestSecretsNeverLeak(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	const token = "s3cr3t-t0ken-value"
	var errs []error
	keep := func(_ any, err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	// Wrong token against the fake, then the right one through retries.
	fake := kandjitest.NewServer(kandjitest.WithDevices(lockTenant()...))
	t.Cleanup(fake.Close)
	bad := testClient(t, fake.URL(), token, WithLogger(logger))
	keep(bad.DevicesByEmail(t.Context(), "alice@corp.example"))
	keep(bad.Lock(t.Context(), "mac-1", LockOptions{}))
	good := testClient(t, fake.URL(), fake.Token(), WithLogger(logger))
	fake.FailNext(2, 503, time.Millisecond)
	res, err := good.Lock(t.Context(), "mac-1", LockOptions{})
	require.NoError(t, err)
	pins := []string{res.PIN}
	keep(good.Lock(t.Context(), "mac-1", LockOptions{}))
	fake.FailNext(10, 500, 0)
	keep(good.UnlockPIN(t.Context(), "mac-1"))

	// A server that echoes the Authorization header and the PIN in its errors.
	c, mux := setupMux(t, WithLogger(logger))
	mux.HandleFunc("GET /devices/{id}", func(w http.ResponseWriter, r *http.Request) {
		respond(401, "text/plain", "bad header: "+r.Header.Get("Authorization"))(w, r)
	})
	mux.HandleFunc("GET /devices/{id}/secrets/unlockpin", respond(200, "application/json", `{"pin": "918273"`))
	mux.HandleFunc("POST /devices/{id}/action/lock", respond(200, "application/json", `{"PIN": 918273,}`))
	keep(c.Device(t.Context(), "dev-1"))
	keep(c.UnlockPIN(t.Context(), "dev-1"))
	keep(c.Lock(t.Context(), "dev-1", LockOptions{}))
	pins = append(pins, "918273")

	require.Len(t, errs, 5)
	assert.Contains(t, errs[3].Error(), "bad header: Bearer [redacted]")
	for _, secret := range append(pins, token, testToken) {
		for _, err := range errs {
			assert.NotContains(t, err.Error(), secret)
		}
		assert.NotContains(t, logs.String(), secret)
	}
	assert.Contains(t, logs.String(), "kandji: retrying", "the logger did see the retries")
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
