// Package kandjitest is a fake Kandji tenant on an httptest server, for the tests of every package
// that talks to Kandji and for `lockbot demo`.
//
// It serves the endpoints lockbot uses: the device list (user_email / user_email_exact filters,
// limit/offset paging), a device by ID, lock, the unlock PIN and a device's MDM command list,
// with Kandji's quirks: unassigned devices serialise "user": "", error bodies come in Kandji's
// several shapes, the command list is wrapped in {"device_id", "commands": {"count", "next",
// "previous", "results"}}.
//
// Where Kandji documents a behaviour the fake follows it: a lock answers 200 {"PIN": …} for a
// Mac and queues a DeviceLock command; a device with a lock pending or completed answers 400
// "This device is already locked."; "containing" filters match substrings; more than 300 records
// per page are never served. Where the documentation is silent the fake takes the strictest
// reading a client must survive, and says so on the knob or handler: user_email_exact is exact,
// case-sensitive and untrimmed; user_email ignores ASCII case only; a missing limit or one above
// 300 is refused with 400 rather than defaulted or clamped; a negative offset is refused; the lock
// command is named "DeviceLock" (Apple's name) in both command_type and request_type.
//
// Knobs inject latency, failures, 429s with Retry-After, a request-rate cap, a device busy with
// another command, 409s, slow lock answers and an unreadable command list; every request is
// recorded, and each device's lock answers and commands can be read back, so tests can assert
// what reached the tenant. A Server is safe for concurrent use.
package kandjitest

import (
	"context"
	"math/rand/v2"
	"net/http"
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
	// unassigned, served as "user": "". UserEmail is stored and served exactly as given,
	// surrounding spaces and case included (see also SetUserEmail).
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
	h     http.Handler
	token string
	now   func() time.Time

	mu          sync.Mutex
	devices     map[string]*device   // by ID
	bySerial    []*device            // every device, in serial-number order
	byEmail     map[string][]*device // by user email exactly as stored
	lockPosts   map[string]int       // by device ID, known or not
	lockAnswers map[string]*LockAnswers
	requests    []Request
	inFlight    int           // requests being handled
	idle        chan struct{} // closed when inFlight drops to 0
	seq         int           // numbers generated IDs, serials and command UUIDs
	people      int           // numbers Populate's people

	latency         time.Duration
	lockAnswerDelay time.Duration
	lockCompletion  time.Duration
	commandsFailure int
	rng             *rand.Rand
	failRate        float64
	failStatus      int
	failNext        int
	failLocks       int
	failLockStatus  int
	failLockAfter   time.Duration
	nextStatus      int
	nextAfter       time.Duration
	rateCap         *rate.Limiter
	throttled       int
}

// device is a Device with its lock state and command history.
type device struct {
	Device
	pin         string
	lockMessage string
	lockPhone   string
	commands    []*command // by date requested, oldest first
	unlocks     int        // Unlock calls; locks completed before the last one no longer count
	conflict    bool       // lock POSTs answer 409
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

// WithClock makes the fake read the time from now instead of time.Now: request arrivals, command
// dates and the completion of locks (SetLockCompletion) follow it, so a test can move time on
// without waiting.
func WithClock(now func() time.Time) Option {
	return func(s *Server) {
		if now != nil {
			s.now = now
		}
	}
}

// WithSeed seeds the random choice of SetFailureRate, so a run can be repeated exactly.
func WithSeed(seed uint64) Option {
	return func(s *Server) { s.rng = rand.New(rand.NewPCG(seed, seed)) }
}

// NewServer starts a fake tenant on 127.0.0.1. The caller must Close it.
func NewServer(opts ...Option) *Server {
	s := &Server{
		token:       DefaultToken,
		now:         time.Now,
		devices:     make(map[string]*device),
		byEmail:     make(map[string][]*device),
		lockPosts:   make(map[string]int),
		lockAnswers: make(map[string]*LockAnswers),
		rng:         rand.New(rand.NewPCG(1, 1)),
	}
	for _, opt := range opts {
		if opt != nil {
			opt(s)
		}
	}
	s.h = s.handler()
	s.srv = httptest.NewServer(s.h)
	return s
}

// URL is the base URL to give kandji.New (without the /api/v1 suffix).
func (s *Server) URL() string { return s.srv.URL }

// Handler serves the fake in-process, the way URL serves it over the network. A test inside a
// testing/synctest bubble calls it from an http.RoundTripper, since real sockets would keep the
// bubble's clock from advancing.
func (s *Server) Handler() http.Handler { return s.h }

// Token is the bearer token the fake accepts.
func (s *Server) Token() string { return s.token }

// Close shuts the server down, waiting for requests in flight.
func (s *Server) Close() { s.srv.Close() }

// AddDevices adds devices (or replaces those with the same ID, resetting their lock state and
// command history).
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
			s.unindexEmail(old)
		}
		nd := &device{Device: d}
		s.devices[d.ID] = nd
		s.bySerial = append(s.bySerial, nd)
		s.indexEmail(nd)
	}
	slices.SortFunc(s.bySerial, bySerial)
}

// indexEmail files d under its email exactly as stored, since user_email_exact compares it as
// it is; s.mu is held.
func (s *Server) indexEmail(d *device) {
	if d.UserEmail != "" {
		s.byEmail[d.UserEmail] = append(s.byEmail[d.UserEmail], d)
	}
}

// unindexEmail removes d from the email index; s.mu is held.
func (s *Server) unindexEmail(d *device) {
	key := d.UserEmail
	s.byEmail[key] = slices.DeleteFunc(s.byEmail[key], func(x *device) bool { return x == d })
	if len(s.byEmail[key]) == 0 {
		delete(s.byEmail, key)
	}
}

// bySerial orders devices as ordering=serial_number does, with the ID as a tie-breaker so that
// pages stay stable.
func bySerial(a, b *device) int {
	if c := strings.Compare(a.Serial, b.Serial); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// WaitIdle waits until no request is being handled, or ctx ends: after a client gave up on a
// request, the fake may still be finishing it (a held-back lock answer, say), and its records
// are complete only once it has.
func (s *Server) WaitIdle(ctx context.Context) error {
	s.mu.Lock()
	idle := s.idle
	busy := s.inFlight > 0
	s.mu.Unlock()
	if !busy {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Requests returns a copy of every request handled so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}
