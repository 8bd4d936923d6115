package approvals

import (
	"slices"
	"time"
)

// State is where a request stands in its life. The string values are
// stored and journaled, so they must never change.
type State string

// The states of a request. Only pending is live; the others never change
// again. An approved request's lock is its LockJob (Request.LockID).
const (
	StatePending   State = "pending"
	StateApproved  State = "approved"
	StateDenied    State = "denied"
	StateExpired   State = "expired"
	StateCancelled State = "cancelled"
)

// Terminal reports whether no transition leaves s.
func (s State) Terminal() bool { return s != StatePending }

// Valid reports whether s is one of the declared states, so a damaged
// record is never taken for a real request.
func (s State) Valid() bool {
	switch s {
	case StatePending, StateApproved, StateDenied, StateExpired, StateCancelled:
		return true
	}
	return false
}

// Origin kinds.
const (
	// OriginManual marks a request or lock opened by a person in Slack.
	OriginManual = "manual"
	// OriginOkta marks a request or lock opened by an Okta event.
	OriginOkta = "okta"
	// OriginAPI marks a request or lock opened through the HTTP API.
	OriginAPI = "api"
)

// Origin says what opened a request or a lock, so that the card, the
// report and the journal can show why a person's devices were (to be)
// locked.
type Origin struct {
	Kind      string `json:"kind"`                 // OriginManual, OriginOkta or OriginAPI
	EventType string `json:"event_type,omitempty"` // Okta event type, when Kind == OriginOkta
	EventID   string `json:"event_id,omitempty"`   // Okta event uuid
	Actor     string `json:"actor,omitempty"`      // who caused the event (Okta actor), informational
}

// Device is a device as lockbot showed it; approvers approve what they
// saw, so it is kept with the request.
type Device struct {
	ID          string    `json:"id"`
	Name        string    `json:"name,omitempty"`
	Model       string    `json:"model,omitempty"`
	Serial      string    `json:"serial,omitempty"`
	Platform    string    `json:"platform,omitempty"`
	LastCheckIn time.Time `json:"last_check_in,omitzero"`
}

// Approval is one approver's click toward the quorum.
type Approval struct {
	By string    `json:"by"`
	At time.Time `json:"at"`
}

// Person is who a request or lock is about, as far as lockbot knew when it
// looked: kept with the record so every later rendering of its card shows
// the same, on any replica, after any restart.
type Person struct {
	Email      string `json:"email"`
	Login      string `json:"login,omitempty"`        // the Okta login, when known and different
	OktaUserID string `json:"okta_user_id,omitempty"` // for a fresh status check before locking
	Name       string `json:"name,omitempty"`
	OktaStatus string `json:"okta_status,omitempty"` // ACTIVE, SUSPENDED…; "" when unknown
}

// ReplyTo is where the person behind a request can be answered privately:
// the channel they typed the command in, and the interaction's response
// URL (valid for 30 minutes).
type ReplyTo struct {
	User        string `json:"user,omitempty"`
	Channel     string `json:"channel,omitempty"`
	ResponseURL string `json:"response_url,omitempty"`
}

// Request is one two-person lock request and everything decided about it.
// Values are copies: changing one does not change the stored request.
type Request struct {
	ID        string     `json:"id"` // unguessable and URL-safe: it is the Slack button value
	Person    Person     `json:"person"`
	Requester string     `json:"requester"` // a Slack user ID, or a system actor such as "okta"
	Reason    string     `json:"reason,omitempty"`
	Origin    Origin     `json:"origin"`
	Devices   []Device   `json:"devices,omitempty"`
	Created   time.Time  `json:"created"`
	Expires   time.Time  `json:"expires"`
	Required  int        `json:"required"` // distinct approvers needed besides the requester
	Approvals []Approval `json:"approvals,omitempty"`
	State     State      `json:"state"`
	DecidedBy string     `json:"decided_by,omitempty"` // who approved last, denied or cancelled; SystemActor for expiry
	DecidedAt time.Time  `json:"decided_at,omitzero"`
	Outcome   string     `json:"outcome,omitempty"` // short human summary; never a PIN
	LockID    string     `json:"lock_id,omitempty"` // the LockJob an approval opened
	ReplyTo   ReplyTo    `json:"reply_to,omitzero"`
	DryRun    bool       `json:"dry_run,omitempty"`
}

// Target is the email of the person whose devices are to be locked.
func (r Request) Target() string { return r.Person.Email }

// SystemActor is the DecidedBy and journal actor of decisions nobody made,
// such as an expiry.
const SystemActor = "system"

// Clone returns a copy that shares no memory with r.
func (r Request) Clone() Request {
	r.Devices = slices.Clone(r.Devices)
	r.Approvals = slices.Clone(r.Approvals)
	return r
}

// ApprovedBy reports whether user already counts toward the quorum.
func (r Request) ApprovedBy(user string) bool {
	return slices.ContainsFunc(r.Approvals, func(a Approval) bool { return a.By == user })
}

// Overdue reports whether a pending request has reached its deadline at now.
func (r Request) Overdue(now time.Time) bool {
	return r.State == StatePending && !now.Before(r.Expires)
}
