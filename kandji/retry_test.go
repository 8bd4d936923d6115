package kandji

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/kandji/kandjitest"
)

// macTenant is a fake with one Mac.
func macTenant(t *testing.T, opts ...Option) (*Client, *kandjitest.Server) {
	t.Helper()
	return fakeTenant(t, []kandjitest.Device{{ID: "mac-1", Platform: "Mac", UserEmail: "alice@corp.example"}}, opts...)
}

func TestGETRetriesThenSucceeds(t *testing.T) {
	for _, status := range []int{429, 500, 502, 503, 504} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			var log retryLog
			c, fake := macTenant(t, log.option())
			fake.FailNext(2, status, 0)
			d, err := c.Device(t.Context(), "mac-1")
			require.NoError(t, err)
			assert.Equal(t, "mac-1", d.ID)
			assert.Equal(t, 3, countRoute(fake, "GET", "/api/v1/devices/mac-1"))
			want := retryCall{"GET", routeDevice, status}
			assert.Equal(t, []retryCall{want, want}, log.get())
		})
	}
}

func TestGETDoesNotRetryClientErrors(t *testing.T) {
	tests := []struct {
		status int
		want   error
	}{
		{400, nil},
		{401, ErrUnauthorized},
		{403, ErrForbidden},
		{404, ErrNotFound},
		{409, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			var log retryLog
			c, fake := macTenant(t, log.option())
			fake.FailNext(1, tt.status, 0)
			_, err := c.Device(t.Context(), "mac-1")
			var apiErr *Error
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tt.status, apiErr.StatusCode)
			if tt.want != nil {
				assert.ErrorIs(t, err, tt.want)
			}
			assert.Len(t, fake.Requests(), 1)
			assert.Empty(t, log.get())
		})
	}
}

func TestGETGivesUpAfterMaxAttempts(t *testing.T) {
	var log retryLog
	c, fake := macTenant(t, log.option(), WithRetries(3, time.Millisecond, time.Millisecond))
	fake.FailNext(10, 503, 0)
	_, err := c.Device(t.Context(), "mac-1")
	var apiErr *Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 503, apiErr.StatusCode)
	assert.Equal(t, "503 Service Unavailable 503 Service Unavailable", apiErr.Message)
	assert.Len(t, fake.Requests(), 3)
	assert.Len(t, log.get(), 2)
}

// sleepRecorder replaces the backoff wait and records what was asked for.
type sleepRecorder struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (s *sleepRecorder) option() Option {
	return withSleep(func(ctx context.Context, d time.Duration) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.delays = append(s.delays, d)
		return ctx.Err()
	})
}

func (s *sleepRecorder) get() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.delays...)
}

func TestRetryAfterHonoured(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter time.Duration
		maxDelay   time.Duration
		wantMin    time.Duration
		wantMax    time.Duration
	}{
		{"floor", 2 * time.Second, 10 * time.Second, 2 * time.Second, 2 * time.Second},
		{"capped at max", 2 * time.Second, 500 * time.Millisecond, 500 * time.Millisecond, 500 * time.Millisecond},
		{"backoff above hint", 0, 10 * time.Second, 500 * time.Microsecond, time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sleeps sleepRecorder
			c, fake := macTenant(t, sleeps.option(), WithRetries(3, time.Millisecond, tt.maxDelay))
			fake.FailNext(1, 429, tt.retryAfter)
			_, err := c.Device(t.Context(), "mac-1")
			require.NoError(t, err)
			delays := sleeps.get()
			require.Len(t, delays, 1)
			assert.GreaterOrEqual(t, delays[0], tt.wantMin)
			assert.LessOrEqual(t, delays[0], tt.wantMax)
			assert.Len(t, fake.Requests(), 2)
		})
	}
}

func TestRetryAfterHTTPDate(t *testing.T) {
	var sleeps sleepRecorder
	c, mux := setupMux(t, sleeps.option(), WithRetries(2, time.Millisecond, time.Minute))
	var calls atomic.Int32
	mux.HandleFunc("GET /devices/{id}", func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", time.Now().Add(10*time.Second).UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write(fixture(t, "device_mac.json"))
	})
	_, err := c.Device(t.Context(), "dev-1")
	require.NoError(t, err)
	delays := sleeps.get()
	require.Len(t, delays, 1)
	// HTTP dates have whole seconds, so the wait is between 9 and 10 seconds.
	assert.Greater(t, delays[0], 8*time.Second)
	assert.LessOrEqual(t, delays[0], 10*time.Second)
}

