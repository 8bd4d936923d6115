// Package kandjitest is a fake Kandji tenant on an httptest server, for the tests of every package
// that talks to Kandji and for `lockbot demo`.
//
// It serves the endpoints lockbot uses (device list with the user_email / user_email_exact filters
// and limit/offset paging, device by ID, lock, unlock PIN) with Kandji's quirks: unassigned
// devices serialise "user": "", a second lock answers 400 "This device is already locked.", error
// bodies come in Kandji's several shapes. Knobs inject latency, failures, 429s with Retry-After and
// a request-rate cap, and every request is recorded so tests can assert what reached the tenant
// (for example exactly one lock POST per device). A Server is safe for concurrent use.
package kandjitest

import (
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultToken is the bearer token a Server accepts unless WithToken says otherwise.
const DefaultToken = "kandjitest-token"

// Device is a device record as the fake tenant holds it. Empty fields get deterministic defaults
// when added (ID, Serial, Name, Model, OSVersion, Platform "Mac", a user ID derived from the
// email).
type Device struct {
	// ID is Kandji's device_id.
	ID string
	// Name, Model, Serial, Platform ("Mac", "iPhone", "iPad", "AppleTV", …) and OSVersion are
	// served as they are.
	Name, Model, Serial, Platform, OSVersion string
	// UserEmail, UserName and UserID describe the assigned user; UserEmail "" makes the device
	// unassigned, served as "user": "".
	UserEmail, UserName, UserID string
	// LastCheckIn is served raw, as Kandji would send it (RFC 3339, the space-separated style, or
	// "" for never).
	LastCheckIn string
}

// Request is one request the fake handled.
type Request struct {
	// Method and Path are the request's method and path (path without the query).
	Method, Path string
	// RawQuery is the encoded query string.
	RawQuery string
	// Status is the status answered, 0 when the client went away before an answer.
	Status int
	// At is when the request arrived.
	At time.Time
}

// Server is a fake Kandji tenant. Create it with NewServer and Close it when done.
type Server struct {
	srv   *httptest.Server
	token string

	mu        sync.Mutex
	devices   map[string]*device   // by ID
	bySerial  []*device            // every device, in serial-number order
	byEmail   map[string][]*device // by lower-cased user email
	lockPosts map[string]int       // by device ID, known or not
	requests  []Request
	seq       int // numbers generated IDs and serials
	people    int // numbers Populate's people

	latency    time.Duration
	rng        *rand.Rand
	failRate   float64
	failStatus int
	failNext   int
	nextStatus int
	nextAfter  time.Duration
	rateCap    *rate.Limiter
	throttled  int
}

// device is a Device with its lock state.
type device struct {
	Device
	locked      bool
	pin         string
	pending     bool // the next lock POST answers "Command already running"
	lockMessage string
	lockPhone   string
}

// Option configures a Server at creation.
type Option func(*Server)

// WithToken sets the bearer token the fake accepts (default DefaultToken).
func WithToken(tok string) Option {
	return func(s *Server) { s.token = tok }
}

// WithDevices adds devices before the server starts.
func WithDevices(ds ...Device) Option {
	return func(s *Server) { s.addLocked(ds) }
}

// WithSeed seeds the random choice of SetFailureRate, so a run can be repeated exactly.
func WithSeed(seed uint64) Option {
	return func(s *Server) { s.rng = rand.New(rand.NewPCG(seed, seed)) }
}

// NewServer starts a fake tenant on 127.0.0.1. The caller must Close it.
func NewServer(opts ...Option) *Server {
	s := &Server{
		token:     DefaultToken,
		devices:   make(map[string]*device),
		byEmail:   make(map[string][]*device),
		lockPosts: make(map[string]int),
		rng:       rand.New(rand.NewPCG(1, 1)),
	}
	for _, opt := range opts {
		if opt != nil {
			opt(s)
		}
	}
	s.srv = httptest.NewServer(s.handler())
	return s
}

// URL is the base URL to give kandji.New (without the /api/v1 suffix).
func (s *Server) URL() string { return s.srv.URL }

// Token is the bearer token the fake accepts.
func (s *Server) Token() string { return s.token }

// Close shuts the server down, waiting for requests in flight.
func (s *Server) Close() { s.srv.Close() }

// AddDevices adds devices (or replaces those with the same ID, resetting their lock state).
func (s *Server) AddDevices(ds ...Device) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addLocked(ds)
}

