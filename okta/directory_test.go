package okta

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewDirectoryValidation(t *testing.T) {
	tests := []struct {
		name    string
		url     string
		token   string
		wantErr string
	}{
		{name: "https", url: "https://acme.okta.com", token: testToken},
		{name: "https trailing slash", url: "https://acme.okta.com/", token: testToken},
		{name: "loopback http v4", url: "http://127.0.0.1:8080", token: testToken},
		{name: "loopback http 127/8", url: "http://127.8.9.10", token: testToken},
		{name: "loopback http name", url: "http://localhost:1234", token: testToken},
		{name: "loopback http v6", url: "http://[::1]:1234", token: testToken},
		{name: "plain http elsewhere", url: "http://acme.okta.com", token: testToken, wantErr: "only allowed for loopback"},
		{name: "plain http private IP", url: "http://10.0.0.1:8080", token: testToken, wantErr: "only allowed for loopback"},
		{name: "plain http loopback-looking name", url: "http://127.0.0.1.nip.io", token: testToken, wantErr: "only allowed for loopback"},
		{name: "other scheme", url: "ftp://acme.okta.com", token: testToken, wantErr: "must use https"},
		{name: "no scheme", url: "acme.okta.com", token: testToken, wantErr: "must look like"},
		{name: "path", url: "https://acme.okta.com/admin", token: testToken, wantErr: "must look like"},
		{name: "user info", url: "https://me:pw@acme.okta.com", token: testToken, wantErr: "must look like"},
		{name: "query", url: "https://acme.okta.com?x=1", token: testToken, wantErr: "must look like"},
		{name: "template", url: "https://{yourOktaDomain}", token: testToken, wantErr: "must look like"},
		{name: "admin domain (SDK check)", url: "https://acme-admin.okta.com", token: testToken, wantErr: "-admin"},
		{name: "empty token", url: "https://acme.okta.com", token: "", wantErr: "API token is empty"},
		{name: "token with newline", url: "https://acme.okta.com", token: testToken + "\n", wantErr: "whitespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewDirectory(context.Background(), tt.url, tt.token)
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.NotNil(t, d)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			assert.NotContains(t, err.Error(), testToken)
		})
	}
}

func TestDirectoryUser(t *testing.T) {
	f := newFakeOkta(t)
	f.addUser("00u1", "jane.doe@acme.example", "jane@mail.acme.example", "Jane", "Doe", "", "SUSPENDED")
	f.addUser("00u2", "odd+tag@acme.example", "odd@acme.example", "", "", "Odd One", "ACTIVE")
	f.addUser("00u3", "what?#x", "", "", "", "", "DEPROVISIONED")
	d := newTestDirectory(t, f)
	ctx := context.Background()

	tests := []struct {
		key      string
		want     User
		wantName string
		wantPath string
	}{
		{
			key:  "00u1",
			want: User{ID: "00u1", Login: "jane.doe@acme.example", Email: "jane@mail.acme.example", FirstName: "Jane", LastName: "Doe", Status: "SUSPENDED"},
			// No display name: first and last.
			wantName: "Jane Doe", wantPath: "/api/v1/users/00u1",
		},
		{
			key:      "jane.doe@acme.example",
			want:     User{ID: "00u1", Login: "jane.doe@acme.example", Email: "jane@mail.acme.example", FirstName: "Jane", LastName: "Doe", Status: "SUSPENDED"},
			wantName: "Jane Doe", wantPath: "/api/v1/users/jane.doe@acme.example",
		},
		{
			key:      "odd+tag@acme.example",
			want:     User{ID: "00u2", Login: "odd+tag@acme.example", Email: "odd@acme.example", DisplayName: "Odd One", Status: "ACTIVE"},
			wantName: "Odd One", wantPath: "/api/v1/users/odd+tag@acme.example",
		},
		{
			key:      "what?#x",
			want:     User{ID: "00u3", Login: "what?#x", Status: "DEPROVISIONED"},
			wantName: "what?#x", wantPath: "/api/v1/users/what%3F%23x",
		},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			before := len(f.userRequests())
			u, err := d.User(ctx, tt.key)
			require.NoError(t, err)
			assert.Equal(t, tt.want, u)
			assert.Equal(t, tt.wantName, u.Name())
			reqs := f.userRequests()
			require.Len(t, reqs, before+1)
			assert.Equal(t, tt.wantPath, reqs[before])
		})
	}
}

