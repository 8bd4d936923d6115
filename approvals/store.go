package approvals

import (
	"context"
	"errors"
	"time"
)

// Store keeps every record of lockbot's work: requests, lock jobs,
// triggers, posts, the audit journal, the tasks that carry the work out
// and a few named values (such as the System Log cursor). A store is safe
// for concurrent use, by many goroutines and, for a shared store, by many
// processes at once.
//
// approvals/storetest is the suite every implementation passes.
type Store interface {
	// Update runs fn in one read-write transaction: every change fn makes
	// is applied together, or none is. A record read inside fn stays
	// locked until the end, so two Updates that read the same record run
	// one after the other and no change is lost. If fn returns an error,
	// nothing is written and Update returns that error. A store may run fn
	// again when it must retry a transaction that conflicted with another,
	// so fn must have no effect outside tx. A store whose writers queue
	// serves those whose ctx is marked Urgent first.
	Update(ctx context.Context, fn func(tx Tx) error) error
	// View runs fn in a read-only transaction that sees one consistent
	// state. Writes inside it fail.
	View(ctx context.Context, fn func(tx Tx) error) error
	// Work runs tasks with handlers, by kind, until ctx ends; then it stops
	// taking tasks, lets the ones under way finish (each is bounded by its
	// Handler's Timeout) and returns. Tasks of kinds without a handler are
	// left for a process that has one.
	Work(ctx context.Context, handlers map[string]Handler) error
	// Lead runs fn while this process holds the lease called name, which
	// at most one process holds at a time; when the lease is lost fn's
	// context is cancelled, and when it is won again fn runs again. It
	// returns when ctx ends. Work that must happen once at a time (polling
	// the System Log, a channel's paced writer) runs under Lead.
	Lead(ctx context.Context, name string, fn func(ctx context.Context) error) error
	// Changed returns a channel that is closed when a transaction next
	// commits, so that a loop with nothing to do can wait for news instead
	// of asking the store again and again. Some news may never come (a
	// shared store cannot promise every other replica's notice), so such a
	// loop still looks now and then.
	Changed() <-chan struct{}
	// Ping reports whether the store answers and can be written.
	Ping(ctx context.Context) error
	// Close releases the store. It does not wait for Work or Lead: stop
	// them first.
	Close() error
}

// Tx is one transaction of a Store. Its methods must not be used after the
// function given to Update or View returns.
type Tx interface {
	// Request returns the request with id, or ErrNotFound.
	Request(id string) (Request, error)
	// PutRequest stores r, replacing the request with its ID.
	PutRequest(r Request) error
	// Requests returns requests in state, oldest first, at most limit
	// (limit ≤ 0: all).
	Requests(state State, limit int) ([]Request, error)

	// Lock returns the lock job with id, or ErrNotFound.
	Lock(id string) (LockJob, error)
	// PutLock stores j, replacing the job with its ID.
	PutLock(j LockJob) error
	// Locks returns the jobs q selects, oldest first.
	Locks(q LockQuery) ([]LockJob, error)
	// CountLocks is len(Locks(q)) without reading them.
	CountLocks(q LockQuery) (int, error)

	// AdmitTrigger stores t unless a trigger with its ID was admitted
	// before (and is still remembered), and reports whether it was new.
	AdmitTrigger(t Trigger) (bool, error)
	// Trigger returns the trigger with id, or ErrNotFound.
	Trigger(id string) (Trigger, error)
	// PutTrigger stores t, replacing the trigger with its ID.
	PutTrigger(t Trigger) error

	// Post returns the post with key, or ErrNotFound.
	Post(key string) (Post, error)
	// PutPost stores p, replacing the post with its key.
	PutPost(p Post) error
	// Posts returns the posts q selects, by priority, then by how long
	// they have waited (Post.QueuedAt).
	Posts(q PostQuery) ([]Post, error)

	// Once records key until the given time and reports whether it was
	// new: the dedupe of deliveries that may come twice, such as a Slack
	// envelope sent again to another replica.
	Once(key string, until time.Time) (bool, error)

	// Append adds r to the audit journal (see Record.Check for what is
	// refused). Records are never changed or removed.
	Append(r Record) error
	// Records returns the journal records f selects, oldest first, at most
	// limit (limit ≤ 0: all).
	Records(f Filter, limit int) ([]Record, error)

	// Enqueue schedules t, once: a task with the same kind and key that
	// is waiting, running or done is not scheduled again. It commits with
	// the transaction, so work and the records it works on appear
	// together.
	Enqueue(t Task) error

	// Value returns the value stored under key, or ErrNotFound.
	Value(key string) ([]byte, error)
	// SetValue stores v under key.
	SetValue(key string, v []byte) error

	// Serialize makes every other transaction that serializes on key
	// wait until this one ends, for checks that span records, such as
	// "is a lock for this person already open?".
	Serialize(key string) error
}

