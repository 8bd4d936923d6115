package approvals

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Defaults for a NewRequest or an Engine that leaves them zero.
const (
	DefaultTTL          = 30 * time.Minute
	DefaultRequired     = 1
	DefaultLockDeadline = 24 * time.Hour
)

// Task kinds the domain schedules.
const (
	TaskLock    = "lock"    // carry out a lock job (Key: lock ID)
	TaskTrigger = "trigger" // handle an admitted trigger (Key: trigger ID)
	TaskExpire  = "expire"  // expire a request at its deadline (Key: request ID)
	TaskPINs    = "pins"    // send unlock PINs by DM (Key: lock ID + "/" + user + "/" + a click ID)
)

// Authorizer answers "may this user approve right now". The engine asks it
// at every decision and never remembers the answer, so revoking an
// approver takes effect at their next click (any caching is the
// Authorizer's, and must be short).
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
	Person    Person // Email required
	Requester string // a Slack user ID, or a system actor such as "okta"; required
	Reason    string
	Origin    Origin // Kind "" means OriginManual
	Devices   []Device
	Required  int           // distinct approvers needed besides the requester; 0 → DefaultRequired
	TTL       time.Duration // how long the request stays open; 0 → DefaultTTL
	ReplyTo   ReplyTo
	DryRun    bool
	// Priority of the card's first post: PriorityInteractive when a person
	// is waiting for it.
	Priority int
}

// Engine applies the two-person rules to requests kept in a Store. It is
// safe for concurrent use, also by several processes on one store: every
// decision is one Store.Update, so racing clicks produce exactly one
// outcome.
type Engine struct {
	store       Store
	auth        Authorizer
	now         func() time.Time
	log         *slog.Logger
	cardChannel string
	deadline    time.Duration
}

// Option configures an Engine.
type Option func(*Engine)

// WithClock replaces time.Now, so tests can move time. nil keeps time.Now.
func WithClock(now func() time.Time) Option {
	return func(e *Engine) {
		if now != nil {
			e.now = now
		}
	}
}

// WithLogger sets where the engine reports what it cannot return, such as
// a refusal it could not journal. The default discards.
func WithLogger(l *slog.Logger) Option {
	return func(e *Engine) {
		if l != nil {
			e.log = l
		}
	}
}

// WithCardChannel sets the Slack channel where approval cards are posted.
func WithCardChannel(channel string) Option {
	return func(e *Engine) { e.cardChannel = channel }
}

// WithLockDeadline sets how long the lock an approval opens keeps retrying
// passing failures before it reports that a person must act (default
// DefaultLockDeadline). d ≤ 0 keeps the default.
func WithLockDeadline(d time.Duration) Option {
	return func(e *Engine) {
		if d > 0 {
			e.deadline = d
		}
	}
}

// NewEngine returns an Engine over store that asks auth who may approve. A
// nil auth lets nobody approve or deny (requesters can still withdraw).
func NewEngine(store Store, auth Authorizer, opts ...Option) *Engine {
	e := &Engine{store: store, auth: auth, now: time.Now, log: slog.New(slog.DiscardHandler), deadline: DefaultLockDeadline}
	for _, o := range opts {
		o(e)
	}
	return e
}

// Now is the engine's clock.
func (e *Engine) Now() time.Time { return e.now() }

// LockDeadline is how long a lock keeps retrying passing failures.
func (e *Engine) LockDeadline() time.Duration { return e.deadline }

// Open records a new pending request, journals it, schedules its expiry
// and its card, all in one transaction, and returns it.
func (e *Engine) Open(ctx context.Context, nr NewRequest) (Request, error) {
	var r Request
	err := e.store.Update(ctx, func(tx Tx) error {
		var err error
		r, err = e.OpenIn(tx, nr)
		return err
	})
	return r, err
}

