package cards

import "time"

// Person is who a card is about, as far as lockbot knows.
type Person struct {
	Email      string
	Name       string // from Okta; "" when unknown
	OktaStatus string // ACTIVE, SUSPENDED…; "" when Okta is not configured or did not answer
}

// Outcome is what became of one device.
type Outcome int

// Device outcomes.
const (
	Waiting       Outcome = iota // not tried yet
	Retrying                     // the last try failed for a passing reason
	Locked                       // Kandji accepted the lock
	LockPending                  // Kandji has the lock queued or running
	AlreadyLocked                // Kandji confirms an earlier lock completed
	Unconfirmed                  // a lock was sent, Kandji could not confirm it
	Failed                       // not locked: a person must act
	NotLockable                  // a device lockbot cannot lock
	Gone                         // Kandji no longer has the device
	Unassigned                   // no longer the person's, so not locked
	DryRun                       // not locked: dry run
)

// label is the short text for an outcome on a card.
func (o Outcome) label() string {
	switch o {
	case Retrying:
		return "🔁 retrying"
	case Locked:
		return "✅ locked"
	case LockPending:
		return "✅ lock pending"
	case AlreadyLocked:
		return "✅ already locked"
	case Unconfirmed:
		return "⚠️ lock sent, not confirmed"
	case Failed:
		return "❌ not locked"
	case NotLockable:
		return "➖ lockbot cannot lock this device"
	case Gone:
		return "➖ no longer in Kandji"
	case Unassigned:
		return "➖ no longer assigned to this person, not locked"
	case DryRun:
		return "⏭️ not locked (dry run)"
	}
	return "⏳ waiting"
}

// Secured reports whether the device is locked or its lock is on its way.
func (o Outcome) Secured() bool { return o == Locked || o == LockPending || o == AlreadyLocked }

// Device is one device on a card and, once a lock ran, what became of it.
type Device struct {
	Name, Model, Serial, Platform string
	LastCheckIn                   time.Time
	Outcome                       Outcome
	Detail                        string // from Kandji or lockbot; never a PIN
}

// LockState is where a lock stands.
type LockState int

// Lock states.
const (
	LockQueued LockState = iota
	LockWorking
	LockRetrying
	LockDone
	LockFailed
	LockSkipped
	LockNothing
)

// Final reports whether the lock is over.
func (s LockState) Final() bool { return s >= LockDone }

// Trigger is one event behind an automatic lock.
type Trigger struct {
	EventType string
	Actor     string // actor's login (alternateId)
	ActorName string
	At        time.Time
	ClientIP  string
	Recovered bool // from the System Log, not the hook
}

// Lock is a lock job as a card shows it.
type Lock struct {
	ID          string
	State       LockState
	Devices     []Device
	MatchedBy   string // "login" or "inventory" when not the plain email
	Attempts    int
	Retrying    string // the passing failure being retried; never a PIN
	NextAttempt time.Time
	Deadline    time.Time
	Outcome     string // the final summary
	Triggers    []Trigger
	Reason      string
	// Notes are lines the bot adds (where the PINs went); trusted mrkdwn.
	Notes []string
}

// RequestState is where a request stands.
type RequestState int

// Request states.
const (
	Pending RequestState = iota
	Approved
	Denied
	Expired
	Cancelled
)

// Request is a two-person lock request as its card shows it.
type Request struct {
	ID         string
	Person     Person
	Requester  string // a Slack user ID; "" for a request an event opened
	FromEvent  string // the Okta event type that opened it, if one did
	EventActor string
	Reason     string
	State      RequestState
	Required   int
	Approvals  []string // who approved, in order
	DecidedBy  string
	Outcome    string
	Expires    time.Time
	Devices    []Device // as shown when the request was opened
	Lock       *Lock    // once approved
	DryRun     bool
}
