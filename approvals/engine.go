package approvals

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Defaults for a NewRequest that leaves them zero.
const (
	DefaultTTL      = 30 * time.Minute
	DefaultRequired = 1
)

// Authorizer answers "may this user approve right now". The engine asks it at
// every decision and never remembers the answer, so revoking an approver
// takes effect at their next click (any caching is the Authorizer's, and
// must be short).
type Authorizer interface {
	IsApprover(ctx context.Context, userID string) (bool, error)
}

// AuthorizerFunc adapts a function to Authorizer.
type AuthorizerFunc func(ctx context.Context, userID string) (bool, error)

// IsApprover calls f.
func (f AuthorizerFunc) IsApprover(ctx context.Context, userID string) (bool, error) {
	return f(ctx, userID)
}

// NewRequest is what the caller knows when opening a request.
type NewRequest struct {
	Target    string // email of the person whose devices are to be locked; required
	Requester string // user ID, or "okta" for automatic locks; required
	Reason    string
	Origin    Origin // Kind "" means OriginManual for Open and OriginOkta for OpenAutomatic
	Devices   []Device
	Required  int           // distinct approvers needed besides the requester; 0 → DefaultRequired
	TTL       time.Duration // how long the request stays open; 0 → DefaultTTL
}

// Engine applies the two-person rules to requests kept in a Store. It is safe
// for concurrent use: every decision is one atomic Store.Update, so racing
// clicks produce exactly one outcome.
type Engine struct {
	store     Store
	auth      Authorizer
	now       func() time.Time
	journal   *Journal
	log       *slog.Logger
	onExpire  func(Request)
	retention time.Duration
	wake      chan struct{} // tells Run a new deadline exists
}

// Option configures an Engine.
type Option func(*Engine)

// WithClock replaces time.Now, so tests can move time. Run waits on real
// timers, so give Run a clock that advances with them (the default, or the
// fake time of testing/synctest). nil keeps time.Now.
func WithClock(now func() time.Time) Option {
	return func(e *Engine) {
		if now != nil {
			e.now = now
		}
	}
}

// WithJournal makes the engine journal every request it opens and every
// approval, refusal, denial, cancellation and expiry. A decision is journaled
// before it is stored, and one that cannot be journaled is not made. The
// default journals nothing.
func WithJournal(j *Journal) Option {
	return func(e *Engine) { e.journal = j }
}

// WithLogger sets where Run reports failures it cannot return. The default
// discards.
func WithLogger(l *slog.Logger) Option {
	return func(e *Engine) {
		if l != nil {
			e.log = l
		}
	}
}

// WithOnExpire registers fn, called once for each request that expires, with
// the expired request, by whichever call expired it: Run (through ExpireDue)
// for deadlines that pass unnoticed, or the Approve or Deny that found the
// deadline passed. It is where the caller updates the card to "expired,
// nothing was locked". fn must not block for long: Run waits for it.
func WithOnExpire(fn func(Request)) Option {
	return func(e *Engine) { e.onExpire = fn }
}

// WithRetention sets how long requests that can no longer change stay
// readable (default DefaultRetention); older ones are ErrNotFound and left
// out of List. d ≤ 0 keeps the default. The store's own retention
// (WithStoreRetention) should be at least as long.
func WithRetention(d time.Duration) Option {
	return func(e *Engine) {
		if d > 0 {
			e.retention = d
		}
	}
}

// NewEngine returns an Engine over store that asks auth who may approve. A nil
// auth lets nobody approve or deny (requesters can still withdraw).
func NewEngine(store Store, auth Authorizer, opts ...Option) *Engine {
	e := &Engine{
		store:     store,
		auth:      auth,
		now:       time.Now,
		log:       slog.New(slog.DiscardHandler),
		retention: DefaultRetention,
		wake:      make(chan struct{}, 1),
	}
	for _, o := range opts {
		o(e)
	}
	return e
}

// Open records a new pending request, journals it and returns it. Its ID is
// 128 random bits in unpadded base32, safe in URLs and button values.
func (e *Engine) Open(ctx context.Context, nr NewRequest) (Request, error) {
	r, err := e.newRequest(nr, OriginManual)
	if err != nil {
		return Request{}, err
	}
	r.Required = cmp.Or(nr.Required, DefaultRequired)
	r.State = StatePending
	if err := e.create(ctx, r, KindOpened); err != nil {
		return Request{}, err
	}
	select {
	case e.wake <- struct{}{}:
	default: // Run has a wake-up queued already; it re-reads every deadline.
	}
	return r.clone(), nil
}