// addLocked adds ds and keeps the indexes in order; s.mu is held (or s is not shared yet).
func (s *Server) addLocked(ds []Device) {
	for _, d := range ds {
		d = s.withDefaults(d)
		if old, ok := s.devices[d.ID]; ok {
			s.bySerial = slices.DeleteFunc(s.bySerial, func(x *device) bool { return x == old })
			key := strings.ToLower(old.UserEmail)
			s.byEmail[key] = slices.DeleteFunc(s.byEmail[key], func(x *device) bool { return x == old })
		}
		nd := &device{Device: d}
		s.devices[d.ID] = nd
		s.bySerial = append(s.bySerial, nd)
		if d.UserEmail != "" {
			key := strings.ToLower(d.UserEmail)
			s.byEmail[key] = append(s.byEmail[key], nd)
		}
	}
	slices.SortFunc(s.bySerial, bySerial)
}

// bySerial orders devices as ordering=serial_number does, with the ID as a tie-breaker so that
// pages stay stable.
func bySerial(a, b *device) int {
	if c := strings.Compare(a.Serial, b.Serial); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// Requests returns a copy of every request handled so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// LockPosts counts the lock POSTs that reached the fake for device id, including those answered
// with an injected failure, a throttle or a 401.
func (s *Server) LockPosts(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lockPosts[id]
}

// Locked reports whether device id is locked.
func (s *Server) Locked(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[id]
	return ok && d.locked
}

// PIN returns the current unlock PIN of a locked Mac, "" otherwise.
func (s *Server) PIN(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.devices[id]; ok {
		return d.pin
	}
	return ""
}

// LastLockRequest returns the Message and PhoneNumber of the last lock POST for device id.
func (s *Server) LastLockRequest(id string) (message, phone string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.devices[id]; ok {
		return d.lockMessage, d.lockPhone
	}
	return "", ""
}

// SetLockPending simulates a lock command queued by someone else: the device counts as locked
// (a Mac gets a PIN), and the next lock POST for it answers 400 "Command already running". It
// reports whether the device exists.
func (s *Server) SetLockPending(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[id]
	if !ok {
		return false
	}
	if !d.locked && strings.EqualFold(d.Platform, "Mac") {
		pin, err := newPIN()
		if err != nil {
			return false
		}
		d.pin = pin
	}
	d.locked, d.pending = true, true
	return true
}

// SetLatency delays every answer by d (0 turns it off).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = max(d, 0)
}

// SetFailureRate answers fraction p (0 to 1) of requests, picked at random (see WithSeed), with
// status, e.g. 500 or 503. p <= 0 turns it off.
func (s *Server) SetFailureRate(p float64, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failRate, s.failStatus = min(max(p, 0), 1), status
}

// FailNext answers the next n requests with status, with a Retry-After header (whole seconds,
// rounded up) when retryAfter > 0.
func (s *Server) FailNext(n int, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext, s.nextStatus, s.nextAfter = max(n, 0), status, retryAfter
}

// SetRateCap answers requests beyond perSecond (token bucket of size burst) with 429 and
// Retry-After: 1, as a tenant whose budget is spent would. perSecond <= 0 removes the cap.
func (s *Server) SetRateCap(perSecond float64, burst int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if perSecond <= 0 {
		s.rateCap = nil
		return
	}
	s.rateCap = rate.NewLimiter(rate.Limit(perSecond), max(burst, 1))
}

// Throttled counts the 429s sent because of the rate cap.
func (s *Server) Throttled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled
}
