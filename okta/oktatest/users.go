package oktatest

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// AdminID is the ID of the user NewServer creates: the admin who owns the
// API token, whom GET /api/v1/users/me returns until SetTokenOwner.
const AdminID = "00uoktatestadmin0001"

// Okta's user statuses.
const (
	StatusStaged          = "STAGED"
	StatusProvisioned     = "PROVISIONED"
	StatusActive          = "ACTIVE"
	StatusRecovery        = "RECOVERY"
	StatusPasswordExpired = "PASSWORD_EXPIRED"
	StatusLockedOut       = "LOCKED_OUT"
	StatusSuspended       = "SUSPENDED"
	StatusDeprovisioned   = "DEPROVISIONED"
)

// created is every fake user's creation time; it makes no difference to
// anything lockbot reads.
var created = time.Date(2023, 1, 10, 9, 0, 0, 0, time.UTC)

// User is a user of the fake org.
type User struct {
	// ID is Okta's user ID (generated when empty).
	ID string
	// Status is one of the Status constants (default ACTIVE).
	Status string
	// Login, Email, FirstName, LastName and DisplayName are the profile;
	// DisplayName "" is left out of the profile, as Okta does.
	Login, Email, FirstName, LastName, DisplayName string
}

// user is a User with the time its status last changed.
type user struct {
	User
	id            string
	statusChanged time.Time
}

// Revocation is one DELETE /api/v1/users/{id}/sessions that succeeded.
type Revocation struct {
	// UserID is the user whose sessions were cleared.
	UserID string
	// OAuthTokens says whether oauthTokens=true asked to revoke the
	// user's OAuth and OIDC tokens too.
	OAuthTokens bool
	// At is when it happened, on the org's clock.
	At time.Time
}

// AddUser adds u (or replaces the user with the same ID) and returns it with
// its defaults filled in.
func (s *Server) AddUser(u User) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addLocked(u).User
}

func (s *Server) addLocked(u User) *user {
	if u.ID == "" {
		s.ids++
		u.ID = fmt.Sprintf("00uoktatest%09d", s.ids)
	}
	if u.Status == "" {
		u.Status = StatusActive
	}
	nu := &user{User: u, id: u.ID, statusChanged: created}
	if i := slices.IndexFunc(s.users, func(x *user) bool { return x.id == u.ID }); i >= 0 {
		s.users[i] = nu
	} else {
		s.users = append(s.users, nu)
	}
	return nu
}

// User returns the user with ID id.
func (s *Server) User(id string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.byID(id); u != nil {
		return u.User, true
	}
	return User{}, false
}

// SetStatus changes the status of the user with ID id, as an admin (or an
// import) would between two reads.
func (s *Server) SetStatus(id, status string) error {
	switch status {
	case StatusStaged, StatusProvisioned, StatusActive, StatusRecovery, StatusPasswordExpired,
		StatusLockedOut, StatusSuspended, StatusDeprovisioned:
	default:
		return fmt.Errorf("oktatest: unknown user status %q", status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.byID(id)
	if u == nil {
		return fmt.Errorf("oktatest: no user %q", id)
	}
	u.Status, u.statusChanged = status, s.now()
	return nil
}

// SetTokenOwner makes GET /api/v1/users/me return the user with ID id.
func (s *Server) SetTokenOwner(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byID(id) == nil {
		return fmt.Errorf("oktatest: no user %q", id)
	}
	s.owner = id
	return nil
}

// SetUnicodeLoginFolding makes login lookups fold case with Unicode rules,
// so "\u212Aate@corp.com" (KELVIN SIGN) finds kate@corp.com. Okta does not
// document how it folds logins; this models a service that folds too much,
// to check that a client does not take what it gets for what it asked.
// Off (the default) folds ASCII letters only.
func (s *Server) SetUnicodeLoginFolding(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unicodeFold = on
}

// Revocations returns the session revocations so far, in order.
func (s *Server) Revocations() []Revocation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.revocations)
}

func (s *Server) byID(id string) *user {
	for _, u := range s.users {
		if u.id == id {
			return u
		}
	}
	return nil
}

