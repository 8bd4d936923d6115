package okta

import (
	"context"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/okta/oktatest"
)

const testToken = "00aTestTokenValue-DoNotLeak-0123456789"

// newOrg starts a fake Okta org that accepts testToken.
func newOrg(t testing.TB, opts ...oktatest.Option) *oktatest.Server {
	t.Helper()
	org := oktatest.NewServer(append([]oktatest.Option{oktatest.WithToken(testToken)}, opts...)...)
	t.Cleanup(org.Close)
	return org
}

// addUser adds a user with the given profile and status.
func addUser(org *oktatest.Server, id, login, email, first, last, display, status string) {
	org.AddUser(oktatest.User{ID: id, Login: login, Email: email, FirstName: first, LastName: last, DisplayName: display, Status: status})
}

// withRateLimitRetries sets the SDK's 429 retries and max backoff (seconds)
// so tests do not sleep.
func withRateLimitRetries(n int32, backoff int64) DirectoryOption {
	return func(c *dirConfig) { c.maxRetries, c.maxBackoff = n, backoff }
}

func newTestDirectory(t *testing.T, org *oktatest.Server, opts ...DirectoryOption) *Directory {
	t.Helper()
	opts = append([]DirectoryOption{withRateLimitRetries(0, 0), WithDirectoryHTTPClient(org.Client())}, opts...)
	d, err := NewDirectory(context.Background(), org.URL(), testToken, opts...)
	require.NoError(t, err)
	return d
}

// userPaths are the escaped paths of the user requests org received.
func userPaths(org *oktatest.Server) []string {
	var out []string
	for _, r := range org.RequestsTo("/api/v1/users") {
		out = append(out, r.Path)
	}
	return out
}

// logQueries are the queries of the System Log requests org received.
func logQueries(org *oktatest.Server) []url.Values {
	var out []url.Values
	for _, r := range org.RequestsTo(logsPath) {
		out = append(out, r.Query)
	}
	return out
}
