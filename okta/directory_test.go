package okta

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/okta/oktatest"
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
	f := newOrg(t)
	addUser(f, "00u1", "jane.doe@acme.example", "jane@mail.acme.example", "Jane", "Doe", "", "SUSPENDED")
	addUser(f, "00u2", "odd+tag@acme.example", "odd@acme.example", "", "", "Odd One", "ACTIVE")
	addUser(f, "00u3", "what?#x", "", "", "", "", "DEPROVISIONED")
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
			before := len(userPaths(f))
			u, err := d.User(ctx, tt.key)
			require.NoError(t, err)
			assert.Equal(t, tt.want, u)
			assert.Equal(t, tt.wantName, u.Name())
			reqs := userPaths(f)
			require.Len(t, reqs, before+1)
			assert.Equal(t, tt.wantPath, reqs[before])
		})
	}
}

func TestDirectoryUserRejectsUnusableKeys(t *testing.T) {
	f := newOrg(t)
	d := newTestDirectory(t, f)
	for _, key := range []string{"", ".", "..", "a/b", "../groups"} {
		_, err := d.User(context.Background(), key)
		require.ErrorIs(t, err, ErrNotFound, "%q", key)
	}
	assert.Empty(t, userPaths(f), "nothing is sent")
}

func TestUserName(t *testing.T) {
	assert.Equal(t, "Disp", User{DisplayName: "Disp", FirstName: "F", Login: "l"}.Name())
	assert.Equal(t, "F", User{FirstName: "F", Login: "l"}.Name())
	assert.Equal(t, "L", User{LastName: "L", Login: "l"}.Name())
	assert.Equal(t, "l", User{Login: "l"}.Name())
	assert.Empty(t, User{}.Name())
}

func TestDirectoryErrors(t *testing.T) {
	reply := func(status int, body string, header ...string) func(*oktatest.Server) {
		return func(f *oktatest.Server) {
			h := http.Header{}
			for i := 0; i+1 < len(header); i += 2 {
				h.Set(header[i], header[i+1])
			}
			f.ReplyNext("", oktatest.Reply{Status: status, Header: h, Body: body})
		}
	}
	tests := []struct {
		name     string
		setup    func(*oktatest.Server)
		opts     []DirectoryOption
		wantErr  error
		wantMsg  string
		wantWait time.Duration // for 429
		wantHits int
		noStatus bool // the call succeeded as far as the SDK knows
	}{
		{name: "not found", wantErr: ErrNotFound, wantMsg: "E0000007 Not found", wantHits: 1},
		{
			name: "unauthorized", setup: func(f *oktatest.Server) { f.RevokeToken() },
			wantErr: ErrUnauthorized, wantMsg: "rejected the API token", wantHits: 1,
		},
		{
			name: "forbidden", setup: func(f *oktatest.Server) { f.SetForbidden("/api/v1/users") },
			wantErr: ErrUnauthorized, wantMsg: "lacks permission okta.users.read", wantHits: 1,
		},
		{
			name:    "server error with token echoed in the request id",
			setup:   reply(500, "<html>oops</html>", "Content-Type", "text/html", "X-Okta-Request-Id", testToken),
			wantErr: ErrUnavailable, wantMsg: "HTTP 500", wantHits: 1,
		},
		{
			name:    "server error with token echoed in the summary",
			setup:   reply(500, `{"errorCode":"E0000009","errorSummary":"Internal Server Error for SSWS `+testToken+`"}`),
			wantErr: ErrUnavailable, wantMsg: "[redacted]", wantHits: 1,
		},
		{
			name: "server error", setup: func(f *oktatest.Server) { f.FailNext("", 1, 503) },
			wantErr: ErrUnavailable, wantMsg: "HTTP 503", wantHits: 1,
		},
		{
			name: "bad gateway", setup: reply(502, "bad gateway", "Content-Type", "text/plain"),
			wantErr: ErrUnavailable, wantMsg: "HTTP 502", wantHits: 1,
		},
		{
			name: "rate limited with reset", setup: func(f *oktatest.Server) { f.RateLimitNext("", 1, 30*time.Second) },
			wantErr: ErrUnavailable, wantMsg: "HTTP 429", wantWait: 31 * time.Second, wantHits: 1,
		},
		{
			name:    "rate limited, SDK retries then gives up",
			setup:   func(f *oktatest.Server) { f.RateLimitNext("", 3, 30*time.Second) },
			opts:    []DirectoryOption{withRateLimitRetries(2, 0)},
			wantErr: ErrUnavailable, wantMsg: "HTTP 429", wantWait: 31 * time.Second, wantHits: 3,
		},
		{
			name:    "rate limited without reset headers",
			setup:   reply(429, `{}`),
			opts:    []DirectoryOption{withRateLimitRetries(2, 0)},
			wantErr: ErrUnavailable, wantMsg: "HTTP 429", wantHits: 1,
		},
		{name: "invalid JSON", setup: reply(200, `{"id":`), wantErr: ErrUnavailable, wantMsg: "HTTP 200", wantHits: 1},
		{
			name: "not JSON", setup: reply(200, `<html/>`, "Content-Type", "text/html"),
			wantErr: ErrUnavailable, wantMsg: "could not build a response", wantHits: 1,
		},
		{name: "null user", setup: reply(200, `null`), wantErr: ErrUnavailable, wantMsg: "empty response", wantHits: 1, noStatus: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newOrg(t)
			if tt.setup != nil {
				tt.setup(f)
			}
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
			assert.Len(t, userPaths(f), tt.wantHits)
			ae := asAPIError(err)
			if tt.noStatus {
				assert.Nil(t, ae)
				return
			}
			require.NotNil(t, ae, "Okta answered, so the error says how")
			assert.Equal(t, tt.wantWait, ae.wait)
		})
	}
}