// lookup resolves the path segment of GET /api/v1/users/{key}: "me", an ID,
// a login, or an unambiguous login shortname (the part before the @).
func (s *Server) lookup(key string) *user {
	if key == "me" {
		return s.byID(s.owner)
	}
	if u := s.byID(key); u != nil {
		return u
	}
	// Okta cannot fetch logins containing "/" at all.
	if strings.Contains(key, "/") {
		return nil
	}
	fold := equalFoldASCII
	if s.unicodeFold {
		fold = strings.EqualFold
	}
	for _, u := range s.users {
		if fold(u.Login, key) {
			return u
		}
	}
	var match *user
	for _, u := range s.users {
		short, _, _ := strings.Cut(u.Login, "@")
		if !strings.Contains(key, "@") && fold(short, key) {
			if match != nil {
				return nil // ambiguous
			}
			match = u
		}
	}
	return match
}

// equalFoldASCII compares case-insensitively for ASCII letters only;
// strings.EqualFold also folds U+212A KELVIN SIGN to k and U+017F LONG S
// to s.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// serveUsers routes /api/v1/users/{key} and /api/v1/users/{id}/sessions.
func (s *Server) serveUsers(w http.ResponseWriter, r *http.Request, now time.Time) {
	rest := strings.TrimPrefix(r.URL.EscapedPath(), usersPath)
	segs := strings.Split(rest, "/")
	for i, seg := range segs {
		v, err := url.PathUnescape(seg)
		if err != nil {
			writeError(w, http.StatusNotFound, codeNotFound, "Not found: Resource not found: "+rest+" (User)")
			return
		}
		segs[i] = v
	}
	switch {
	case len(segs) == 1 && segs[0] != "":
		if r.Method != http.MethodGet {
			writeError(w, http.StatusMethodNotAllowed, "E0000022", "The endpoint does not support the provided HTTP method")
			return
		}
		u := s.lookup(segs[0])
		if u == nil {
			writeError(w, http.StatusNotFound, codeNotFound, "Not found: Resource not found: "+segs[0]+" (User)")
			return
		}
		writeJSON(w, s.userJSON(u))
	case len(segs) == 2 && segs[1] == "sessions":
		if r.Method != http.MethodDelete {
			writeError(w, http.StatusMethodNotAllowed, "E0000022", "The endpoint does not support the provided HTTP method")
			return
		}
		s.revokeSessions(w, r, segs[0], now)
	default:
		writeError(w, http.StatusNotFound, codeNotFound, "Not found: Resource not found: "+rest+" (User)")
	}
}

// revokeSessions clears a user's sessions. It takes an ID only, never a
// login: the call ends sessions, so the fake is as strict as the API's
// "userId" parameter reads.
func (s *Server) revokeSessions(w http.ResponseWriter, r *http.Request, id string, now time.Time) {
	q := r.URL.Query()
	oauth, err := boolParam(q, "oauthTokens")
	if err == nil {
		_, err = boolParam(q, "forgetDevices")
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, codeValidation, "Api validation failed: "+err.Error())
		return
	}
	if s.byID(id) == nil {
		writeError(w, http.StatusNotFound, codeNotFound, "Not found: Resource not found: "+id+" (User)")
		return
	}
	s.revocations = append(s.revocations, Revocation{UserID: id, OAuthTokens: oauth, At: now})
	w.WriteHeader(http.StatusNoContent)
}

// boolParam reads an optional true/false query parameter.
func boolParam(q url.Values, name string) (bool, error) {
	switch q.Get(name) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, errors.New(name + " must be true or false")
}

// userJSON renders u as Okta's GET /api/v1/users/{id} does.
func (s *Server) userJSON(u *user) map[string]any {
	profile := map[string]any{
		"firstName": u.FirstName, "lastName": u.LastName, "login": u.Login, "email": u.Email,
		"mobilePhone": nil, "secondEmail": nil,
	}
	if u.DisplayName != "" {
		profile["displayName"] = u.DisplayName
	}
	stamp := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
	return map[string]any{
		"id": u.id, "status": u.Status,
		"created": stamp(created), "activated": stamp(created), "statusChanged": stamp(u.statusChanged),
		"lastLogin": nil, "lastUpdated": stamp(u.statusChanged), "passwordChanged": nil,
		"type":        map[string]any{"id": "otyoktatest000000001"},
		"profile":     profile,
		"credentials": map[string]any{"provider": map[string]any{"type": "OKTA", "name": "OKTA"}},
		"_links":      map[string]any{"self": map[string]any{"href": s.srv.URL + usersPath + u.id}},
	}
}
