package slackfake

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrNoButton is returned by Click when the message (in its latest state)
// has no button with the requested action_id, for example because an update
// removed the buttons.
var ErrNoButton = errors.New("slackfake: no such button")

// ErrUnknownEnvelope is returned by Resend for an envelope ID the fake never
// sent.
var ErrUnknownEnvelope = errors.New("slackfake: unknown envelope")

// Ack is the app's answer to one envelope.
type Ack struct {
	// EnvelopeID is the envelope the app acknowledged.
	EnvelopeID string
	// Payload is the ack's payload (a slash command's response), nil when the
	// app acked without one.
	Payload json.RawMessage
	// Elapsed is from writing the envelope to reading its ack.
	Elapsed time.Duration
	// Conn is the connection the envelope and its ack went over.
	Conn int
}

// envelope is a Socket Mode request frame.
type envelope struct {
	EnvelopeID             string          `json:"envelope_id"`
	Type                   string          `json:"type"`
	AcceptsResponsePayload bool            `json:"accepts_response_payload"`
	Payload                json.RawMessage `json:"payload"`
	RetryAttempt           int             `json:"retry_attempt"`
	RetryReason            string          `json:"retry_reason"`
}

// slashPayload holds the slash command fields Slack sends (slack-go's
// SlashCommand decodes them).
type slashPayload struct {
	Token               string `json:"token"`
	TeamID              string `json:"team_id"`
	TeamDomain          string `json:"team_domain"`
	ChannelID           string `json:"channel_id"`
	ChannelName         string `json:"channel_name"`
	UserID              string `json:"user_id"`
	UserName            string `json:"user_name"`
	Command             string `json:"command"`
	Text                string `json:"text"`
	ResponseURL         string `json:"response_url"`
	TriggerID           string `json:"trigger_id"`
	APIAppID            string `json:"api_app_id"`
	IsEnterpriseInstall bool   `json:"is_enterprise_install"`
}

// blockActionsPayload is an interactive block_actions payload.
type blockActionsPayload struct {
	Type                string         `json:"type"`
	Token               string         `json:"token"`
	APIAppID            string         `json:"api_app_id"`
	User                map[string]any `json:"user"`
	Team                map[string]any `json:"team"`
	Container           map[string]any `json:"container"`
	Channel             map[string]any `json:"channel"`
	Message             map[string]any `json:"message"`
	State               map[string]any `json:"state"`
	ResponseURL         string         `json:"response_url"`
	TriggerID           string         `json:"trigger_id"`
	Actions             []buttonAction `json:"actions"`
	IsEnterpriseInstall bool           `json:"is_enterprise_install"`
}

// buttonAction is one clicked button. block_id must be present: slack-go
// files an action without it under AttachmentActions.
type buttonAction struct {
	ActionID string         `json:"action_id"`
	BlockID  string         `json:"block_id"`
	Type     string         `json:"type"`
	Text     map[string]any `json:"text"`
	Value    string         `json:"value"`
	ActionTS string         `json:"action_ts"`
}

// responseHook is what one response_url is bound to.
type responseHook struct {
	channel   string
	user      string
	messageTS string // "" for slash commands
	ephemeral bool
	uses      int
	issued    time.Time
}

// SlashCommand sends a slash_commands envelope as if userID typed
// "command text" in channelID, and waits for the app's ack. When no client
// is connected it first waits (within ctx) for one. The envelope goes to
// one open connection, chosen at random; an ack that does not come back on
// that connection within the ack timeout fails the delivery (the user sees
// an error) and the call returns ErrNoAck, with the envelope's ID in the
// Ack.
func (s *Server) SlashCommand(ctx context.Context, userID, channelID, command, text string) (Ack, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return Ack{}, ErrClosed
	}
	p := slashPayload{
		Token:       verificationToken,
		TeamID:      TeamID,
		TeamDomain:  TeamDomain,
		ChannelID:   channelID,
		ChannelName: s.channelNameLocked(channelID),
		UserID:      userID,
		UserName:    s.userNameLocked(userID),
		Command:     command,
		Text:        text,
		ResponseURL: s.newResponseURLLocked(&responseHook{channel: channelID, user: userID}),
		TriggerID:   s.triggerIDLocked(),
		APIAppID:    AppID,
	}
	e, err := s.storeEnvelopeLocked("slash_commands", true, p)
	s.mu.Unlock()
	if err != nil {
		return Ack{}, err
	}
	return s.deliver(ctx, e)
}

// Click sends a block_actions envelope as if userID clicked the button with
// actionID in msg, and waits for the app's ack. The button is looked up in
// the message's latest state (see Current), so a click on a card whose
// buttons an update removed fails with ErrNoButton, like a person who can no
// longer see them. Messages the fake does not track (ephemerals) are used as
// given. Blocks sent without a block_id get the one Slack would invent.
func (s *Server) Click(ctx context.Context, userID string, msg Message, actionID string) (Ack, error) {
	shown := msg
	if cur, found := s.Current(msg.Channel, msg.TS); found {
		shown = cur
	}
	b, found := shown.button(actionID)
	if !found {
		return Ack{}, fmt.Errorf("slackfake: click %q on message %s/%s: %w", actionID, msg.Channel, msg.TS, ErrNoButton)
	}
	return s.click(ctx, userID, shown, b)
}

