package slackfake

import (
	"net/url"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func historyScopes() Option {
	return WithBotScopes(append(ManifestScopes(), "channels:history")...)
}

func TestConversationsHistory(t *testing.T) {
	clock := NewManualClock(time.Unix(1_800_000_000, 0))
	fake := newFake(t, historyScopes(), WithClock(clock))
	api := newAPI(t, fake, fake.BotToken(), "")
	ctx := testCtx(t)
	post := func(opts ...slack.MsgOption) string {
		t.Helper()
		clock.Advance(time.Second)
		_, ts, err := api.PostMessageContext(ctx, approval, opts...)
		require.NoError(t, err)
		return ts
	}
	first := post(slack.MsgOptionText("one", false))
	second := post(slack.MsgOptionText("two", false), slack.MsgOptionMetadata(slack.SlackMetadata{
		EventType: "lock_request", EventPayload: map[string]any{"id": "req-1"},
	}))
	post(slack.MsgOptionText("reply", false), slack.MsgOptionTS(first))
	_, err := api.PostEphemeralContext(ctx, approval, alice, slack.MsgOptionText("only alice", false))
	require.NoError(t, err)
	third := post(slack.MsgOptionText("three", false))
	_, _, _, err = api.UpdateMessageContext(ctx, approval, first, slack.MsgOptionText("one, edited", false))
	require.NoError(t, err)
	assert.Equal(t, "1800000001.000000", first, "ts comes from the fake's clock")

	h, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: approval})
	require.NoError(t, err)
	require.Len(t, h.Messages, 3, "thread replies and ephemerals are not channel history")
	assert.Equal(t, []string{third, second, first}, []string{h.Messages[0].Timestamp, h.Messages[1].Timestamp, h.Messages[2].Timestamp}, "newest first")
	assert.Equal(t, "one, edited", h.Messages[2].Text, "each message in its latest state")
	assert.Equal(t, BotID, h.Messages[0].BotID)
	assert.False(t, h.HasMore)
	assert.Empty(t, h.Messages[1].Metadata.EventType, "metadata only on request")

	h, err = api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: approval, IncludeAllMetadata: true, Oldest: first})
	require.NoError(t, err)
	require.Len(t, h.Messages, 2, "oldest is exclusive")
	assert.Equal(t, "lock_request", h.Messages[1].Metadata.EventType)
	assert.Equal(t, "req-1", h.Messages[1].Metadata.EventPayload["id"])

	h, err = api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: approval, Oldest: first, Latest: third, Inclusive: true})
	require.NoError(t, err)
	assert.Len(t, h.Messages, 3, "inclusive takes both ends")
	h, err = api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: approval, Oldest: first, Latest: third})
	require.NoError(t, err)
	require.Len(t, h.Messages, 1)
	assert.Equal(t, second, h.Messages[0].Timestamp)

	h, err = api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: approval, Limit: 2})
	require.NoError(t, err)
	require.Len(t, h.Messages, 2)
	assert.True(t, h.HasMore)
	require.NotEmpty(t, h.ResponseMetaData.NextCursor)
	h, err = api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: approval, Limit: 2, Cursor: h.ResponseMetaData.NextCursor})
	require.NoError(t, err)
	require.Len(t, h.Messages, 1)
	assert.Equal(t, first, h.Messages[0].Timestamp)
	assert.False(t, h.HasMore)
}