func TestDirectoryUserRejectsUnusableKeys(t *testing.T) {
	f := newFakeOkta(t)
	d := newTestDirectory(t, f)
	for _, key := range []string{"", ".", "..", "a/b", "../groups"} {
		_, err := d.User(context.Background(), key)
		require.ErrorIs(t, err, ErrNotFound, "%q", key)
	}
	assert.Empty(t, f.userRequests(), "nothing is sent")
}

func TestUserName(t *testing.T) {
	assert.Equal(t, "Disp", User{DisplayName: "Disp", FirstName: "F", Login: "l"}.Name())
	assert.Equal(t, "F", User{FirstName: "F", Login: "l"}.Name())
	assert.Equal(t, "L", User{LastName: "L", Login: "l"}.Name())
	assert.Equal(t, "l", User{Login: "l"}.Name())
	assert.Empty(t, User{}.Name())
}

func TestDirectoryErrors(t *testing.T) {
	date := time.Now().UTC().Truncate(time.Second)
	rateHeaders := map[string]string{
		"Date":               date.Format(http.TimeFormat),
		"X-Rate-Limit-Reset": strconv.FormatInt(date.Add(30*time.Second).Unix(), 10),
		"X-Rate-Limit-Limit": "600", "X-Rate-Limit-Remaining": "0",
	}
	tests := []struct {
		name     string
		replies  []fakeReply
		opts     []DirectoryOption
		wantErr  error
		wantMsg  string
		wantWait time.Duration // for 429
		wantHits int
	}{
		{
			name:    "not found",
			replies: []fakeReply{{status: 404, body: `{"errorCode":"E0000007","errorSummary":"Not found: Resource not found: nobody (User)","errorCauses":[]}`}},
			wantErr: ErrNotFound, wantMsg: "E0000007 Not found", wantHits: 1,
		},
		{
			name:    "unauthorized",
			replies: []fakeReply{{status: 401, body: `{"errorCode":"E0000011","errorSummary":"Invalid token provided"}`}},
			wantErr: ErrUnauthorized, wantMsg: "rejected the API token", wantHits: 1,
		},
		{
			name:    "forbidden",
			replies: []fakeReply{{status: 403, body: `{"errorCode":"E0000006","errorSummary":"You do not have permission to perform the requested action"}`}},
			wantErr: ErrUnauthorized, wantMsg: "lacks permission okta.users.read", wantHits: 1,
		},
		{
			name: "server error with token echoed in the request id",
			replies: []fakeReply{{status: 500, header: map[string]string{"Content-Type": "text/html", "X-Okta-Request-Id": testToken},
				body: "<html>oops</html>"}},
			wantErr: ErrUnavailable, wantMsg: "HTTP 500", wantHits: 1,
		},
		{
			name:    "server error with token echoed in the summary",
			replies: []fakeReply{{status: 500, body: `{"errorCode":"E0000009","errorSummary":"Internal Server Error for SSWS ` + testToken + `"}`}},
			wantErr: ErrUnavailable, wantMsg: "[redacted]", wantHits: 1,
		},
		{
			name: "bad gateway", replies: []fakeReply{{status: 502, header: map[string]string{"Content-Type": "text/plain"}, body: "bad gateway"}},
			wantErr: ErrUnavailable, wantMsg: "HTTP 502", wantHits: 1,
		},
		{
			name:    "rate limited with reset",
			replies: []fakeReply{{status: 429, header: rateHeaders, body: `{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}`}},
			wantErr: ErrUnavailable, wantMsg: "HTTP 429", wantWait: 31 * time.Second, wantHits: 1,
		},
		{
			name: "rate limited, SDK retries then gives up",
			replies: []fakeReply{
				{status: 429, header: rateHeaders, body: `{}`}, {status: 429, header: rateHeaders, body: `{}`}, {status: 429, header: rateHeaders, body: `{}`},
			},
			opts:    []DirectoryOption{withRateLimitRetries(2, 0)},
			wantErr: ErrUnavailable, wantMsg: "HTTP 429", wantWait: 31 * time.Second, wantHits: 3,
		},
		{
			name:    "rate limited without reset headers",
			replies: []fakeReply{{status: 429, body: `{}`}},
			opts:    []DirectoryOption{withRateLimitRetries(2, 0)},
			wantErr: ErrUnavailable, wantMsg: "HTTP 429", wantHits: 1,
		},
		{
			name: "invalid JSON", replies: []fakeReply{{status: 200, body: `{"id":`}},
			wantErr: ErrUnavailable, wantMsg: "HTTP 200", wantHits: 1,
		},
		{
			name: "not JSON", replies: []fakeReply{{status: 200, header: map[string]string{"Content-Type": "text/html"}, body: `<html/>`}},
			wantErr: ErrUnavailable, wantMsg: "could not build a response", wantHits: 1,
		},
		{
			name: "null user", replies: []fakeReply{{status: 200, body: `null`}},
			wantErr: ErrUnavailable, wantMsg: "empty response", wantHits: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeOkta(t)
			f.force(tt.replies...)
			var logs bytes.Buffer
			d := newTestDirectory(t, f, append(tt.opts, WithDirectoryLogger(newTextLogger(&logs)))...)
			_, err := d.User(context.Background(), "nobody")
			assert.NotContains(t, logs.String(), testToken)
			if strings.Contains(tt.wantMsg, "429") {
				assert.Equal(t, tt.wantHits, strings.Count(logs.String(), "okta API rate limited"), "each 429 is logged, retried or not")
			}
			require.ErrorIs(t, err, tt.wantErr)
			assert.Contains(t, err.Error(), tt.wantMsg)
			assert.NotContains(t, err.Error(), testToken)
			assert.Len(t, f.userRequests(), tt.wantHits)
			var rl *rateLimitError
			if tt.wantWait > 0 || strings.Contains(tt.wantMsg, "429") {
				require.ErrorAs(t, err, &rl)
				assert.Equal(t, tt.wantWait, rl.wait)
			} else {
				assert.NotErrorAs(t, err, &rl)
			}
		})
	}
}