// ClickValue sends the same envelope as Click for the message at
// channelID/ts, but with an explicit value, and without requiring the button
// to still exist: it forges or replays stale clicks. The block_id comes from
// the newest version of the message that had the button, else "forged".
func (s *Server) ClickValue(ctx context.Context, userID, channelID, ts, actionID, value string) (Ack, error) {
	shown, found := s.Current(channelID, ts)
	if !found {
		shown = Message{Kind: KindPost, Channel: channelID, TS: ts}
	}
	b := Button{ActionID: actionID, Value: value, BlockID: s.historicBlockID(channelID, ts, actionID)}
	return s.click(ctx, userID, shown, b)
}

// historicBlockID finds the block_id a button had in any recorded version of
// a message, newest first.
func (s *Server) historicBlockID(channel, ts, actionID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.messages) - 1; i >= 0; i-- {
		m := s.messages[i]
		if m.Channel != channel || m.TS != ts {
			continue
		}
		if b, found := m.button(actionID); found {
			return b.BlockID
		}
	}
	return "forged"
}

func (s *Server) click(ctx context.Context, userID string, shown Message, b Button) (Ack, error) {
	ephemeral := shown.Kind == KindEphemeral || (shown.Kind == KindResponseURL && shown.ResponseType == "ephemeral")
	container := map[string]any{
		"type": "message", "message_ts": shown.TS, "channel_id": shown.Channel, "is_ephemeral": ephemeral,
	}
	if shown.ThreadTS != "" {
		container["thread_ts"] = shown.ThreadTS
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return Ack{}, ErrClosed
	}
	name := s.userNameLocked(userID)
	p := blockActionsPayload{
		Type:      "block_actions",
		Token:     verificationToken,
		APIAppID:  AppID,
		User:      map[string]any{"id": userID, "username": name, "name": name, "team_id": TeamID},
		Team:      map[string]any{"id": TeamID, "domain": TeamDomain},
		Container: container,
		Channel:   map[string]any{"id": shown.Channel, "name": s.channelNameLocked(shown.Channel)},
		Message:   botMessageJSON(shown, true, false),
		State:     map[string]any{"values": map[string]any{}},
		ResponseURL: s.newResponseURLLocked(&responseHook{
			channel: shown.Channel, user: userID, messageTS: shown.TS, ephemeral: ephemeral,
		}),
		TriggerID: s.triggerIDLocked(),
		Actions: []buttonAction{{
			ActionID: b.ActionID,
			BlockID:  b.BlockID,
			Type:     "button",
			Text:     map[string]any{"type": "plain_text", "text": b.Text, "emoji": true},
			Value:    b.Value,
			ActionTS: s.nextTSLocked(),
		}},
	}
	e, err := s.storeEnvelopeLocked("interactive", false, p)
	s.mu.Unlock()
	if err != nil {
		return Ack{}, err
	}
	return s.deliver(ctx, e)
}

// Resend delivers an earlier envelope again (Slack delivers at least
// once), as Slack's redeliveries look: the same envelope_id and payload,
// with retry_attempt one more than the last delivery's and retry_reason
// "timeout". It waits for the ack like the first delivery.
func (s *Server) Resend(ctx context.Context, envelopeID string) (Ack, error) {
	s.mu.Lock()
	e, found := s.envelopes[envelopeID]
	s.mu.Unlock()
	if !found {
		return Ack{}, fmt.Errorf("slackfake: resend %q: %w", envelopeID, ErrUnknownEnvelope)
	}
	return s.deliver(ctx, e)
}

// storeEnvelopeLocked gives the payload a fresh envelope ID and keeps the
// envelope for Resend.
func (s *Server) storeEnvelopeLocked(typ string, acceptsResponse bool, payload any) (*envelopeRec, error) {
	raw, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("slackfake: encoding %s envelope: %w", typ, err)
	}
	e := &envelopeRec{id: rand.Text(), typ: typ, accepts: acceptsResponse, payload: raw}
	s.envelopes[e.id] = e
	return e, nil
}

func (s *Server) newResponseURLLocked(h *responseHook) string {
	s.nextResp++
	n := strconv.Itoa(s.nextResp)
	h.issued = s.clock.Now()
	s.responses[n] = h
	return s.srv.URL + "/response/" + n
}

func (s *Server) triggerIDLocked() string {
	s.seq++
	return strconv.Itoa(s.seq) + "." + strings.ToLower(rand.Text()[:12])
}

// userNameLocked is the user's handle, or the lower-cased ID for a user the
// workspace does not know (the fake lets tests act as anyone).
func (s *Server) userNameLocked(id string) string {
	if u, found := s.users[id]; found && u.Name != "" {
		return u.Name
	}
	return strings.ToLower(id)
}
