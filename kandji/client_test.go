package kandji

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewBaseURL(t *testing.T) {
	tests := []struct {
		in       string
		wantBase string
		wantErr  string
	}{
		{in: "https://acme.api.kandji.io", wantBase: "https://acme.api.kandji.io"},
		{in: "https://acme.api.eu.kandji.io/", wantBase: "https://acme.api.eu.kandji.io"},
		{in: "https://acme.api.kandji.io/api/v1", wantBase: "https://acme.api.kandji.io"},
		{in: "  https://acme.api.kandji.io/api/v1/  ", wantBase: "https://acme.api.kandji.io"},
		{in: "HTTPS://acme.api.kandji.io", wantBase: "https://acme.api.kandji.io"},
		{in: "https://proxy.corp.example/kandji/api/v1", wantBase: "https://proxy.corp.example/kandji"},
		{in: "https://acme.api.kandji.io:8443", wantBase: "https://acme.api.kandji.io:8443"},
		{in: "http://127.0.0.1:8080", wantBase: "http://127.0.0.1:8080"},
		{in: "http://127.9.9.9", wantBase: "http://127.9.9.9"},
		{in: "http://localhost:9/api/v1", wantBase: "http://localhost:9"},
		{in: "http://LOCALHOST", wantBase: "http://LOCALHOST"},
		{in: "http://[::1]:8080", wantBase: "http://[::1]:8080"},
		{in: "http://acme.api.kandji.io", wantErr: `refusing plain http:// base URL for host "acme.api.kandji.io"`},
		{in: "http://localhost.evil.example", wantErr: "allowed only for loopback hosts"},
		{in: "http://10.0.0.1", wantErr: "allowed only for loopback hosts"},
		{in: "http://128.0.0.1", wantErr: "allowed only for loopback hosts"},
		{in: "ftp://acme.api.kandji.io", wantErr: `scheme "ftp" is not supported`},
		{in: "acme.api.kandji.io", wantBase: "https://acme.api.kandji.io"},
		{in: " acme.api.eu.kandji.io/api/v1/ ", wantBase: "https://acme.api.eu.kandji.io"},
		{in: "//acme.api.kandji.io", wantBase: "https://acme.api.kandji.io"},
		{in: "localhost:8080", wantBase: "https://localhost:8080"},
		{in: "http//acme.api.kandji.io", wantErr: "host is not a domain name"},
		{in: "acme", wantErr: "host is not a domain name"},
		{in: "acme.api.kandji.io?token=abc", wantErr: "must not carry a query"},
		{in: "user:hunter2@acme.api.kandji.io", wantErr: "must not contain user info"},
		{in: "http://localhoſt:8080", wantErr: "allowed only for loopback hosts"},
		{in: "", wantErr: "empty base URL"},
		{in: "https://", wantErr: "has no host"},
		{in: "https://acme.api.kandji.io/?token=abc", wantErr: "must not carry a query"},
		{in: "https://acme.api.kandji.io/#frag", wantErr: "must not carry a query"},
		{in: "https://user:hunter2@acme.api.kandji.io", wantErr: "must not contain user info"},
		{in: "https://acme.api.kandji.io/%zz", wantErr: "not a valid URL"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			c, err := New(tt.in, "tok")
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.NotContains(t, err.Error(), "hunter2")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantBase, c.base.String())
		})
	}
}

// TestNormalizeBaseURL checks the form the configuration layer sees, and that it says when it
// added the scheme so that the operator can be warned.
func TestNormalizeBaseURL(t *testing.T) {
	tests := []struct {
		in        string
		want      string
		wantAdded bool
	}{
		{"acme.api.kandji.io", "https://acme.api.kandji.io", true},
		{"ACME.api.kandji.io/", "https://ACME.api.kandji.io", true},
		{"//acme.api.eu.kandji.io", "https://acme.api.eu.kandji.io", true},
		{"127.0.0.1:9", "https://127.0.0.1:9", true},
		{"https://acme.api.kandji.io/api/v1", "https://acme.api.kandji.io", false},
		{"HTTPS://acme.api.kandji.io", "https://acme.api.kandji.io", false},
		{"http://127.0.0.1:8080/", "http://127.0.0.1:8080", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, added, err := NormalizeBaseURL(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.wantAdded, added)
			c, err := New(tt.in, "tok")
			require.NoError(t, err)
			assert.Equal(t, got, c.base.String(), "New uses the same form")
		})
	}
	got, added, err := NormalizeBaseURL("http://acme.api.kandji.io")
	require.Error(t, err, "plain http stays loopback-only")
	assert.Empty(t, got)
	assert.False(t, added)
}

