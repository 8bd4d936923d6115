package oktatest

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Reply is a canned answer for ReplyNext: for responses Okta's API would
// never give on its own, such as a body that is not JSON.
type Reply struct {
	Status int
	Header http.Header
	Body   string
}

// fault is one queued answer for the next request under prefix. A prefix
// is matched against the path and against the path and query as sent, so
// "/api/v1/logs?after=" picks the requests that follow a cursor (Go's
// url.Values.Encode puts after first).
type fault struct {
	prefix string
	answer func(w http.ResponseWriter, now time.Time)
}

// FailNext answers the next n requests whose path starts with prefix (""
// for any) with status, e.g. 500 or 503, and Okta's error body.
func (s *Server) FailNext(prefix string, n, status int) {
	s.queue(prefix, n, func(w http.ResponseWriter, _ time.Time) {
		writeError(w, status, "E0000009", "Internal Server Error")
	})
}

// RateLimitNext answers the next n requests whose path starts with prefix
// (""  for any) with 429 E0000047, X-Rate-Limit-Remaining 0 and a reset
// after reset, in the X-Rate-Limit-Reset and Date headers Okta's SDKs read.
func (s *Server) RateLimitNext(prefix string, n int, reset time.Duration) {
	s.queue(prefix, n, func(w http.ResponseWriter, now time.Time) {
		w.Header().Set("X-Rate-Limit-Remaining", "0")
		w.Header().Set("X-Rate-Limit-Reset", strconv.FormatInt(now.Add(reset).Unix(), 10))
		writeError(w, http.StatusTooManyRequests, "E0000047", "API call exceeded rate limit due to too many requests.")
	})
}

// ReplyNext answers the next request whose path starts with prefix ("" for
// any) with r. Its headers replace the fake's own (Date, X-Rate-Limit-*),
// so a reply carries only what it says; Content-Type defaults to
// application/json.
func (s *Server) ReplyNext(prefix string, r Reply) {
	s.queue(prefix, 1, func(w http.ResponseWriter, _ time.Time) {
		h := w.Header()
		for k := range h {
			delete(h, k)
		}
		h["Date"] = nil // no automatic Date either
		for k, vs := range r.Header {
			h[http.CanonicalHeaderKey(k)] = vs
		}
		if h.Get("Content-Type") == "" {
			h.Set("Content-Type", "application/json")
		}
		w.WriteHeader(r.Status)
		_, _ = fmt.Fprint(w, r.Body)
	})
}

func (s *Server) queue(prefix string, n int, answer func(http.ResponseWriter, time.Time)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, fault{prefix: prefix, answer: answer})
	}
}

// injectFault answers r with the first queued fault for its path, if any.
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request, now time.Time) bool {
	for i, f := range s.faults {
		if strings.HasPrefix(r.URL.Path, f.prefix) || strings.HasPrefix(r.URL.RequestURI(), f.prefix) {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
			f.answer(w, now)
			return true
		}
	}
	return false
}

// SetForbidden makes requests whose path starts with one of prefixes
// answer 403 E0000006, as for a token whose admin lacks the permission. No
// prefixes lifts it.
func (s *Server) SetForbidden(prefixes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forbidden = append([]string(nil), prefixes...)
}

// RevokeToken makes every later request answer 401 E0000011, as when the
// token expires or an admin revokes it. SetToken installs a new one.
func (s *Server) RevokeToken() { s.SetToken("") }

// SetToken changes the SSWS token the fake accepts.
func (s *Server) SetToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = tok
}