func TestDirectoryTransportErrors(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		f := newFakeOkta(t)
		d := newTestDirectory(t, f)
		f.srv.Close()
		_, err := d.User(context.Background(), "00u1")
		require.ErrorIs(t, err, ErrUnavailable)
		assert.NotContains(t, err.Error(), testToken)
	})
	t.Run("caller cancels", func(t *testing.T) {
		f := newFakeOkta(t)
		d := newTestDirectory(t, f)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := d.User(ctx, "00u1")
		require.ErrorIs(t, err, context.Canceled)
		assert.NotErrorIs(t, err, ErrUnavailable)
	})
	t.Run("request timeout", func(t *testing.T) {
		release := make(chan struct{})
		f := newFakeOkta(t)
		slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		})
		f.srv.Config.Handler = slow
		defer close(release)
		d := newTestDirectory(t, f, WithRequestTimeout(5*time.Millisecond))
		_, err := d.User(context.Background(), "00u1")
		require.ErrorIs(t, err, ErrUnavailable)
		assert.Contains(t, err.Error(), "no answer within 5ms")
	})
}

func TestDirectoryIgnoresSDKEnvironmentAndCache(t *testing.T) {
	// Every OKTA_* setting the SDK reads that could change behaviour.
	t.Setenv("OKTA_CLIENT_ORGURL", "https://evil.example")
	t.Setenv("OKTA_CLIENT_TOKEN", "other-token")
	t.Setenv("OKTA_CLIENT_AUTHORIZATIONMODE", "Bearer")
	t.Setenv("OKTA_CLIENT_CACHE_ENABLED", "true")
	t.Setenv("OKTA_CLIENT_REQUEST_TIMEOUT", "1")
	t.Setenv("OKTA_CLIENT_RATE_LIMIT_MAX_RETRIES", "9")
	t.Setenv("OKTA_CLIENT_PROXY_HOST", "127.0.0.1")
	t.Setenv("OKTA_CLIENT_PROXY_PORT", "9")
	t.Setenv("OKTA_TESTING_DISABLE_HTTPS_CHECK", "true")

	f := newFakeOkta(t)
	f.addUser("00u1", "jane@acme.example", "jane@acme.example", "Jane", "Doe", "", "ACTIVE")
	d := newTestDirectory(t, f)
	for _, status := range []string{"ACTIVE", "SUSPENDED"} {
		f.addUser("00u1", "jane@acme.example", "jane@acme.example", "Jane", "Doe", "", status)
		u, err := d.User(context.Background(), "00u1")
		require.NoError(t, err)
		assert.Equal(t, status, u.Status, "fresh status, no SDK cache")
	}
	assert.Len(t, f.userRequests(), 2)

	_, err := NewDirectory(context.Background(), "http://acme.okta.com", testToken)
	require.Error(t, err, "the env cannot re-enable plain http")
}

