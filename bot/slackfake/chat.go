package slackfake

import (
	"encoding/json"
	"fmt"
)

// Slack error codes for chat methods.
const (
	errChannelNotFound = "channel_not_found"
	errMessageNotFound = "message_not_found"
	errUserNotFound    = "user_not_found"
)

// tsEpochMicros is where ts values start when the clock is behind it, so
// every ts looks like Slack's "1700000000.000100".
const tsEpochMicros = 1_700_000_000_000_000

// nextTSLocked hands out a ts that is unique and increasing: the current
// time in microseconds, or one past the previous ts when the clock has not
// moved on (Slack's ts is the message's identity within a channel).
func (s *Server) nextTSLocked() string {
	us := max(s.clock.Now().UnixMicro(), tsEpochMicros, s.lastTS+1)
	s.lastTS = us
	return fmt.Sprintf("%d.%06d", us/1_000_000, us%1_000_000)
}

// contentParams reads text and blocks the way chat.* methods get them.
func contentParams(p map[string]string) (string, json.RawMessage) {
	var blocks json.RawMessage
	if b, ok := p["blocks"]; ok && b != "" {
		blocks = json.RawMessage(b)
	}
	return p["text"], blocks
}

func contentFailure(prob *blockProblem) apiResult {
	return fail(prob.code, prob.details...)
}

func (s *Server) postMessageLocked(p map[string]string) apiResult {
	channel := p["channel"]
	if bad := s.postCheckLocked(channel, true); bad != nil {
		return *bad
	}
	text, blocks := contentParams(p)
	if prob := checkContent(text, blocks, true); prob != nil {
		return contentFailure(prob)
	}
	meta, bad := metadataParam(p)
	if bad != "" {
		return fail(bad)
	}
	shown, cut := truncateText(text)
	m := Message{
		Kind: KindPost, Channel: channel, TS: s.nextTSLocked(), ThreadTS: p["thread_ts"],
		Text: shown, Truncated: cut, Blocks: blocks, Metadata: meta,
	}
	s.recordMessageLocked(m)
	return ok(map[string]any{"channel": channel, "ts": m.TS, "message": botMessageJSON(m, false, true)})
}

func (s *Server) updateMessageLocked(p map[string]string) apiResult {
	channel, ts := p["channel"], p["ts"]
	if bad := s.postCheckLocked(channel, false); bad != nil {
		return *bad
	}
	old, found := s.current[messageKey(channel, ts)]
	if !found {
		return fail(errMessageNotFound)
	}
	text, blocks := contentParams(p)
	if prob := checkContent(text, blocks, true); prob != nil {
		return contentFailure(prob)
	}
	// Metadata left out is kept; an empty object removes it.
	meta := old.Metadata
	if _, given := p["metadata"]; given {
		var bad string
		if meta, bad = metadataParam(p); bad != "" {
			return fail(bad)
		}
	}
	shown, cut := truncateText(text)
	// chat.update replaces the whole message: blocks left out are removed.
	m := Message{
		Kind: KindUpdate, Channel: channel, TS: ts, ThreadTS: old.ThreadTS,
		Text: shown, Truncated: cut, Blocks: blocks, Metadata: meta,
	}
	s.recordMessageLocked(m)
	return ok(map[string]any{"channel": channel, "ts": ts, "text": shown, "message": botMessageJSON(m, false, true)})
}

func (s *Server) postEphemeralLocked(p map[string]string) apiResult {
	channel, user := p["channel"], p["user"]
	if bad := s.postCheckLocked(channel, false); bad != nil {
		return *bad
	}
	if _, known := s.users[user]; !known {
		return fail(errUserNotFound)
	}
	if !s.memberLocked(s.conversationLocked(channel), user) {
		return fail(errUserNotInChannel)
	}
	text, blocks := contentParams(p)
	if prob := checkContent(text, blocks, true); prob != nil {
		return contentFailure(prob)
	}
	shown, cut := truncateText(text)
	m := Message{
		Kind: KindEphemeral, Channel: channel, TS: s.nextTSLocked(), ThreadTS: p["thread_ts"], User: user,
		Text: shown, Truncated: cut, Blocks: blocks,
	}
	s.recordMessageLocked(m)
	return ok(map[string]any{"message_ts": m.TS})
}

// Slack error codes for message metadata.
const (
	errInvalidMetadataFormat = "invalid_metadata_format"
	errInvalidMetadataSchema = "invalid_metadata_schema"
)

// metadataParam reads chat.postMessage's metadata: a JSON object with a
// non-empty event_type and an object event_payload. An empty object means
// none (how chat.update removes it); a bad value is Slack's error code.
func metadataParam(p map[string]string) (json.RawMessage, string) {
	raw, given := p["metadata"]
	if !given || raw == "" {
		return nil, ""
	}
	var m map[string]any
	if err := decodeJSON([]byte(raw), &m); err != nil || m == nil {
		return nil, errInvalidMetadataFormat
	}
	if len(m) == 0 {
		return nil, ""
	}
	typ, _ := m["event_type"].(string)
	payload, isObject := m["event_payload"].(map[string]any)
	if typ == "" || !isObject || payload == nil {
		return nil, errInvalidMetadataSchema
	}
	out, err := json.Marshal(map[string]any{"event_type": typ, "event_payload": payload})
	if err != nil {
		return nil, errInvalidMetadataFormat
	}
	return out, ""
}

// botMessageJSON is a message as Slack shows it back: in API answers and
// history (withMeta says whether metadata is asked for), and in
// interaction payloads, where every block carries a block_id.
func botMessageJSON(m Message, withBlockIDs, withMeta bool) map[string]any {
	out := map[string]any{
		"type":   "message",
		"user":   BotUserID,
		"bot_id": BotID,
		"app_id": AppID,
		"team":   TeamID,
		"text":   m.Text,
		"ts":     m.TS,
	}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
	}
	if m.Blocks != nil {
		blocks := m.Blocks
		if withBlockIDs {
			blocks = fillBlockIDs(blocks)
		}
		out["blocks"] = blocks
	}
	if withMeta && m.Metadata != nil {
		out["metadata"] = m.Metadata
	}
	return out
}

func messageKey(channel, ts string) string { return channel + "/" + ts }