func TestDirectoryTransportErrors(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		f := newOrg(t)
		d := newTestDirectory(t, f)
		f.Close()
		_, err := d.User(context.Background(), "00u1")
		require.ErrorIs(t, err, ErrUnavailable)
		assert.NotContains(t, err.Error(), testToken)
	})
	t.Run("caller cancels", func(t *testing.T) {
		f := newOrg(t)
		d := newTestDirectory(t, f)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := d.User(ctx, "00u1")
		require.ErrorIs(t, err, context.Canceled)
		assert.NotErrorIs(t, err, ErrUnavailable)
	})
	t.Run("request timeout", func(t *testing.T) {
		// An org that never answers: the one thing the fake cannot do.
		release := make(chan struct{})
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}))
		defer slow.Close()
		defer close(release)
		d, err := NewDirectory(context.Background(), slow.URL, testToken, WithRequestTimeout(5*time.Millisecond),
			WithDirectoryHTTPClient(slow.Client()))
		require.NoError(t, err)
		_, err = d.User(context.Background(), "00u1")
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

	f := newOrg(t)
	addUser(f, "00u1", "jane@acme.example", "jane@acme.example", "Jane", "Doe", "", "ACTIVE")
	d := newTestDirectory(t, f)
	for _, status := range []string{"ACTIVE", "SUSPENDED"} {
		addUser(f, "00u1", "jane@acme.example", "jane@acme.example", "Jane", "Doe", "", status)
		u, err := d.User(context.Background(), "00u1")
		require.NoError(t, err)
		assert.Equal(t, status, u.Status, "fresh status, no SDK cache")
	}
	assert.Len(t, userPaths(f), 2)

	_, err := NewDirectory(context.Background(), "http://acme.okta.com", testToken)
	require.Error(t, err, "the env cannot re-enable plain http")
}