func TestDirectoryEnrich(t *testing.T) {
	f := newFakeOkta(t)
	f.addUser("00u1", "jdoe", "jane@acme.example", "Jane", "Doe", "", "SUSPENDED")
	d := newTestDirectory(t, f)
	ctx := context.Background()

	tests := []struct {
		name    string
		in      Event
		want    Event
		wantErr error
	}{
		{
			name: "by id, keeps the event's name",
			in:   Event{UUID: "e1", UserID: "00u1", Login: "jdoe", Name: "Jane D."},
			want: Event{UUID: "e1", UserID: "00u1", Login: "jdoe", Email: "jane@acme.example", Name: "Jane D."},
		},
		{
			name: "profile email wins over the login",
			in:   Event{UUID: "e2", UserID: "00u1", Login: "jdoe@old.example", Email: "jdoe@old.example"},
			want: Event{UUID: "e2", UserID: "00u1", Login: "jdoe@old.example", Email: "jane@acme.example", Name: "Jane Doe"},
		},
		{
			name: "by login",
			in:   Event{UUID: "e3", Login: "jdoe"},
			want: Event{UUID: "e3", Login: "jdoe", Email: "jane@acme.example", Name: "Jane Doe"},
		},
		{name: "unknown user", in: Event{UUID: "e4", UserID: "00unknown"}, wantErr: ErrNotFound},
		{name: "no identity", in: Event{UUID: "e5"}, wantErr: ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.in
			err := d.Enrich(ctx, &e)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Equal(t, tt.in, e, "unchanged on error")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, e)
		})
	}
}

func TestDirectoryCheck(t *testing.T) {
	tests := []struct {
		name    string
		replies []fakeReply
		wantErr error
		wantMsg string
	}{
		{name: "ok"},
		{
			name:    "no log permission",
			replies: []fakeReply{{status: 403, body: `{"errorCode":"E0000006","errorSummary":"You do not have permission to perform the requested action"}`}},
			wantErr: ErrUnauthorized, wantMsg: "okta.logs.read",
		},
		{
			name:    "revoked token",
			replies: []fakeReply{{status: 401, body: `{"errorCode":"E0000011","errorSummary":"Invalid token provided"}`}},
			wantErr: ErrUnauthorized, wantMsg: "invalid, expired or revoked",
		},
		{
			// The SDK dereferences nil on a Link it cannot parse.
			name:    "SDK panic becomes an error",
			replies: []fakeReply{{status: 200, header: map[string]string{"Link": `<%zz>; rel="next"`}, body: `[]`}},
			wantErr: ErrUnavailable, wantMsg: "SDK failed on the response",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeOkta(t)
			f.force(tt.replies...)
			var logs bytes.Buffer
			d := newTestDirectory(t, f, WithDirectoryLogger(newTextLogger(&logs)))
			err := d.Check(context.Background())
			assert.Equal(t, tt.name == "SDK panic becomes an error", strings.Contains(logs.String(), "okta SDK panicked"))
			reqs := f.logRequests()
			require.Len(t, reqs, 1)
			assert.Equal(t, "1", reqs[0].Get("limit"))
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			assert.Contains(t, err.Error(), tt.wantMsg)
			assert.NotContains(t, err.Error(), testToken)
		})
	}
}
