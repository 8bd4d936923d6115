package slackfake

import (
	"bytes"
	"encoding/json"
	"maps"
	"strings"
	"time"
)

// Call is one recorded request to the Web API or to a response_url.
type Call struct {
	// Method is the Web API method ("chat.postMessage") or "response_url".
	Method string
	// Params holds form values, or top-level JSON fields flattened to strings
	// (objects and arrays such as blocks as compact JSON). Any "token" value
	// is replaced by "<token>" so recordings can be printed safely.
	Params map[string]string
	// At is when the fake received the call.
	At time.Time
	// Error is the Slack error the fake answered ("ratelimited" for a 429),
	// or "" when it answered ok.
	Error string
	// Lost says how the reply to a call that took effect was lost on its
	// way back (see LoseReplies); LostNone when the app got the answer.
	Lost LostReply
}

// MessageKind says how a message reached the workspace.
type MessageKind string

// The kinds of recorded messages.
const (
	KindPost        MessageKind = "post"
	KindUpdate      MessageKind = "update"
	KindEphemeral   MessageKind = "ephemeral"
	KindResponseURL MessageKind = "response_url"
)

// Message is one message the app sent, exactly as the fake received it.
type Message struct {
	Kind MessageKind
	// Channel is the C…/D… channel; for response_url messages the channel of
	// the interaction that issued the URL.
	Channel string
	// TS is the message's ts; for an update the updated message's ts, for a
	// response_url reply that replaces the original, the original's ts.
	TS string
	// ThreadTS is the parent's ts when the message was posted in a thread.
	ThreadTS string
	// User is who sees an ephemeral (chat.postEphemeral's user, or the user
	// whose command or click issued the response_url).
	User string
	// Text is the text fallback as Slack stores and shows it: cut to 40,000
	// characters when the app sent more (then Truncated is set).
	Text      string
	Truncated bool
	// Blocks is the Block Kit JSON as sent (nil when none was sent).
	Blocks json.RawMessage
	// Metadata is the message metadata ({"event_type":…,"event_payload":…})
	// the app attached, nil when none.
	Metadata json.RawMessage
	// ResponseType is response_url's response_type: "ephemeral",
	// "in_channel" or "".
	ResponseType string
	// ReplaceOriginal and DeleteOriginal are response_url's flags; with
	// either, the interaction's message changes (see Server.Current).
	ReplaceOriginal bool
	DeleteOriginal  bool
	// At is when the fake received the message.
	At time.Time
}

// Button is one button found in a message's blocks: its action_id, value,
// label text and the block_id of the block that holds it.
type Button struct {
	ActionID, Value, Text, BlockID string
}

// AllText is the text fallback followed by every "text" and "value" string in
// the blocks, one per line, so tests can assert on content and scan the whole
// message for secrets in one place.
func (m Message) AllText() string {
	parts := []string{m.Text}
	if len(m.Blocks) > 0 {
		var v any
		if decodeJSON(m.Blocks, &v) == nil {
			parts = collectText(v, parts)
		}
	}
	return strings.Join(parts, "\n")
}

// Buttons lists every button in the message's blocks, in order. A block sent
// without a block_id gets the one Slack would report for it (see Click).
func (m Message) Buttons() []Button {
	blocks, err := decodeBlocks(m.Blocks)
	if err != nil {
		return nil
	}
	ids := messageBlockIDs(blocks)
	var out []Button
	for i, b := range blocks {
		id := ids[i]
		walkObjects(b, func(o map[string]any) {
			if o["type"] != "button" {
				return
			}
			out = append(out, Button{
				ActionID: stringField(o, "action_id"),
				Value:    stringField(o, "value"),
				Text:     textOf(o["text"]),
				BlockID:  id,
			})
		})
	}
	return out
}

// button finds the button with actionID.
func (m Message) button(actionID string) (Button, bool) {
	for _, b := range m.Buttons() {
		if b.ActionID == actionID {
			return b, true
		}
	}
	return Button{}, false
}

// clone copies the message so callers cannot change the recording through
// the shared Blocks slice.
func (m Message) clone() Message {
	m.Blocks = bytes.Clone(m.Blocks)
	m.Metadata = bytes.Clone(m.Metadata)
	return m
}

func (c Call) clone() Call {
	c.Params = maps.Clone(c.Params)
	return c
}

// collectText appends, depth first, every string stored under "text" or
// "value".
func collectText(v any, parts []string) []string {
	switch t := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(t) {
			switch val := t[k].(type) {
			case string:
				if k == "text" || k == "value" {
					parts = append(parts, val)
				}
			default:
				parts = collectText(val, parts)
			}
		}
	case []any:
		for _, e := range t {
			parts = collectText(e, parts)
		}
	}
	return parts
}
