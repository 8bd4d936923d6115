package slackfake

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPostMessagePacePerChannel(t *testing.T) {
	clock := NewManualClock(time.Unix(1_800_000_000, 0))
	fake := newFake(t, WithClock(clock), WithRateLimits(SlackRateLimits()), WithChannels("COTHER"))
	api := newAPI(t, fake, fake.BotToken(), "")
	ctx := testCtx(t)
	post := func(channel string) error {
		_, _, err := api.PostMessageContext(ctx, channel, slack.MsgOptionText("x", false))
		return err
	}

	for range 3 {
		require.NoError(t, post(approval), "a burst of three is allowed")
	}
	var rl *slack.RateLimitedError
	require.ErrorAs(t, post(approval), &rl)
	assert.Equal(t, time.Second, rl.RetryAfter)
	require.NoError(t, post("COTHER"), "each channel has its own pace")

	clock.Advance(500 * time.Millisecond)
	require.ErrorAs(t, post(approval), &rl, "half a token is not a token")
	assert.Equal(t, time.Second, rl.RetryAfter, "Retry-After rounds up")
	clock.Advance(500 * time.Millisecond)
	require.NoError(t, post(approval), "one a second")
	require.Error(t, post(approval))

	clock.Advance(time.Hour)
	for range 3 {
		require.NoError(t, post(approval), "a quiet channel refills to the burst, no further")
	}
	require.Error(t, post(approval))
	assert.Len(t, fake.Messages(), 3+1+1+3, "refused posts are not posted")
}

func TestRateLimitedInBody(t *testing.T) {
	clock := NewManualClock(time.Unix(1_800_000_000, 0))
	fake := newFake(t, WithClock(clock), WithRateLimits(RateLimits{PostBurst: 1, PostInBody: 1}))
	tok := fake.BotToken()
	form := url.Values{"token": {tok}, "channel": {approval}, "text": {"x"}}
	_, answer := rawCall(t, fake, "chat.postMessage", form)
	require.Equal(t, true, answer["ok"])
	status, answer := rawCall(t, fake, "chat.postMessage", form)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, map[string]any{"ok": false, "error": "rate_limited"}, answer)

	_, _, err := newAPI(t, fake, tok, "").PostMessageContext(testCtx(t), approval, slack.MsgOptionText("x", false))
	require.EqualError(t, err, "rate_limited", "slack-go sees a plain Slack error, not a RateLimitedError")
}

func TestTierLimits(t *testing.T) {
	clock := NewManualClock(time.Unix(1_800_000_000, 0))
	fake := newFake(t, WithClock(clock), WithRateLimits(RateLimits{Tier2: 2, Tier4: -1}))
	api := newAPI(t, fake, fake.BotToken(), "")
	ctx := testCtx(t)
	for range 2 {
		_, err := api.GetUserGroupMembersContext(ctx, admins)
		require.NoError(t, err)
	}
	_, err := api.GetUserGroupMembersContext(ctx, admins)
	var rl *slack.RateLimitedError
	require.ErrorAs(t, err, &rl)
	assert.Equal(t, 30*time.Second, rl.RetryAfter, "two a minute: one every thirty seconds")
	clock.Advance(30 * time.Second)
	_, err = api.GetUserGroupMembersContext(ctx, admins)
	require.NoError(t, err)

	for range 200 {
		_, err := api.GetUserInfoContext(ctx, alice)
		require.NoError(t, err, "a negative rate turns the tier off")
	}
	for range 50 {
		_, _, _, err := api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{alice}})
		require.NoError(t, err, "tier 3 allows a burst of fifty")
	}
	_, _, _, err = api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{alice}})
	require.ErrorAs(t, err, &rl)
}

func TestRateLimitsAreOnByDefault(t *testing.T) {
	clock := NewManualClock(time.Unix(1_800_000_000, 0))
	fake := newFake(t, WithClock(clock))
	api := newAPI(t, fake, fake.BotToken(), "")
	for range 3 {
		_, _, err := api.PostMessageContext(testCtx(t), approval, slack.MsgOptionText("x", false))
		require.NoError(t, err)
	}
	_, _, err := api.PostMessageContext(testCtx(t), approval, slack.MsgOptionText("x", false))
	var rl *slack.RateLimitedError
	require.ErrorAs(t, err, &rl)

	off := newFake(t, WithClock(clock), WithRateLimits(SlackRateLimits()), WithoutRateLimits())
	offAPI := newAPI(t, off, off.BotToken(), "")
	for range 20 {
		_, _, err := offAPI.PostMessageContext(testCtx(t), approval, slack.MsgOptionText("x", false))
		require.NoError(t, err, "WithoutRateLimits turns them off")
	}
}

func TestBucket(t *testing.T) {
	var b bucket
	t0 := time.Unix(100, 0)
	_, ok := b.take(t0, 2, 1)
	require.True(t, ok)
	wait, ok := b.take(t0, 2, 1)
	assert.False(t, ok)
	assert.Equal(t, 500*time.Millisecond, wait)
	_, ok = b.take(t0.Add(-time.Minute), 2, 1)
	assert.False(t, ok, "a clock that goes back refills nothing")
	_, ok = b.take(t0.Add(500*time.Millisecond), 2, 1)
	assert.True(t, ok)
}
