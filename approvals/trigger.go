package approvals

import (
	"context"
	"errors"
	"time"
)

// Trigger sources.
const (
	SourceHook    = "hook"    // an Okta event hook delivery
	SourceCatchup = "catchup" // the Okta System Log catch-up
	SourceSlack   = "slack"   // a person, through the slash command
	SourceAPI     = "api"     // the HTTP API
)

// Trigger is an admitted event: an Okta event, a slash command, an API
// call. It is stored before anyone is told it was received, deduplicated
// by its ID, and handled by the "trigger" task.
type Trigger struct {
	// ID is the dedupe key, unique across sources: "okta:" and the event
	// uuid, "slack:" and the envelope ID, "api:" and the client's
	// Idempotency-Key.
	ID        string    `json:"id"`
	Source    string    `json:"source"`
	Type      string    `json:"type,omitempty"` // Okta event type, or the slash command's verb
	Published time.Time `json:"published,omitzero"`
	Admitted  time.Time `json:"admitted"`
	// Who the trigger is about, as the source named them.
	UserID string `json:"user_id,omitempty"` // Okta user ID
	Login  string `json:"login,omitempty"`   // Okta login
	Email  string `json:"email,omitempty"`
	Name   string `json:"name,omitempty"`
	// Who caused it: an Okta actor, the Slack user who typed the command,
	// the API client's name.
	Actor     string `json:"actor,omitempty"`
	ActorName string `json:"actor_name,omitempty"`
	ClientIP  string `json:"client_ip,omitempty"`
	Message   string `json:"message,omitempty"` // the event's display message, or the command's text
	// Reply says where a person behind a slash command is answered.
	Reply ReplyTo `json:"reply,omitzero"`
	// LockID is the lock job the trigger joined; RequestID the request it
	// opened; Handled says the trigger task is done with it.
	LockID    string `json:"lock_id,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	Handled   bool   `json:"handled,omitempty"`
}

// PendingTrigger reads the trigger id for its task. ok is false when there
// is nothing left to do: the trigger is gone, or a run before this one
// (cut off after its work was recorded) handled it.
func PendingTrigger(ctx context.Context, s Store, id string) (t Trigger, ok bool, err error) {
	err = s.View(ctx, func(tx Tx) error {
		t, err = tx.Trigger(id)
		return err
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return Trigger{}, false, nil
	case err != nil:
		return Trigger{}, false, err
	}
	return t, !t.Handled, nil
}
