package slackfake

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// retryReasonTimeout is the retry_reason of a redelivery after a missed
// ack.
const retryReasonTimeout = "timeout"

// WithEventRetryDelays sets how long the fake waits after each failed
// delivery of an events_api envelope before redelivering it (with
// retry_attempt 1, 2, … and retry_reason "timeout"); one delay per retry.
// The default is Slack's Events API schedule: at once, after a minute, and
// after five minutes. No delays means no retries.
func WithEventRetryDelays(ds ...time.Duration) Option {
	return func(s *Server) { s.eventRetryDelays = slices.Clone(ds) }
}

// eventCallback is the payload of an events_api envelope.
type eventCallback struct {
	Token          string           `json:"token"`
	TeamID         string           `json:"team_id"`
	APIAppID       string           `json:"api_app_id"`
	Event          json.RawMessage  `json:"event"`
	Type           string           `json:"type"`
	EventID        string           `json:"event_id"`
	EventTime      int64            `json:"event_time"`
	Authorizations []map[string]any `json:"authorizations"`
}

// SendEvent delivers an Events API event (the inner "event" object, for
// example {"type":"app_mention",…}) in an events_api envelope and waits for
// the ack. An envelope not acked on its connection within the ack timeout
// is redelivered on the schedule of WithEventRetryDelays, each time with
// the next retry_attempt and retry_reason "timeout"; SendEvent returns the
// first ack, or ErrNoAck once every retry has failed.
func (s *Server) SendEvent(ctx context.Context, event any) (Ack, error) {
	raw, err := json.Marshal(event)
	if err != nil {
		return Ack{}, fmt.Errorf("slackfake: encoding event: %w", err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return Ack{}, ErrClosed
	}
	p := eventCallback{
		Token: verificationToken, TeamID: TeamID, APIAppID: AppID, Event: raw, Type: "event_callback",
		EventID: "Ev" + rand.Text()[:10], EventTime: s.clock.Now().Unix(),
		Authorizations: []map[string]any{{"team_id": TeamID, "user_id": BotUserID, "is_bot": true, "is_enterprise_install": false}},
	}
	e, err := s.storeEnvelopeLocked("events_api", false, p)
	delays := slices.Clone(s.eventRetryDelays)
	s.mu.Unlock()
	if err != nil {
		return Ack{}, err
	}
	a, err := s.deliver(ctx, e)
	for _, d := range delays {
		if !errors.Is(err, ErrNoAck) {
			break
		}
		if werr := s.pause(ctx, d); werr != nil {
			return Ack{EnvelopeID: e.id}, werr
		}
		a, err = s.deliver(ctx, e)
	}
	return a, err
}

// pause waits d, or until ctx is done or the server closes.
func (s *Server) pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return ErrClosed
	}
}