// LockQuery selects lock jobs. Zero fields select everything.
type LockQuery struct {
	Key       string    // jobs for this person (an EmailKey)
	Since     time.Time // created at or after
	Live      bool      // not in a final state
	RequestID string    // carrying out this request
	LookingUp bool      // live and not looked up yet
	Limit     int       // at most this many; 0: all
}

// PostQuery selects posts. Zero fields select everything.
type PostQuery struct {
	Channel string    // in this channel
	Kind    string    // of this kind
	Due     time.Time // due at this time (see Post.Due)
	Digest  string    // standing in this digest
	Limit   int
}

// Task is a unit of work a Store runs with its kind's Handler: carry out
// this lock, handle this trigger, expire this request. Kind and Key name
// it: Enqueue schedules a given task once.
type Task struct {
	Kind string
	Key  string
	At   time.Time // not before; zero: now
}

// TaskRun is one attempt at a task.
type TaskRun struct {
	Task
	Attempt int // 1 for the first attempt
}

// Handler runs the tasks of one kind.
type Handler struct {
	// Workers is how many tasks of the kind run at once in this process.
	Workers int
	// Timeout bounds one attempt; a process that dies mid-attempt leaves
	// the task to be picked up again once the store sees it stuck.
	Timeout time.Duration
	// Run does the work. nil means done. An error from RetryAfter runs the
	// task again after its delay; any other error runs it again after a
	// backoff that grows to at most five minutes. A task is never given
	// up: whether work is over is the domain's decision, recorded in the
	// records it works on.
	Run func(ctx context.Context, t TaskRun) error
}

// retryAfter is the error of RetryAfter.
type retryAfter struct {
	d     time.Duration
	cause error
}

func (e *retryAfter) Error() string {
	if e.cause == nil {
		return "retry after " + e.d.String()
	}
	return e.cause.Error() + " (retry after " + e.d.String() + ")"
}

func (e *retryAfter) Unwrap() error { return e.cause }

// RetryAfter returns the error that makes a task run again after d (at
// least a millisecond), for a reason (cause, may be nil) that is expected
// and logged as such.
func RetryAfter(d time.Duration, cause error) error {
	return &retryAfter{d: max(d, time.Millisecond), cause: cause}
}

// RetryDelay reports the delay an error from RetryAfter asks for.
func RetryDelay(err error) (time.Duration, bool) {
	var r *retryAfter
	if errors.As(err, &r) {
		return r.d, true
	}
	return 0, false
}

// MaxTaskBackoff caps the wait between attempts of a task that failed.
const MaxTaskBackoff = 5 * time.Minute

// TaskBackoff is the wait after the attempt-th failed attempt: doubling
// from a second, capped at MaxTaskBackoff. Stores use it for errors that
// are not RetryAfter.
func TaskBackoff(attempt int) time.Duration {
	d := time.Second
	for i := 1; i < attempt && d < MaxTaskBackoff; i++ {
		d *= 2
	}
	return min(d, MaxTaskBackoff)
}
