package okta

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"time"

	oktasdk "github.com/okta/okta-sdk-golang/v2/okta"
)

// hookEnvelopeType is the envelope eventType of every event hook delivery.
const hookEnvelopeType = "com.okta.event_hook"

// targetTypeUser marks the target entry that is the affected person. Okta
// says to search targets by type, not position.
const targetTypeUser = "User"

// envelope is the part of a delivery we read. The SDK has no type for it.
// Events stay raw so one odd event cannot make Okta's whole batch a 400.
type envelope struct {
	EventType string `json:"eventType"`
	Data      *struct {
		Events *[]json.RawMessage `json:"events"`
	} `json:"data"`
}

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

// ParseDelivery decodes one event-hook POST body. It returns ErrMalformed
// (wrapped, with the JSON error) for non-JSON and ErrNotEnvelope when
// eventType is not "com.okta.event_hook" or data.events is missing. Events
// with no usable target of type "User" (or that are not JSON objects) are
// dropped, never returned. Email is set from the User target's alternateId
// when that is an email address. No event type filtering happens here.
func ParseDelivery(body []byte) ([]Event, error) {
	evs, _, err := parseDelivery(body)
	return evs, err
}

// fastEnvelope decodes a well-formed delivery in one pass; envelope (one
// pass per event) is the fallback when any field has an unexpected type.
type fastEnvelope struct {
	EventType string `json:"eventType"`
	Data      *struct {
		Events *[]logEvent `json:"events"`
	} `json:"data"`
}

// parseDelivery is ParseDelivery plus the number of events dropped, which
// the handler logs.
func parseDelivery(body []byte) (evs []Event, dropped int, err error) {
	if evs, dropped, ok := parseDeliveryFast(body); ok {
		return evs, dropped, nil
	}
	return parseDeliveryEach(body)
}

// parseDeliveryFast decodes a well-formed delivery in one pass. It reports
// false for anything unusual (bad JSON, a field of an unexpected type, not an
// envelope), which parseDeliveryEach then sorts out.
func parseDeliveryFast(body []byte) (evs []Event, dropped int, ok bool) {
	var env struct {
		EventType string `json:"eventType"`
		Data      *struct {
			Events *[]logEvent `json:"events"`
		} `json:"data"`
	}
	if json.Unmarshal(body, &env) != nil || env.EventType != hookEnvelopeType || env.Data == nil || env.Data.Events == nil {
		return nil, 0, false
	}
	les := *env.Data.Events
	evs = make([]Event, 0, len(les))
	for i := range les {
		if ev, ok := les[i].toEvent(SourceHook); ok {
			evs = append(evs, ev)
		} else {
			dropped++
		}
	}
	return evs, dropped, true
}

// parseDeliveryEach decodes the envelope, then each event on its own, so a
// malformed event costs only itself and errors say what was wrong.
func parseDeliveryEach(body []byte) (evs []Event, dropped int, err error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, 0, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		return nil, 0, fmt.Errorf("%w: %v", ErrNotEnvelope, err)
	}
	if env.EventType != hookEnvelopeType {
		return nil, 0, fmt.Errorf("%w: eventType %q", ErrNotEnvelope, truncate(env.EventType, 64))
	}
	if env.Data == nil || env.Data.Events == nil {
		return nil, 0, fmt.Errorf("%w: data.events missing", ErrNotEnvelope)
	}
	raw := *env.Data.Events
	evs = make([]Event, 0, len(raw))
	for _, r := range raw {
		var le logEvent
		if err := json.Unmarshal(r, &le); err != nil {
			// A type mismatch leaves the other fields decoded, which is
			// enough when the User target survived; anything else
			// (null, a number) has no target at all.
			var typ *json.UnmarshalTypeError
			if !errors.As(err, &typ) {
				dropped++
				continue
			}
		}
		ev, ok := le.toEvent(SourceHook)
		if !ok {
			dropped++
			continue
		}
		evs = append(evs, ev)
	}
	return evs, dropped, nil
}

// toEvent converts le, reporting false when it has no User target with an
// id or alternateId: without one there is nobody to lock.
func (le *logEvent) toEvent(src Source) (Event, bool) {
	var user *logEntity
	for i := range le.Target {
		t := &le.Target[i]
		if t.Type == targetTypeUser && (t.ID != "" || t.AlternateID != "") {
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
		UserID:    user.ID,
		Login:     user.AlternateID,
		Email:     emailFrom(user.AlternateID),
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