func TestConversationsHistoryErrors(t *testing.T) {
	fake := newFake(t, historyScopes(), WithChannel(Channel{ID: "COUT"}))
	tok := fake.BotToken()
	for _, tt := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"channel": {"COUT"}}, "not_in_channel"},
		{url.Values{"channel": {"CNOPE"}}, "channel_not_found"},
		{url.Values{"channel": {approval}, "oldest": {"yesterday"}}, "invalid_ts_oldest"},
		{url.Values{"channel": {approval}, "latest": {"1.2.3"}}, "invalid_ts_latest"},
		{url.Values{"channel": {approval}, "cursor": {"bm9wZQ=="}}, "invalid_cursor"},
		{url.Values{"channel": {approval}, "cursor": {"%%%"}}, "invalid_cursor"},
	} {
		tt.form.Set("token", tok)
		_, answer := rawCall(t, fake, "conversations.history", tt.form)
		assert.Equal(t, tt.want, answer["error"], "%v", tt.form)
	}

	_, answer := rawCall(t, fake, "conversations.history", url.Values{"token": {tok}, "channel": {approval}, "limit": {"5000"}})
	assert.Equal(t, true, answer["ok"], "a limit over 999 is capped, not refused")

	plain := newFake(t)
	_, answer = rawCall(t, plain, "conversations.history", url.Values{"token": {plain.BotToken()}, "channel": {approval}})
	assert.Equal(t, "missing_scope", answer["error"], "the manifest has no history scope")
	assert.Equal(t, "channels:history", answer["needed"])
}

func TestParseTS(t *testing.T) {
	for in, want := range map[string]tsValue{"1700000000.000100": 1_700_000_000_000_100, "5": 5_000_000, "5.1": 5_100_000, "0.000001": 1} {
		got, valid := parseTS(in)
		assert.True(t, valid, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", ".5", "x.1", "1.1234567", "-1.0", "1.-5", "1.x"} {
		_, valid := parseTS(bad)
		assert.False(t, valid, bad)
	}
	c, valid := parseCursor(encodeCursor(42))
	assert.True(t, valid)
	assert.Equal(t, tsValue(42), c)
}

func TestMetadataParam(t *testing.T) {
	for _, tt := range []struct{ raw, want, err string }{
		{`{"event_type":"x","event_payload":{"a":1}}`, `{"event_payload":{"a":1},"event_type":"x"}`, ""},
		{`{}`, "", ""},
		{`not json`, "", "invalid_metadata_format"},
		{`[1]`, "", "invalid_metadata_format"},
		{`{"event_type":"x"}`, "", "invalid_metadata_schema"},
		{`{"event_type":"","event_payload":{}}`, "", "invalid_metadata_schema"},
		{`{"event_type":"x","event_payload":"s"}`, "", "invalid_metadata_schema"},
	} {
		got, bad := metadataParam(map[string]string{"metadata": tt.raw})
		assert.Equal(t, tt.err, bad, tt.raw)
		assert.Equal(t, tt.want, string(got), tt.raw)
	}
}

func TestUpdateKeepsOrDropsMetadata(t *testing.T) {
	fake := newFake(t)
	api := newAPI(t, fake, fake.BotToken(), "")
	ctx := testCtx(t)
	_, ts, err := api.PostMessageContext(ctx, approval, slack.MsgOptionText("x", false),
		slack.MsgOptionMetadata(slack.SlackMetadata{EventType: "t", EventPayload: map[string]any{"n": 1}}))
	require.NoError(t, err)
	_, _, _, err = api.UpdateMessageContext(ctx, approval, ts, slack.MsgOptionText("y", false))
	require.NoError(t, err)
	cur, _ := fake.Current(approval, ts)
	assert.JSONEq(t, `{"event_type":"t","event_payload":{"n":1}}`, string(cur.Metadata), "left out, it is kept")

	_, answer := rawCall(t, fake, "chat.update", url.Values{"token": {fake.BotToken()}, "channel": {approval}, "ts": {ts}, "text": {"z"}, "metadata": {"{}"}})
	require.Equal(t, true, answer["ok"], answer)
	cur, _ = fake.Current(approval, ts)
	assert.Nil(t, cur.Metadata, "an empty object removes it")

	_, answer = rawCall(t, fake, "chat.postMessage", url.Values{"token": {fake.BotToken()}, "channel": {approval}, "text": {"z"}, "metadata": {`{"event_type":1}`}})
	assert.Equal(t, "invalid_metadata_schema", answer["error"])
	_, answer = rawCall(t, fake, "chat.update", url.Values{"token": {fake.BotToken()}, "channel": {approval}, "ts": {ts}, "text": {"z"}, "metadata": {`{`}})
	assert.Equal(t, "invalid_metadata_format", answer["error"])
}