func TestDirectoryEnrich(t *testing.T) {
	f := newOrg(t)
	addUser(f, "00u1", "jdoe", "jane@acme.example", "Jane", "Doe", "", "SUSPENDED")
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
			want: Event{UUID: "e1", UserID: "00u1", Login: "jdoe", Email: "jane@acme.example", Name: "Jane D.", Status: "SUSPENDED"},
		},
		{
			name: "profile email wins over the login",
			in:   Event{UUID: "e2", UserID: "00u1", Login: "jdoe@old.example", Email: "jdoe@old.example"},
			want: Event{UUID: "e2", UserID: "00u1", Login: "jdoe@old.example", Email: "jane@acme.example", Name: "Jane Doe", Status: "SUSPENDED"},
		},
		{
			name: "by login",
			in:   Event{UUID: "e3", Login: "jdoe"},
			want: Event{UUID: "e3", Login: "jdoe", Email: "jane@acme.example", Name: "Jane Doe", Status: "SUSPENDED"},
		},
		{
			name: "login with spaces around it",
			in:   Event{UUID: "e6", Login: " JDOE\t"},
			want: Event{UUID: "e6", Login: " JDOE\t", Email: "jane@acme.example", Name: "Jane Doe", Status: "SUSPENDED"},
		},
		{name: "unknown user", in: Event{UUID: "e4", UserID: "00unknown"}, wantErr: ErrNotFound},
		{name: "look-alike login", in: Event{UUID: "e7", Login: "\u212Adoe"}, wantErr: ErrNotFound},
		{name: "me is not a user", in: Event{UUID: "e8", Login: " me "}, wantErr: ErrNotFound},
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
		setup   func(*oktatest.Server)
		wantErr error
		wantMsg string
	}{
		{name: "ok"},
		{
			name: "no log permission", setup: func(f *oktatest.Server) { f.SetForbidden(logsPath) },
			wantErr: ErrUnauthorized, wantMsg: "okta.logs.read",
		},
		{
			name: "revoked token", setup: func(f *oktatest.Server) { f.RevokeToken() },
			wantErr: ErrUnauthorized, wantMsg: "invalid, expired or revoked",
		},
		{
			// The SDK dereferences nil on a Link it cannot parse.
			name: "SDK panic becomes an error",
			setup: func(f *oktatest.Server) {
				f.ReplyNext(logsPath, oktatest.Reply{Status: 200, Header: http.Header{"Link": {`<%zz>; rel="next"`}}, Body: `[]`})
			},
			wantErr: ErrUnavailable, wantMsg: "SDK failed on the response",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newOrg(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			var logs bytes.Buffer
			d := newTestDirectory(t, f, WithDirectoryLogger(newTextLogger(&logs)))
			err := d.Check(context.Background())
			assert.Equal(t, tt.name == "SDK panic becomes an error", strings.Contains(logs.String(), "okta SDK panicked"))
			reqs := logQueries(f)
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

// TestDirectoryUserIsFresh: a status change between two reads is seen by
// the second, so a lock decision never rests on a cached record.
func TestDirectoryUserIsFresh(t *testing.T) {
	f := newOrg(t)
	addUser(f, "00u1", "jane@acme.example", "jane@acme.example", "Jane", "Doe", "", oktatest.StatusActive)
	d := newTestDirectory(t, f)
	ev := Event{UUID: "e1", UserID: "00u1"}
	for _, status := range []string{oktatest.StatusActive, oktatest.StatusSuspended, oktatest.StatusDeprovisioned, oktatest.StatusActive} {
		require.NoError(t, f.SetStatus("00u1", status))
		u, err := d.User(context.Background(), "00u1")
		require.NoError(t, err)
		assert.Equal(t, status, u.Status)
		require.NoError(t, d.Enrich(context.Background(), &ev))
		assert.Equal(t, status, ev.Status, "Enrich exposes the status it read")
	}
	assert.Len(t, userPaths(f), 8, "every read reached Okta")
}

// TestDirectoryUserFoldsASCIIOnly: Okta may resolve a look-alike login or a
// shortname to someone; only the user asked for is accepted.
func TestDirectoryUserFoldsASCIIOnly(t *testing.T) {
	f := newOrg(t)
	addUser(f, "00ukate", "kate@corp.com", "kate@corp.com", "Kate", "Bell", "", oktatest.StatusActive)
	f.SetUnicodeLoginFolding(true) // an org that folds K (KELVIN SIGN) to k
	d := newTestDirectory(t, f)
	ctx := context.Background()

	for _, key := range []string{"kate@corp.com", "KATE@Corp.COM", " kate@corp.com\t", "00ukate"} {
		u, err := d.User(ctx, key)
		require.NoError(t, err, "%q", key)
		assert.Equal(t, "00ukate", u.ID)
	}
	for _, key := range []string{"\u212Aate@corp.com", "\u212AATE@CORP.COM", "kate"} {
		before := len(userPaths(f))
		_, err := d.User(ctx, key)
		require.ErrorIs(t, err, ErrNotFound, "%q", key)
		assert.Contains(t, err.Error(), "not the one asked for")
		assert.Len(t, userPaths(f), before+1, "Okta answered with kate; lockbot refused the answer")
	}
}

func TestNewDirectoryLoopbackIsASCII(t *testing.T) {
	_, err := NewDirectory(context.Background(), "http://localho\u017Ft:8080", testToken)
	require.ErrorContains(t, err, "only allowed for loopback", "U+017F LONG S folds to s only under Unicode rules")
	_, err = NewDirectory(context.Background(), "http://LocalHost:8080", testToken)
	require.NoError(t, err)
}

func TestDirectoryRevokeSessions(t *testing.T) {
	f := newOrg(t)
	addUser(f, "00ubob", "bob@corp.com", "bob@corp.com", "Bob", "Stone", "", oktatest.StatusSuspended)
	d := newTestDirectory(t, f)
	ctx := context.Background()

	require.NoError(t, d.RevokeSessions(ctx, "00ubob"))
	revs := f.Revocations()
	require.Len(t, revs, 1)
	assert.Equal(t, "00ubob", revs[0].UserID)
	assert.True(t, revs[0].OAuthTokens, "OAuth and OIDC tokens are revoked too")
	reqs := f.RequestsTo("/api/v1/users/00ubob/sessions")
	require.Len(t, reqs, 1)
	assert.Equal(t, http.MethodDelete, reqs[0].Method)
	assert.Equal(t, "true", reqs[0].Query.Get("oauthTokens"))

	err := d.RevokeSessions(ctx, "bob@corp.com")
	require.ErrorIs(t, err, ErrNotFound, "sessions are revoked by ID only")
	require.ErrorIs(t, d.RevokeSessions(ctx, "00unobody"), ErrNotFound)
	for _, bad := range []string{"", " ", "me", "..", "a/b"} {
		require.ErrorIs(t, d.RevokeSessions(ctx, bad), ErrNotFound, "%q", bad)
	}
	assert.Len(t, f.RequestsTo("/api/v1/users"), 3, "unusable IDs are not sent")

	f.SetForbidden("/api/v1/users/00ubob/sessions")
	err = d.RevokeSessions(ctx, "00ubob")
	require.ErrorIs(t, err, ErrUnauthorized)
	assert.Contains(t, err.Error(), "okta.users.manage")
	assert.NotContains(t, err.Error(), testToken)
	assert.Len(t, f.Revocations(), 1)
}
