package approvals

import (
	"slices"
	"time"
)

// State is where a request stands in its life. The string values are
// persisted and journaled, so they must never change.
type State string

// The states of a request. Pending, approved and executing are live; the
// others are terminal and never change again.
const (
	StatePending   State = "pending"
	StateApproved  State = "approved"
	StateExecuting State = "executing"
	StateDone      State = "done"
	StateFailed    State = "failed"
	StateDenied    State = "denied"
	StateExpired   State = "expired"
	StateCancelled State = "cancelled"
)

// Terminal reports whether no transition leaves s, which is also what decides
// how long a stored request is kept (see WithRetention).
func (s State) Terminal() bool {
	switch s {
	case StateDone, StateFailed, StateDenied, StateExpired, StateCancelled:
		return true
	}
	return false
}

// valid reports whether s is one of the declared states, so that a persisted
// record from a corrupted file is not taken for a real request.
func (s State) valid() bool {
	switch s {
	case StatePending, StateApproved, StateExecuting:
		return true
	}
	return s.Terminal()
}

// Origin kinds.
const (
	// OriginManual marks a request opened by a person with the slash command.
	OriginManual = "manual"
	// OriginOkta marks a request or lock opened by an Okta event.
	OriginOkta = "okta"
)

// Origin says what opened a request, so that the card, the report and the
// journal can show why a person's devices were (to be) locked.
type Origin struct {
	Kind      string `json:"kind"`                 // OriginManual or OriginOkta
	EventType string `json:"event_type,omitempty"` // Okta event type, when Kind == OriginOkta
	EventID   string `json:"event_id,omitempty"`   // Okta event uuid
	Actor     string `json:"actor,omitempty"`      // who caused the event (Okta actor), informational
}

// Device is a device as it was shown when the request was opened; approvers
// approve what they saw, so it is kept with the request.
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

// Card is where the request's Slack message lives, so it can be edited after
// a decision, an expiry or a result, including after a restart.
type Card struct {
	Channel string `json:"channel,omitempty"`
	TS      string `json:"ts,omitempty"`
}

// Request is one lock request and everything decided about it. Values are
// copies: changing one does not change the stored request.
type Request struct {
	ID        string     `json:"id"`     // unguessable and URL-safe: it is the Slack button value
	Target    string     `json:"target"` // email of the person whose devices are locked
	Requester string     `json:"requester"`
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
	Outcome   string     `json:"outcome,omitempty"` // short human summary of the result; never a PIN
	Card      Card       `json:"card,omitzero"`
}

// SystemActor is the DecidedBy and journal actor of decisions nobody made,
// such as an expiry.
const SystemActor = "system"

// clone returns a copy that shares no memory with r, because stored requests
// are handed to many goroutines and must not change under them.
func (r Request) clone() Request {
	r.Devices = slices.Clone(r.Devices)
	r.Approvals = slices.Clone(r.Approvals)
	return r
}

// approvedBy reports whether user already counts toward the quorum.
func (r Request) approvedBy(user string) bool {
	return slices.ContainsFunc(r.Approvals, func(a Approval) bool { return a.By == user })
}

// overdue reports whether a pending request has reached its deadline at now.
func (r Request) overdue(now time.Time) bool {
	return r.State == StatePending && !now.Before(r.Expires)
}