// OpenAutomatic records a lock that needs no approval (an Okta event):
// it is created in executing, decided by nr.Requester, journaled as
// KindAutoLock, and the caller proceeds with Finish. nr.Required is ignored.
func (e *Engine) OpenAutomatic(ctx context.Context, nr NewRequest) (Request, error) {
	r, err := e.newRequest(nr, OriginOkta)
	if err != nil {
		return Request{}, err
	}
	r.State = StateExecuting
	r.DecidedBy, r.DecidedAt = r.Requester, r.Created
	if err := e.create(ctx, r, KindAutoLock); err != nil {
		return Request{}, err
	}
	return r.clone(), nil
}

// newRequest validates nr and fills what both kinds of request share.
func (e *Engine) newRequest(nr NewRequest, defaultOrigin string) (Request, error) {
	var problems []string
	if strings.TrimSpace(nr.Target) == "" {
		problems = append(problems, "target is empty")
	}
	if strings.TrimSpace(nr.Requester) == "" {
		problems = append(problems, "requester is empty")
	}
	if nr.Required < 0 {
		problems = append(problems, "required approvals is negative")
	}
	if nr.TTL < 0 {
		problems = append(problems, "TTL is negative")
	}
	if len(problems) > 0 {
		return Request{}, fmt.Errorf("%w: %s", errInvalid, strings.Join(problems, "; "))
	}
	now := e.now()
	r := Request{
		ID:        rand.Text(),
		Target:    nr.Target,
		Requester: nr.Requester,
		Reason:    nr.Reason,
		Origin:    nr.Origin,
		Devices:   nr.Devices,
		Created:   now,
		Expires:   now.Add(cmp.Or(nr.TTL, DefaultTTL)),
	}
	if r.Origin.Kind == "" {
		r.Origin.Kind = defaultOrigin
	}
	return r.clone(), nil
}

// create journals r's opening, then stores it: a request that was never
// journaled must not exist.
func (e *Engine) create(ctx context.Context, r Request, kind Kind) error {
	rec := Record{Time: r.Created, Kind: kind, ID: r.ID, Actor: r.Requester, Target: r.Target,
		Details: openedDetails(r)}
	if err := e.journal.Append(rec); err != nil {
		return fmt.Errorf("approvals: journal: %w", err)
	}
	if err := e.store.Create(ctx, r); err != nil {
		e.log.ErrorContext(ctx, "approvals: journaled request was not stored", "request_id", r.ID, "err", err)
		return err
	}
	return nil
}

// openedDetails is what the journal keeps about a new request.
func openedDetails(r Request) map[string]string {
	devices := make([]string, len(r.Devices))
	for i, d := range r.Devices {
		devices[i] = d.Name + " (" + d.Serial + ")"
	}
	return details(
		"reason", r.Reason,
		"origin", r.Origin.Kind,
		"event_type", r.Origin.EventType,
		"event_id", r.Origin.EventID,
		"okta_actor", r.Origin.Actor,
		"required", strconv.Itoa(r.Required),
		"expires", r.Expires.UTC().Format(time.RFC3339),
		"devices", strings.Join(devices, ", "),
	)
}

// details builds a Details map from key, value pairs, leaving out empty
// values so records stay short.
func details(kv ...string) map[string]string {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			m[kv[i]] = kv[i+1]
		}
	}
	return m
}

// Get returns the request, or ErrNotFound (also once it is past retention).
func (e *Engine) Get(ctx context.Context, id string) (Request, error) {
	r, err := e.store.Get(ctx, id)
	if err != nil {
		return Request{}, err
	}
	if e.forgotten(r, e.now()) {
		return Request{}, ErrNotFound
	}
	return r, nil
}

// List returns every request within retention, oldest first.
func (e *Engine) List(ctx context.Context) ([]Request, error) {
	all, err := e.store.List(ctx)
	if err != nil {
		return nil, err
	}
	now := e.now()
	out := all[:0]
	for _, r := range all {
		if !e.forgotten(r, now) {
			out = append(out, r)
		}
	}
	return out, nil
}

// forgotten reports whether r is a finished request older than retention.
func (e *Engine) forgotten(r Request, now time.Time) bool {
	return r.State.Terminal() && now.Sub(r.DecidedAt) > e.retention
}
