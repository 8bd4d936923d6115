package okta

import (
	"encoding/json"
	"net/mail"
	"time"

	oktasdk "github.com/okta/okta-sdk-golang/v2/okta"
)

// targetTypeUser marks the target entry that is the affected person. Okta
// says to search targets by type, not position.
const targetTypeUser = "User"

// logEvent is the subset of a System Log LogEvent that becomes an Event. Both
// the hook (decoded from JSON) and the catch-up (adapted from the SDK type)
// go through it, so the two paths cannot disagree on who the target is.
type logEvent struct {
	UUID           string      `json:"uuid"`
	EventType      string      `json:"eventType"`
	Published      lenientTime `json:"published"`
	DisplayMessage string      `json:"displayMessage"`
	Actor          logEntity   `json:"actor"`
	Client         struct {
		IPAddress string `json:"ipAddress"`
	} `json:"client"`
	Target []logEntity `json:"target"`
}

// logEntity is an actor or a target entry.
type logEntity struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	AlternateID string `json:"alternateId"`
	DisplayName string `json:"displayName"`
}

// lenientTime decodes an RFC 3339 timestamp and leaves the zero time for
// anything else: an odd "published" must not cost us a suspend event.
type lenientTime struct{ time.Time }

// UnmarshalJSON never fails; see lenientTime.
func (t *lenientTime) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) != nil {
		return nil
	}
	if p, err := time.Parse(time.RFC3339Nano, s); err == nil {
		t.Time = p
	}
	return nil
}

// toEvent converts le, reporting false when it has no User target with an
// id or alternateId: without one there is nobody to lock. Surrounding ASCII
// spaces are trimmed from both.
func (le *logEvent) toEvent(src Source) (Event, bool) {
	var user *logEntity
	var id, login string
	for i := range le.Target {
		t := &le.Target[i]
		id, login = trimSpaceASCII(t.ID), trimSpaceASCII(t.AlternateID)
		if t.Type == targetTypeUser && (id != "" || login != "") {
			user = t
			break
		}
	}
	if user == nil {
		return Event{}, false
	}
	return Event{
		UUID:      le.UUID,
		Type:      le.EventType,
		Published: le.Published.Time,
		Message:   le.DisplayMessage,
		UserID:    id,
		Login:     login,
		Email:     emailFrom(login),
		Name:      user.DisplayName,
		Actor: Actor{
			ID:          le.Actor.ID,
			Type:        le.Actor.Type,
			AlternateID: le.Actor.AlternateID,
			DisplayName: le.Actor.DisplayName,
		},
		ClientIP: le.Client.IPAddress,
		Source:   src,
	}, true
}

// fromSDK adapts the SDK's LogEvent (what GetLogs returns) so the catch-up
// shares toEvent with the hook.
func fromSDK(e *oktasdk.LogEvent) logEvent {
	le := logEvent{UUID: e.Uuid, EventType: e.EventType, DisplayMessage: e.DisplayMessage}
	if e.Published != nil {
		le.Published.Time = *e.Published
	}
	if e.Actor != nil {
		le.Actor = logEntity{ID: e.Actor.Id, Type: e.Actor.Type, AlternateID: e.Actor.AlternateId, DisplayName: e.Actor.DisplayName}
	}
	if e.Client != nil {
		le.Client.IPAddress = e.Client.IpAddress
	}
	for _, t := range e.Target {
		if t != nil {
			le.Target = append(le.Target, logEntity{ID: t.Id, Type: t.Type, AlternateID: t.AlternateId, DisplayName: t.DisplayName})
		}
	}
	return le
}

// emailFrom returns s when it is a bare email address, else "". Okta logins
// are usually emails, but not always, and a non-email must never be used to
// match devices.
func emailFrom(s string) string {
	if s == "" {
		return ""
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return ""
	}
	return s
}

// truncate bounds attacker-supplied strings quoted in errors and logs.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