func TestRetryGivesUpOnContext(t *testing.T) {
	t.Run("cancelled while backing off", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		c, fake := macTenant(t, WithRetries(10, time.Hour, time.Hour),
			WithRetryNotify(func(string, string, int) { cancel() }))
		fake.FailNext(10, 503, 0)
		_, err := c.Device(ctx, "mac-1")
		require.ErrorIs(t, err, context.Canceled)
		var apiErr *Error
		require.ErrorAs(t, err, &apiErr, "the last failure stays visible")
		assert.Equal(t, 503, apiErr.StatusCode)
		assert.Len(t, fake.Requests(), 1)
	})
	t.Run("deadline before the next attempt", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		var log retryLog
		c, fake := macTenant(t, log.option(), WithRetries(10, time.Hour, time.Hour))
		fake.FailNext(10, 500, 0)
		_, err := c.Device(ctx, "mac-1")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), "500 Internal Server Error")
		assert.Len(t, fake.Requests(), 1)
		assert.Empty(t, log.get(), "no retry is announced that will not happen")
	})
	t.Run("cancelled during the request", func(t *testing.T) {
		var log retryLog
		c, mux := setupMux(t, log.option())
		arrived := make(chan struct{}, 1)
		mux.HandleFunc("/devices/{id}/", func(w http.ResponseWriter, r *http.Request) {
			// Reading the body lets the server notice the client hanging up.
			_, _ = io.Copy(io.Discard, r.Body)
			arrived <- struct{}{}
			<-r.Context().Done()
		})
		tests := []struct {
			name     string
			call     func(ctx context.Context) error
			wantIs   []error
			wantNote string
		}{
			{"GET", func(ctx context.Context) error { _, err := c.UnlockPIN(ctx, "dev-1"); return err },
				[]error{context.Canceled}, "kandji: GET /devices/{id}/secrets/unlockpin: context canceled"},
			// The caller stopped: its own context's error, not ErrOutcomeUnknown, which is for
			// Kandji not answering while the caller still waited.
			{"lock POST", func(ctx context.Context) error { _, err := c.Lock(ctx, "dev-1", LockOptions{}); return err },
				[]error{context.Canceled}, "kandji: POST /devices/{id}/action/lock: stopped after the request was sent, so Kandji may have queued it: context canceled"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan error)
				go func() { done <- tt.call(ctx) }()
				<-arrived
				cancel()
				err := <-done
				for _, want := range tt.wantIs {
					require.ErrorIs(t, err, want)
				}
				assert.NotErrorIs(t, err, ErrOutcomeUnknown)
				assert.Contains(t, err.Error(), tt.wantNote)
			})
		}
		assert.Empty(t, log.get())
	})
	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		c, fake := macTenant(t)
		_, err := c.Device(ctx, "mac-1")
		require.ErrorIs(t, err, context.Canceled)
		assert.Empty(t, fake.Requests())
	})
}

// TestGETRetriesTransportErrors drops the connection without an answer twice.
func TestGETRetriesTransportErrors(t *testing.T) {
	var log retryLog
	c, mux := setupMux(t, log.option())
	var calls atomic.Int32
	mux.HandleFunc("GET /devices/{id}", func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			panic(http.ErrAbortHandler)
		}
		_, _ = w.Write(fixture(t, "device_mac.json"))
	})
	d, err := c.Device(t.Context(), "dev-1")
	require.NoError(t, err)
	assert.Equal(t, "K7SINGLE0005", d.Serial)
	assert.Equal(t, []retryCall{{"GET", routeDevice, 0}, {"GET", routeDevice, 0}}, log.get())
}

// TestGETRetriesTruncatedBody cuts a 200 answer short once.
func TestGETRetriesTruncatedBody(t *testing.T) {
	var log retryLog
	c, mux := setupMux(t, log.option())
	var calls atomic.Int32
	body := fixture(t, "device_mac.json")
	mux.HandleFunc("GET /devices/{id}", func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			_, _ = w.Write(body[:10])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		_, _ = w.Write(body)
	})
	_, err := c.Device(t.Context(), "dev-1")
	require.NoError(t, err)
	assert.Equal(t, []retryCall{{"GET", routeDevice, 0}}, log.get())
}

func TestDelayBounds(t *testing.T) {
	p := retryPolicy{maxAttempts: 10, base: 100 * time.Millisecond, max: time.Second}
	tests := []struct {
		attempt    int
		retryAfter time.Duration
		lo, hi     time.Duration
	}{
		{1, 0, 50 * time.Millisecond, 100 * time.Millisecond},
		{2, 0, 100 * time.Millisecond, 200 * time.Millisecond},
		{3, 0, 200 * time.Millisecond, 400 * time.Millisecond},
		{4, 0, 400 * time.Millisecond, 800 * time.Millisecond},
		{5, 0, 500 * time.Millisecond, time.Second},
		{60, 0, 500 * time.Millisecond, time.Second},
		{1, 700 * time.Millisecond, 700 * time.Millisecond, 700 * time.Millisecond},
		{1, time.Hour, time.Second, time.Second},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.attempt, tt.retryAfter), func(t *testing.T) {
			seen := map[time.Duration]bool{}
			for range 200 {
				d := p.delay(tt.attempt, tt.retryAfter)
				require.GreaterOrEqual(t, d, tt.lo)
				require.LessOrEqual(t, d, tt.hi)
				seen[d] = true
			}
			if tt.lo != tt.hi {
				assert.Greater(t, len(seen), 1, "delays are jittered")
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"1", time.Second},
		{" 120 ", 2 * time.Minute},
		{"-1", 0},
		{"1.5", 0},
		{"soon", 0},
		{"99999999999999999999", maxRetryAfter},
		{"86401", maxRetryAfter},
		{"Sun, 01 Jun 2025 12:00:30 GMT", 30 * time.Second},
		{"Sunday, 01-Jun-25 12:01:00 GMT", time.Minute},
		{"Sun Jun  1 12:00:05 2025", 5 * time.Second},
		{"Sun, 01 Jun 2025 11:00:00 GMT", 0},
		{"Mon, 01 Jun 2026 12:00:00 GMT", maxRetryAfter},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, parseRetryAfter(tt.in, now))
		})
	}
}
