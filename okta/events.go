package okta

import "time"

// Okta System Log event types lockbot understands. The first three lock at
// once by default; the others exist so operators can route them (for example
// to an approval request) without code changes.
const (
	EventSuspend    = "user.lifecycle.suspend"
	EventDeactivate = "user.lifecycle.deactivate"
	EventSuspicious = "user.account.report_suspicious_activity_by_enduser"
	EventRiskDetect = "user.risk.detect"
	EventRiskChange = "user.risk.change"
	EventUnsuspend  = "user.lifecycle.unsuspend"
	EventReactivate = "user.lifecycle.reactivate"
)

// DefaultAutoLockTypes returns the event types that lock a person's devices
// without asking anyone: the ones the replaced Okta Workflows template
// reacted to. It returns a fresh slice so callers may modify it.
func DefaultAutoLockTypes() []string {
	return []string{EventSuspend, EventDeactivate, EventSuspicious}
}

// KnownEventType reports whether t is one of the event types above, so
// configuration validation can catch typos in operator-supplied lists.
func KnownEventType(t string) bool {
	switch t {
	case EventSuspend, EventDeactivate, EventSuspicious,
		EventRiskDetect, EventRiskChange, EventUnsuspend, EventReactivate:
		return true
	}
	return false
}

// Source says how an event reached lockbot, so reports can tell a live hook
// from an event recovered after downtime.
type Source string

// The two ways an event can arrive.
const (
	SourceHook    Source = "hook"
	SourceCatchup Source = "catchup"
)

// Actor is whoever caused the event (usually an admin). It is reported but
// never used as the lock target.
type Actor struct {
	ID          string `json:"id,omitempty"`
	Type        string `json:"type,omitempty"`
	AlternateID string `json:"alternateId,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
}

// Event is one Okta System Log event reduced to what lockbot needs. The JSON
// tags are the format older builds wrote their event inbox files in, which
// lockbot's one-time import of that state still reads, so renaming one
// loses those events on upgrade.
type Event struct {
	// UUID is the System Log event UUID, the dedupe key shared by the hook
	// and the catch-up.
	UUID      string    `json:"uuid"`
	Type      string    `json:"type"`
	Published time.Time `json:"published"`
	// Message is the event's displayMessage.
	Message string `json:"message,omitempty"`
	// UserID and Login identify the affected user: the target entry whose
	// type is "User", never the actor.
	UserID string `json:"userId,omitempty"`
	Login  string `json:"login,omitempty"`
	// Email is the affected user's email once known: the login when it is
	// an email address, or what Directory.Enrich found.
	Email    string `json:"email,omitempty"`
	Name     string `json:"name,omitempty"`
	Actor    Actor  `json:"actor"`
	ClientIP string `json:"clientIp,omitempty"`
	Source   Source `json:"source"`
	// Status is the user's Okta status (ACTIVE, SUSPENDED, DEPROVISIONED,
	// …) as Directory.Enrich last read it; "" until then. An event may
	// wait a while between admission and handling, so decide on this, not
	// on the event type alone.
	Status string `json:"status,omitempty"`
}
