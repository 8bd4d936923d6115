package oktatest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultToken is the SSWS API token a Server accepts unless WithToken says
// otherwise.
const DefaultToken = "00oktatest-token-0123456789abcdefghijkl"

// DefaultRetention is how far back the fake System Log keeps events, as
// Okta's does.
const DefaultRetention = 90 * 24 * time.Hour

// Paths the fake serves.
const (
	usersPath = "/api/v1/users/"
	logsPath  = "/api/v1/logs"
)

// Request is one request the fake handled.
type Request struct {
	// Method is the HTTP method.
	Method string
	// Path is the escaped path as sent, without the query.
	Path string
	// Query is the parsed query string.
	Query url.Values
	// Status is the status answered.
	Status int
	// At is when the request arrived, on the org's clock.
	At time.Time
}

// Server is a fake Okta org. Create it with NewServer and Close it when
// done.
type Server struct {
	srv            *httptest.Server
	now            func() time.Time
	retention      time.Duration
	sinceOnPublish bool

	mu          sync.Mutex
	token       string
	owner       string // ID of the user "me" resolves to
	users       []*user
	unicodeFold bool
	events      []*logEntry // in persistence order
	seq         int64       // persistence sequence of the last event
	epoch       int         // cursor generation; ExpireCursors moves it on
	forbidden   []string
	faults      []fault
	requests    []Request
	revocations []Revocation
	ids         int // numbers generated IDs
}

// Option configures a Server at creation.
type Option func(*Server)

// WithToken sets the SSWS token the fake accepts (default DefaultToken).
func WithToken(tok string) Option {
	return func(s *Server) { s.token = tok }
}

// WithClock sets the org's clock (default time.Now). Persistence times,
// the retention window, the Date header and rate-limit resets use it.
func WithClock(now func() time.Time) Option {
	return func(s *Server) {
		if now != nil {
			s.now = now
		}
	}
}

// WithRetention sets how far back the System Log reaches (default 90 days).
// A since older than that is refused with 400 E0000053, and older events
// are no longer returned.
func WithRetention(d time.Duration) Option {
	return func(s *Server) {
		if d > 0 {
			s.retention = d
		}
	}
}

// WithSinceOnPublished makes since bound the published time in polling
// queries too. Okta documents that since bounds the persistence time there;
// this option checks that a client does not depend on that, because a
// client that re-queries by since then misses every late event.
func WithSinceOnPublished() Option {
	return func(s *Server) { s.sinceOnPublish = true }
}

// WithUsers adds users before the server starts.
func WithUsers(us ...User) Option {
	return func(s *Server) {
		for _, u := range us {
			s.addLocked(u)
		}
	}
}

// NewServer starts a fake org on 127.0.0.1 with one user, the admin who owns
// the API token (see Admin). The caller must Close it.
func NewServer(opts ...Option) *Server {
	s := &Server{now: time.Now, retention: DefaultRetention, token: DefaultToken}
	admin := s.addLocked(User{ID: AdminID, Login: "admin@oktatest.example", Email: "admin@oktatest.example",
		FirstName: "Org", LastName: "Admin"})
	s.owner = admin.id
	for _, o := range opts {
		if o != nil {
			o(s)
		}
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the org URL to give okta.NewDirectory.
func (s *Server) URL() string { return s.srv.URL }

// Token is the SSWS token the fake accepts.
func (s *Server) Token() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token
}

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Close shuts the server down, waiting for requests in flight.
func (s *Server) Close() { s.srv.Close() }

// Requests returns a copy of every request handled so far, in arrival
// order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// RequestsTo returns the requests whose path starts with prefix, in arrival
// order.
func (s *Server) RequestsTo(prefix string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.requests {
		if strings.HasPrefix(r.Path, prefix) {
			out = append(out, r)
		}
	}
	return out
}

// statusWriter remembers the status written, for the request record.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// serve handles every request under one lock, so knobs and data changes
// are seen in a definite order.
func (s *Server) serve(rw http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	w := &statusWriter{ResponseWriter: rw}
	defer func() {
		s.requests = append(s.requests, Request{
			Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(), Status: w.status, At: now,
		})
	}()
	// Okta's clock, so a client computing a 429 wait from Date and
	// X-Rate-Limit-Reset measures on the org's clock, as with Okta.
	w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
	w.Header().Set("X-Rate-Limit-Limit", "600")
	w.Header().Set("X-Rate-Limit-Remaining", "599")
	w.Header().Set("X-Rate-Limit-Reset", strconv.FormatInt(now.Add(time.Minute).Unix(), 10))

	if !s.authorized(r.Header.Get("Authorization")) {
		writeError(w, http.StatusUnauthorized, "E0000011", "Invalid token provided")
		return
	}
	if s.injectFault(w, r, now) {
		return
	}
	for _, p := range s.forbidden {
		if strings.HasPrefix(r.URL.Path, p) {
			writeError(w, http.StatusForbidden, "E0000006", "You do not have permission to perform the requested action")
			return
		}
	}
	switch {
	case r.URL.Path == logsPath:
		if r.Method != http.MethodGet {
			writeError(w, http.StatusMethodNotAllowed, "E0000022", "The endpoint does not support the provided HTTP method")
			return
		}
		s.serveLogs(w, r, now)
	case strings.HasPrefix(r.URL.Path, usersPath):
		s.serveUsers(w, r, now)
	default:
		writeError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+r.URL.Path+" (Resource)")
	}
}

// authorized checks the SSWS scheme and token. A revoked token is "", which
// nothing matches.
func (s *Server) authorized(header string) bool {
	tok, ok := strings.CutPrefix(header, "SSWS ")
	return ok && s.token != "" && tok == s.token
}
