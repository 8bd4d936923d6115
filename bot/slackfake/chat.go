package slackfake

import (
	"encoding/json"
	"fmt"
	"time"
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
	us := max(time.Now().UnixMicro(), tsEpochMicros, s.lastTS+1)
	s.lastTS = us
	return fmt.Sprintf("%d.%06d", us/1_000_000, us%1_000_000)
}

// postableLocked says whether the bot can post in channel: a declared
// channel or a DM it opened.
func (s *Server) postableLocked(channel string) bool {
	_, dm := s.dms[channel]
	return s.channels[channel] || dm
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
	if !s.postableLocked(channel) {
		return fail(errChannelNotFound)
	}
	text, blocks := contentParams(p)
	if prob := checkContent(text, blocks, true); prob != nil {
		return contentFailure(prob)
	}
	m := Message{Kind: KindPost, Channel: channel, TS: s.nextTSLocked(), ThreadTS: p["thread_ts"], Text: text, Blocks: blocks}
	s.recordMessageLocked(m)
	return ok(map[string]any{"channel": channel, "ts": m.TS, "message": botMessageJSON(m, false)})
}

func (s *Server) updateMessageLocked(p map[string]string) apiResult {
	channel, ts := p["channel"], p["ts"]
	old, found := s.current[messageKey(channel, ts)]
	if !found {
		return fail(errMessageNotFound)
	}
	text, blocks := contentParams(p)
	if prob := checkContent(text, blocks, true); prob != nil {
		return contentFailure(prob)
	}
	// chat.update replaces the whole message: blocks left out are removed.
	m := Message{Kind: KindUpdate, Channel: channel, TS: ts, ThreadTS: old.ThreadTS, Text: text, Blocks: blocks}
	s.recordMessageLocked(m)
	return ok(map[string]any{"channel": channel, "ts": ts, "text": text, "message": botMessageJSON(m, false)})
}

func (s *Server) postEphemeralLocked(p map[string]string) apiResult {
	channel, user := p["channel"], p["user"]
	if !s.postableLocked(channel) {
		return fail(errChannelNotFound)
	}
	if _, known := s.users[user]; !known {
		return fail(errUserNotFound)
	}
	text, blocks := contentParams(p)
	if prob := checkContent(text, blocks, true); prob != nil {
		return contentFailure(prob)
	}
	m := Message{Kind: KindEphemeral, Channel: channel, TS: s.nextTSLocked(), ThreadTS: p["thread_ts"], User: user, Text: text, Blocks: blocks}
	s.recordMessageLocked(m)
	return ok(map[string]any{"message_ts": m.TS})
}

// botMessageJSON is a message as Slack shows it back: in API answers, and in
// interaction payloads where every block carries a block_id.
func botMessageJSON(m Message, withBlockIDs bool) map[string]any {
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
	return out
}

func messageKey(channel, ts string) string { return channel + "/" + ts }
