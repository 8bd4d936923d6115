package slackfake

import (
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLostRepliesPostAnyway proves the hazard each mode models: the client
// sees a failure, yet the message is in the channel, so a naive retry
// posts it twice.
func TestLostRepliesPostAnyway(t *testing.T) {
	tests := []struct {
		how   LostReply
		check func(t *testing.T, err error)
	}{
		{Lost500, func(t *testing.T, err error) {
			var sc slack.StatusCodeError
			require.ErrorAs(t, err, &sc)
			assert.Equal(t, http.StatusInternalServerError, sc.Code)
		}},
		{LostInternalError, func(t *testing.T, err error) {
			require.EqualError(t, err, "internal_error")
		}},
		{LostCut, func(t *testing.T, err error) {
			var ue *url.Error
			require.True(t, errors.As(err, &ue), "a cut connection is a transport error: %v", err)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.how.String(), func(t *testing.T) {
			fake := newFake(t)
			api := newAPI(t, fake, fake.BotToken(), "")
			ctx := testCtx(t)
			fake.LoseReplies("chat.postMessage", 1, tt.how)

			_, _, err := api.PostMessageContext(ctx, approval, slack.MsgOptionText("card", false))
			tt.check(t, err)
			_, _, err = api.PostMessageContext(ctx, approval, slack.MsgOptionText("card", false))
			require.NoError(t, err, "the knob is used up")

			msgs := fake.Messages()
			require.Len(t, msgs, 2, "the failed call posted too: a retry duplicated the card")
			assert.Equal(t, msgs[0].Text, msgs[1].Text)
			calls := fake.Calls()
			assert.Equal(t, tt.how, calls[0].Lost)
			assert.Empty(t, calls[0].Error, "Slack's side succeeded")
			assert.Equal(t, LostNone, calls[1].Lost)
		})
	}
}

func TestLoseRepliesSkipsFailures(t *testing.T) {
	fake := newFake(t)
	api := newAPI(t, fake, fake.BotToken(), "")
	ctx := testCtx(t)
	fake.LoseReplies("chat.postMessage", 1, Lost500)
	_, _, err := api.PostMessageContext(ctx, "CNOPE", slack.MsgOptionText("x", false))
	require.EqualError(t, err, "channel_not_found", "a call that fails anyway keeps its own answer")
	_, _, err = api.PostMessageContext(ctx, approval, slack.MsgOptionText("x", false))
	require.Error(t, err, "and leaves the knob for the next success")

	fake.LoseReplies("chat.postMessage", 3, LostCut)
	fake.LoseReplies("chat.postMessage", 0, LostCut)
	_, _, err = api.PostMessageContext(ctx, approval, slack.MsgOptionText("x", false))
	require.NoError(t, err, "times 0 clears")
	fake.LoseReplies("chat.postMessage", 3, LostNone)
	_, _, err = api.PostMessageContext(ctx, approval, slack.MsgOptionText("x", false))
	require.NoError(t, err, "LostNone clears")
	assert.Equal(t, "", LostNone.String())
}

func TestLostResponseURLReply(t *testing.T) {
	fake := newFake(t)
	app := connectedApp(t, fake, emptyAck)
	_, err := fake.SlashCommand(testCtx(t), alice, approval, "/lock", "x")
	require.NoError(t, err)
	u := app.next(t).Data.(slack.SlashCommand).ResponseURL
	fake.LoseReplies("response_url", 1, LostInternalError)
	_, _, err = app.api.PostMessageContext(testCtx(t), "", slack.MsgOptionResponseURL(u, slack.ResponseTypeEphemeral), slack.MsgOptionText("hi", false))
	require.EqualError(t, err, "internal_error")
	require.Len(t, fake.Messages(), 1, "the reply was shown")
}

func TestRateLimitInBodyKnob(t *testing.T) {
	fake := newFake(t)
	fake.RateLimitInBody("chat.postMessage", 1)
	status, answer := rawCall(t, fake, "chat.postMessage", url.Values{"token": {fake.BotToken()}, "channel": {approval}, "text": {"x"}})
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "rate_limited", answer["error"])
	_, answer = rawCall(t, fake, "chat.postMessage", url.Values{"token": {fake.BotToken()}, "channel": {approval}, "text": {"x"}})
	assert.Equal(t, true, answer["ok"])
}

// TestHoldReplyPostsBeforeAnswering: a held call has taken effect (the
// message is in the channel) before the app hears back, and only the next
// call is held.
func TestHoldReplyPostsBeforeAnswering(t *testing.T) {
	fake := newFake(t)
	api := newAPI(t, fake, fake.BotToken(), "")
	ctx := testCtx(t)
	hold := fake.HoldReply("chat.postMessage")
	type reply struct {
		ts  string
		err error
	}
	answered := make(chan reply, 1)
	go func() {
		_, ts, err := api.PostMessageContext(ctx, approval, slack.MsgOptionText("card", false))
		answered <- reply{ts, err}
	}()
	select {
	case <-hold.Arrived():
	case <-ctx.Done():
		t.Fatal("the call never arrived")
	}
	require.Len(t, fake.Messages(), 1, "posted while the reply is held")
	select {
	case <-answered:
		t.Fatal("the reply was not held")
	default:
	}
	hold.Release()
	hold.Release() // harmless
	r := <-answered
	require.NoError(t, r.err)
	assert.Equal(t, fake.Messages()[0].TS, r.ts)

	_, _, err := api.PostMessageContext(ctx, approval, slack.MsgOptionText("second", false))
	require.NoError(t, err, "only one call is held")
}