// TestBaseURLReachesAPIPath checks end to end that every accepted spelling of the base URL ends up
// at /api/v1/… on the server.
func TestBaseURLReachesAPIPath(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.EscapedPath())
		mu.Unlock()
		_, _ = w.Write(fixture(t, "device_mac.json"))
	}))
	t.Cleanup(srv.Close)
	for _, base := range []string{srv.URL, srv.URL + "/", srv.URL + "/api/v1", srv.URL + "/api/v1/"} {
		_, err := testClient(t, base, "tok").Device(t.Context(), "abc-123")
		require.NoError(t, err, base)
	}
	_, err := testClient(t, srv.URL+"/proxy", "tok").Device(t.Context(), "abc-123")
	require.NoError(t, err)
	want := []string{"/api/v1/devices/abc-123", "/api/v1/devices/abc-123", "/api/v1/devices/abc-123",
		"/api/v1/devices/abc-123", "/proxy/api/v1/devices/abc-123"}
	assert.Equal(t, want, paths)
}

func TestNewToken(t *testing.T) {
	tests := []struct {
		name, token, wantErr string
	}{
		{"empty", "", "empty API token"},
		{"blank", " \t ", "empty API token"},
		{"inner space", "abc def-secret", "whitespace or control characters"},
		{"newline", "abc\ndef-secret", "whitespace or control characters"},
		{"control", "abc\x7fdef-secret", "whitespace or control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New("https://acme.api.kandji.io", tt.token)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), "secret")
		})
	}
	c, err := New("https://acme.api.kandji.io", "  padded-token  ")
	require.NoError(t, err)
	assert.Equal(t, "padded-token", c.token)
}

func TestNewOptionValidation(t *testing.T) {
	tests := []struct {
		name    string
		opt     Option
		wantErr string
	}{
		{"zero rate", WithRatePerHour(0), "at least 1 request per hour"},
		{"negative rate", WithRatePerHour(-5), "at least 1 request per hour"},
		{"zero attempts", WithRetries(0, time.Second, time.Second), "at least 1 attempt"},
		{"zero base", WithRetries(3, 0, time.Second), "0 < base <= max"},
		{"max below base", WithRetries(3, 2*time.Second, time.Second), "0 < base <= max"},
		{"empty user agent", WithUserAgent("  "), "user agent"},
		{"multi-line user agent", WithUserAgent("lockbot\r\nX-Evil: 1"), "user agent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New("https://acme.api.kandji.io", "tok", tt.opt)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
	_, err := New("https://acme.api.kandji.io", "tok", nil, WithHTTPClient(nil), WithLogger(nil), WithRetryNotify(nil))
	require.NoError(t, err, "nil options are ignored")
}

func TestRequestHeadersAndQuery(t *testing.T) {
	tests := []struct {
		name   string
		opts   []Option
		wantUA string
	}{
		{"default user agent", nil, "lockbot"},
		{"versioned user agent", []Option{WithUserAgent("lockbot/1.2.3")}, "lockbot/1.2.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux := setupMux(t, tt.opts...)
			var got []*http.Request
			var mu sync.Mutex
			keep := func(h http.HandlerFunc) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					got = append(got, r)
					mu.Unlock()
					h(w, r)
				}
			}
			mux.HandleFunc("GET /devices", keep(respond(200, "application/json", "[]")))
			mux.HandleFunc("POST /devices/{id}/action/lock", keep(respond(200, "application/json", "{}")))

			_, err := c.DevicesByEmail(t.Context(), "first.last+it@corp.example")
			require.NoError(t, err)
			_, err = c.Lock(t.Context(), "dev-1", LockOptions{})
			require.NoError(t, err)

			require.Len(t, got, 3)
			for _, r := range got {
				assert.Equal(t, "Bearer "+testToken, r.Header.Get("Authorization"))
				assert.Equal(t, "application/json", r.Header.Get("Accept"))
				assert.Equal(t, tt.wantUA, r.Header.Get("User-Agent"))
				assert.NotContains(t, r.URL.String(), testToken)
			}
			assert.Empty(t, got[0].Header.Get("Content-Type"), "a GET has no body")
			assert.Equal(t, "limit=300&offset=0&ordering=serial_number&user_email_exact=first.last%2Bit%40corp.example",
				got[0].URL.RawQuery)
			assert.Equal(t, "limit=300&offset=0&ordering=serial_number&user_email=first.last%2Bit%40corp.example",
				got[1].URL.RawQuery)
			assert.Equal(t, "application/json", got[2].Header.Get("Content-Type"))
		})
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	var hits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		hits.Add(1)
	}))
	t.Cleanup(other.Close)

	hc := &http.Client{Timeout: 5 * time.Second}
	c, mux := setupMux(t, WithHTTPClient(hc))
	mux.HandleFunc("GET /devices/{id}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusFound)
	})
	_, err := c.Device(t.Context(), "dev-1")
	var apiErr *Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusFound, apiErr.StatusCode)
	assert.Zero(t, hits.Load(), "the redirect target must never see a request (nor the token)")
	assert.Nil(t, hc.CheckRedirect, "the caller's http.Client is not modified")
}
