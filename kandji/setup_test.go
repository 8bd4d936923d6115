package kandji

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/kandji/kandjitest"
)

// testToken is what the go-github-style mux servers expect; it must never show up in an error.
const testToken = "tok-3f9a1c77-secret"

// testClient builds a Client with a generous rate and millisecond retries, so that tests about
// behaviour never wait on the rate limiter or real backoff.
func testClient(t *testing.T, baseURL, token string, opts ...Option) *Client {
	t.Helper()
	base := []Option{WithRatePerHour(3600 * 10000), WithRetries(4, time.Millisecond, 4*time.Millisecond)}
	c, err := New(baseURL, token, append(base, opts...)...)
	require.NoError(t, err)
	return c
}

// fakeTenant starts a kandjitest server with ds and a Client pointed at it.
func fakeTenant(t *testing.T, ds []kandjitest.Device, opts ...Option) (*Client, *kandjitest.Server) {
	t.Helper()
	fake := kandjitest.NewServer(kandjitest.WithDevices(ds...))
	t.Cleanup(fake.Close)
	return testClient(t, fake.URL(), fake.Token(), opts...), fake
}

// setupMux is the go-github pattern: handlers registered on the returned mux see paths below
// /api/v1, and any request outside /api/v1 fails the test (it would mean a wrong base URL join).
func setupMux(t *testing.T, opts ...Option) (*Client, *http.ServeMux) {
	t.Helper()
	mux := http.NewServeMux()
	root := http.NewServeMux()
	root.Handle("/api/v1/", http.StripPrefix("/api/v1", mux))
	root.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request outside /api/v1: %s %s", r.Method, r.URL.Path)
		http.Error(w, "outside /api/v1", http.StatusTeapot)
	})
	srv := httptest.NewServer(root)
	t.Cleanup(srv.Close)
	return testClient(t, srv.URL, testToken, opts...), mux
}

// fixture reads a file of testdata/kandji.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "kandji", name))
	require.NoError(t, err)
	return b
}

// respond serves a fixed answer.
func respond(status int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// retryLog records WithRetryNotify calls.
type retryLog struct {
	mu    sync.Mutex
	calls []retryCall
}

type retryCall struct {
	Method, Route string
	Status        int
}

func (l *retryLog) option() Option {
	return WithRetryNotify(func(method, route string, status int) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.calls = append(l.calls, retryCall{method, route, status})
	})
}

func (l *retryLog) get() []retryCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]retryCall(nil), l.calls...)
}

// countRoute counts the requests the fake saw for method and path.
func countRoute(fake *kandjitest.Server, method, path string) int {
	n := 0
	for _, r := range fake.Requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

// handlerTransport serves every request from h in-process, so that a test can run the client
// inside a testing/synctest bubble, where the fake clock only moves while every goroutine waits
// on it (a real socket would stop it).
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}