// OpenIn is Open inside the caller's transaction, so that opening a
// request can go with other changes (marking the trigger that asked for
// it handled, say).
func (e *Engine) OpenIn(tx Tx, nr NewRequest) (Request, error) {
	var problems []string
	if strings.TrimSpace(nr.Person.Email) == "" {
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
		return Request{}, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(problems, "; "))
	}
	now := e.now()
	r := Request{
		ID:        NewID(),
		Person:    nr.Person,
		Requester: nr.Requester,
		Reason:    nr.Reason,
		Origin:    nr.Origin,
		Devices:   nr.Devices,
		Created:   now,
		Expires:   now.Add(cmp.Or(nr.TTL, DefaultTTL)),
		Required:  cmp.Or(nr.Required, DefaultRequired),
		State:     StatePending,
		ReplyTo:   nr.ReplyTo,
		DryRun:    nr.DryRun,
	}
	if r.Origin.Kind == "" {
		r.Origin.Kind = OriginManual
	}
	r = r.Clone()
	if err := tx.PutRequest(r); err != nil {
		return Request{}, err
	}
	if err := tx.Append(Record{Time: now, Kind: KindOpened, ID: r.ID, Actor: r.Requester, Target: r.Target(), Details: openedDetails(r)}); err != nil {
		return Request{}, err
	}
	if err := tx.Enqueue(Task{Kind: TaskExpire, Key: r.ID, At: r.Expires}); err != nil {
		return Request{}, err
	}
	if err := Touch(tx, PostKey(PostRequest, r.ID), e.cardChannel, nr.Priority, now); err != nil {
		return Request{}, err
	}
	return r, nil
}

// openedDetails is what the journal keeps about a new request.
func openedDetails(r Request) map[string]string {
	return details(
		"reason", r.Reason,
		"origin", r.Origin.Kind,
		"event_type", r.Origin.EventType,
		"event_id", r.Origin.EventID,
		"okta_actor", r.Origin.Actor,
		"required", strconv.Itoa(r.Required),
		"expires", r.Expires.UTC().Format(time.RFC3339),
		"devices", deviceList(r.Devices),
		"dry_run", boolDetail(r.DryRun),
	)
}

// deviceList names devices for a journal record.
func deviceList(ds []Device) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.Name + " (" + d.Serial + ")"
	}
	return strings.Join(parts, ", ")
}

func boolDetail(b bool) string {
	if b {
		return "true"
	}
	return ""
}

// Get returns the request, or ErrNotFound.
func (e *Engine) Get(ctx context.Context, id string) (Request, error) {
	var r Request
	err := e.store.View(ctx, func(tx Tx) error {
		var err error
		r, err = tx.Request(id)
		return err
	})
	return r, err
}

// NewLock builds the lock job for person, ready for OpenLock: a fresh ID,
// its deadline, and where it is shown (report, a post key).
func NewLock(person Person, origin Origin, reason, report string, now time.Time, deadline time.Duration, dryRun bool) LockJob {
	id := NewID()
	if report == "" {
		report = PostKey(PostLock, id)
	}
	return LockJob{
		ID: id, Key: EmailKey(person.Email), Person: person, Origin: origin, Reason: reason,
		State: JobQueued, Created: now, Updated: now, Deadline: now.Add(cmp.Or(deadline, DefaultLockDeadline)),
		DryRun: dryRun, Report: report,
	}
}

// OpenLock stores a new lock job, journals it as kind (KindAutoLock for a
// lock nobody approved; none for an approved request, whose approval is
// its record), schedules its lock task and shows it on channel.
func OpenLock(tx Tx, j LockJob, kind Kind, channel string, priority int) error {
	if j.ID == "" || !j.State.Valid() {
		return fmt.Errorf("%w: a lock job needs an ID and a known state", ErrInvalid)
	}
	if err := tx.PutLock(j.Clone()); err != nil {
		return err
	}
	if kind != "" {
		var evType, evID string
		if len(j.Triggers) > 0 {
			evType, evID = j.Triggers[0].Type, j.Triggers[0].ID
		}
		if err := tx.Append(Record{Time: j.Created, Kind: kind, ID: j.ID, Actor: j.Origin.Actor, Target: j.Target(),
			Details: details("origin", j.Origin.Kind, "event_type", evType, "event_id", evID, "reason", j.Reason,
				"deadline", j.Deadline.UTC().Format(time.RFC3339), "dry_run", boolDetail(j.DryRun))}); err != nil {
			return err
		}
	}
	if err := tx.Enqueue(Task{Kind: TaskLock, Key: j.ID}); err != nil {
		return err
	}
	return Touch(tx, j.Report, channel, priority, j.Created)
}

// isNotFound reports a record that is not there.
func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
