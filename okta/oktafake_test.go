package okta

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

const testToken = "00aTestTokenValue-DoNotLeak-0123456789"

// fakeOkta is an httptest fake of the two Okta endpoints lockbot uses:
// GET /api/v1/users/{idOrLogin} and the polling GET /api/v1/logs with
// Link rel="next" cursors (after=cN serves page N; past the last page it
// serves an empty page that still has a next link, as Okta does).
type fakeOkta struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	users    map[string]map[string]any // by id and by login
	pages    [][]json.RawMessage
	logReqs  []url.Values
	userReqs []string // escaped paths
	forced   []fakeReply
}

// fakeReply is a canned response consumed by the next request.
type fakeReply struct {
	status int
	header map[string]string
	body   string
}

func newFakeOkta(t *testing.T) *fakeOkta {
	f := &fakeOkta{t: t, users: map[string]map[string]any{}}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOkta) addUser(id, login, email, first, last, display, status string) {
	profile := map[string]any{"login": login, "email": email, "firstName": first, "lastName": last, "mobilePhone": nil}
	if display != "" {
		profile["displayName"] = display
	}
	u := map[string]any{
		"id": id, "status": status, "created": "2023-01-10T09:00:00.000Z", "statusChanged": "2024-05-06T10:15:30.000Z",
		"profile":     profile,
		"credentials": map[string]any{"provider": map[string]any{"type": "OKTA", "name": "OKTA"}},
		"_links":      map[string]any{"self": map[string]any{"href": f.srv.URL + "/api/v1/users/" + id}},
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[id], f.users[login] = u, u
}

// setPages splits events into pages of size n.
func (f *fakeOkta) setPages(events []json.RawMessage, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pages = nil
	for i := 0; i < len(events); i += n {
		f.pages = append(f.pages, events[i:min(i+n, len(events))])
	}
}

func (f *fakeOkta) force(replies ...fakeReply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.forced = append(f.forced, replies...)
}

func (f *fakeOkta) logRequests() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.logReqs...)
}

func (f *fakeOkta) userRequests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.userReqs...)
}

func (f *fakeOkta) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if got := r.Header.Get("Authorization"); got != "SSWS "+testToken {
		f.t.Errorf("%s %s: Authorization header is not the SSWS token (got %d bytes)", r.Method, r.URL.Path, len(got))
		writeOktaError(w, http.StatusUnauthorized, "E0000011", "Invalid token provided")
		return
	}
	if r.Method != http.MethodGet || r.Header.Get("Accept") != "application/json" {
		f.t.Errorf("unexpected %s with Accept %q", r.Method, r.Header.Get("Accept"))
	}
	isLogs := r.URL.Path == logsPath
	if isLogs {
		f.logReqs = append(f.logReqs, r.URL.Query())
	} else {
		f.userReqs = append(f.userReqs, r.URL.EscapedPath())
	}
	if len(f.forced) > 0 {
		reply := f.forced[0]
		f.forced = f.forced[1:]
		for k, v := range reply.header {
			w.Header().Set(k, v)
		}
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(reply.status)
		_, _ = fmt.Fprint(w, reply.body)
		return
	}
	switch {
	case isLogs:
		f.serveLogs(w, r)
	case strings.HasPrefix(r.URL.Path, "/api/v1/users/"):
		u, ok := f.users[strings.TrimPrefix(r.URL.Path, "/api/v1/users/")]
		if !ok {
			writeOktaError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+r.URL.Path+" (User)")
			return
		}
		writeJSON(w, u)
	default:
		writeOktaError(w, http.StatusNotFound, "E0000022", "The endpoint does not support the provided HTTP method")
	}
}

func (f *fakeOkta) serveLogs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	idx := 0
	if a := q.Get("after"); a != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(a, "c"))
		if err != nil {
			writeOktaError(w, http.StatusBadRequest, "E0000031", "Invalid after cursor")
			return
		}
		idx = n
	}
	page := []json.RawMessage{}
	next := idx
	if idx < len(f.pages) {
		page, next = f.pages[idx], idx+1
	}
	// Okta's links carry the cursor, not the original since or filter.
	link := url.Values{"limit": {q.Get("limit")}, "sortOrder": {"ASCENDING"}, "after": {"c" + strconv.Itoa(next)}}
	w.Header().Add("Link", "<"+f.srv.URL+r.URL.RequestURI()+`>; rel="self"`)
	w.Header().Add("Link", "<"+f.srv.URL+logsPath+"?"+link.Encode()+`>; rel="next"`)
	writeJSON(w, page)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func writeOktaError(w http.ResponseWriter, status int, code, summary string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Okta-Request-Id", "reqFake123")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errorCode": code, "errorSummary": summary, "errorLink": code, "errorId": "oaeFake", "errorCauses": []any{},
	})
}

// withRateLimitRetries sets the SDK's 429 retries and max backoff (seconds)
// so tests do not sleep.
func withRateLimitRetries(n int32, backoff int64) DirectoryOption {
	return func(c *dirConfig) { c.maxRetries, c.maxBackoff = n, backoff }
}

func newTestDirectory(t *testing.T, f *fakeOkta, opts ...DirectoryOption) *Directory {
	t.Helper()
	opts = append([]DirectoryOption{withRateLimitRetries(0, 0), WithDirectoryHTTPClient(f.srv.Client())}, opts...)
	d, err := NewDirectory(context.Background(), f.srv.URL, testToken, opts...)
	require.NoError(t, err)
	return d
}
