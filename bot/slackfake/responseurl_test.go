package slackfake

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestResponseURLExpiresAfterThirtyMinutes(t *testing.T) {
	clock := NewManualClock(time.Unix(1_800_000_000, 0))
	fake := newFake(t, WithClock(clock))
	app := connectedApp(t, fake, emptyAck)
	_, err := fake.SlashCommand(testCtx(t), alice, approval, "/lock", "x")
	require.NoError(t, err)
	u := app.next(t).Data.(slack.SlashCommand).ResponseURL
	reply := func() error {
		_, _, err := app.api.PostMessageContext(testCtx(t), "", slack.MsgOptionResponseURL(u, slack.ResponseTypeEphemeral), slack.MsgOptionText("hi", false))
		return err
	}

	clock.Advance(30*time.Minute - time.Nanosecond)
	require.NoError(t, reply(), "usable up to 30 minutes")
	clock.Advance(time.Nanosecond)
	err = reply()
	var sc slack.StatusCodeError
	require.ErrorAs(t, err, &sc)
	assert.Equal(t, http.StatusNotFound, sc.Code)
	status, answer := rawJSON(t, u, "", `{"text":"x"}`)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, "expired_url", answer["error"])
	assert.Len(t, fake.Messages(), 1)
}

func TestInChannelResponseIsChannelHistory(t *testing.T) {
	fake := newFake(t, historyScopes())
	app := connectedApp(t, fake, emptyAck)
	_, err := fake.SlashCommand(testCtx(t), alice, approval, "/lock", "x")
	require.NoError(t, err)
	u := app.next(t).Data.(slack.SlashCommand).ResponseURL
	_, _, err = app.api.PostMessageContext(testCtx(t), "", slack.MsgOptionResponseURL(u, slack.ResponseTypeInChannel), slack.MsgOptionText("for all", false))
	require.NoError(t, err)
	_, _, err = app.api.PostMessageContext(testCtx(t), "", slack.MsgOptionResponseURL(u, slack.ResponseTypeEphemeral), slack.MsgOptionText("for alice", false))
	require.NoError(t, err)
	_, _, err = app.api.PostMessageContext(testCtx(t), "", slack.MsgOptionResponseURL(u, slack.ResponseTypeInChannel), slack.MsgOptionText(strings.Repeat("x", 40001), false))
	require.NoError(t, err)

	h, err := app.api.GetConversationHistoryContext(testCtx(t), &slack.GetConversationHistoryParameters{ChannelID: approval})
	require.NoError(t, err)
	require.Len(t, h.Messages, 2, "in_channel replies are messages in the channel; ephemeral ones are not")
	assert.Equal(t, "for all", h.Messages[1].Text)
	assert.Len(t, h.Messages[0].Text, 40000, "and long ones are cut like any message")
	assert.True(t, fake.Messages()[2].Truncated)
}

func TestLongTextIsCutNotRefused(t *testing.T) {
	fake := newFake(t)
	api := newAPI(t, fake, fake.BotToken(), "")
	ctx := testCtx(t)
	long := strings.Repeat("é", 40001)
	_, ts, err := api.PostMessageContext(ctx, approval, slack.MsgOptionText(long, false))
	require.NoError(t, err)
	m, _ := fake.Current(approval, ts)
	assert.True(t, m.Truncated)
	assert.Equal(t, strings.Repeat("é", 40000), m.Text, "what Slack shows")
	assert.Equal(t, long, fake.Calls()[0].Params["text"], "the call records what the app sent")

	_, _, text, err := api.UpdateMessageContext(ctx, approval, ts, slack.MsgOptionText(long+"!", false))
	require.NoError(t, err)
	assert.Len(t, []rune(text), 40000)
	_, err = api.PostEphemeralContext(ctx, approval, alice, slack.MsgOptionText(long, false))
	require.NoError(t, err)
	assert.True(t, fake.Messages()[2].Truncated)

	_, _, err = api.PostMessageContext(ctx, approval, slack.MsgOptionText("short", false))
	require.NoError(t, err)
	assert.False(t, fake.Messages()[3].Truncated)
}
