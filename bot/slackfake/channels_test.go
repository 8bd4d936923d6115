package slackfake

import (
	"testing"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// channelWorkspace has a public channel the bot is in, one it is not in,
// a private one it is in, and an archived one.
func channelWorkspace(t *testing.T, opts ...Option) (*Server, *slack.Client) {
	t.Helper()
	base := []Option{
		WithChannel(Channel{ID: "COUT", Members: []string{alice}}),
		WithChannel(Channel{ID: "GPRIV", Name: "secops", Private: true, BotMember: true, Members: []string{alice, bob}}),
		WithChannel(Channel{ID: "COLD", BotMember: true, Archived: true}),
		WithChannel(Channel{ID: "CALL", BotMember: true, Everyone: true}),
	}
	fake := newFake(t, append(base, opts...)...)
	return fake, newAPI(t, fake, fake.BotToken(), "")
}

func TestPostingNeedsMembership(t *testing.T) {
	fake, api := channelWorkspace(t)
	ctx := testCtx(t)
	text := slack.MsgOptionText("hi", false)

	_, _, err := api.PostMessageContext(ctx, "COUT", text)
	require.EqualError(t, err, "not_in_channel")
	_, _, err = api.PostMessageContext(ctx, "CNOPE", text)
	require.EqualError(t, err, "channel_not_found")
	_, _, err = api.PostMessageContext(ctx, "COLD", text)
	require.EqualError(t, err, "is_archived")
	_, _, err = api.PostMessageContext(ctx, "GPRIV", text)
	require.NoError(t, err, "the bot is in the private channel")

	_, ts, err := api.PostMessageContext(ctx, approval, text)
	require.NoError(t, err)
	fake.SetBotMember(approval, false)
	_, _, _, err = api.UpdateMessageContext(ctx, approval, ts, text)
	require.EqualError(t, err, "not_in_channel", "a bot removed from the channel cannot edit its card")
	_, err = api.PostEphemeralContext(ctx, approval, alice, text)
	require.EqualError(t, err, "not_in_channel")
	fake.SetBotMember(approval, true)
	_, _, _, err = api.UpdateMessageContext(ctx, approval, ts, text)
	require.NoError(t, err)

	assert.Len(t, fake.Messages(), 3, "refused posts are not recorded")
}

func TestChatWritePublicPostsWithoutJoining(t *testing.T) {
	_, api := channelWorkspace(t, WithBotScopes(append(ManifestScopes(), "chat:write.public")...))
	ctx := testCtx(t)
	_, _, err := api.PostMessageContext(ctx, "COUT", slack.MsgOptionText("hi", false))
	require.NoError(t, err)
	_, err = api.PostEphemeralContext(ctx, "COUT", alice, slack.MsgOptionText("hi", false))
	require.EqualError(t, err, "not_in_channel", "chat:write.public is for chat.postMessage")

	fake, api := channelWorkspace(t, WithBotScopes(append(ManifestScopes(), "chat:write.public")...),
		WithChannel(Channel{ID: "GOUT", Private: true}))
	_, _, err = api.PostMessageContext(ctx, "GOUT", slack.MsgOptionText("hi", false))
	require.EqualError(t, err, "not_in_channel", "private channels still need an invitation")
	assert.Empty(t, fake.Messages())
}

func TestEphemeralNeedsTheUserInTheChannel(t *testing.T) {
	fake, api := channelWorkspace(t)
	ctx := testCtx(t)
	text := slack.MsgOptionText("psst", false)

	_, err := api.PostEphemeralContext(ctx, approval, alice, text)
	require.NoError(t, err)
	_, err = api.PostEphemeralContext(ctx, "GPRIV", bob, text)
	require.NoError(t, err)
	_, err = api.PostEphemeralContext(ctx, "GPRIV", guest, text)
	require.EqualError(t, err, "user_not_in_channel")
	_, err = api.PostEphemeralContext(ctx, approval, "UNOBODY", text)
	require.EqualError(t, err, "user_not_found")
	_, err = api.PostEphemeralContext(ctx, "CALL", gone, text)
	require.EqualError(t, err, "user_not_in_channel", "deactivated users are in no channel")
	_, err = api.PostEphemeralContext(ctx, "CALL", bob, text)
	require.NoError(t, err, "everyone is in an Everyone channel")

	fake.SetChannelMembers("GPRIV", guest)
	_, err = api.PostEphemeralContext(ctx, "GPRIV", guest, text)
	require.NoError(t, err)
	_, err = api.PostEphemeralContext(ctx, "GPRIV", bob, text)
	require.EqualError(t, err, "user_not_in_channel")

	_, _, _, err = api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{bob}})
	require.NoError(t, err)
	_, err = api.PostEphemeralContext(ctx, fake.DMChannel(bob), bob, text)
	require.NoError(t, err)
	_, err = api.PostEphemeralContext(ctx, fake.DMChannel(bob), alice, text)
	require.EqualError(t, err, "user_not_in_channel")
}

func TestConversationsInfoTellsTheTruth(t *testing.T) {
	fake, api := channelWorkspace(t)
	ctx := testCtx(t)

	out, err := api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: "COUT", IncludeNumMembers: true})
	require.NoError(t, err)
	assert.False(t, out.IsMember)
	assert.True(t, out.IsChannel)
	assert.False(t, out.IsPrivate)
	assert.Equal(t, 1, out.NumMembers)

	priv, err := api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: "GPRIV", IncludeNumMembers: true})
	require.NoError(t, err)
	assert.True(t, priv.IsMember)
	assert.True(t, priv.IsPrivate)
	assert.False(t, priv.IsChannel)
	assert.Equal(t, "secops", priv.Name)
	assert.Equal(t, 3, priv.NumMembers, "alice, bob and the bot")

	old, err := api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: "COLD"})
	require.NoError(t, err)
	assert.True(t, old.IsArchived)

	_, err = api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: "CNOPE"})
	require.EqualError(t, err, "channel_not_found")

	noGroups := newFake(t, WithBotScopes("channels:read"), WithChannel(Channel{ID: "GPRIV", Private: true}))
	_, err = newAPI(t, noGroups, noGroups.BotToken(), "").GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: "GPRIV"})
	require.EqualError(t, err, "missing_scope", "private channels need groups:read")

	c, found := fake.ChannelInfo("GPRIV")
	require.True(t, found)
	c.Members[0] = "changed"
	again, _ := fake.ChannelInfo("GPRIV")
	assert.Equal(t, alice, again.Members[0], "ChannelInfo returns a copy")
	_, found = fake.ChannelInfo("CNOPE")
	assert.False(t, found)
}

func TestChannelOptionsAndRuntimeChanges(t *testing.T) {
	fake := New(
		WithChannelMembers("CNEW", alice),
		WithChannels("CBOT"), WithChannelMembers("CBOT", bob, bob),
	)
	t.Cleanup(fake.Close)
	c, _ := fake.ChannelInfo("CNEW")
	assert.Equal(t, Channel{ID: "CNEW", Members: []string{alice}}, c, "members of an undeclared channel create it public without the bot")
	c, _ = fake.ChannelInfo("CBOT")
	assert.Equal(t, Channel{ID: "CBOT", BotMember: true, Members: []string{bob}}, c)

	fake.AddChannel(Channel{ID: "CADDED", Private: true})
	fake.SetBotMember("CADDED", true)
	c, _ = fake.ChannelInfo("CADDED")
	assert.True(t, c.BotMember)
	assert.True(t, c.Private)
	fake.SetChannelMembers("CLATE", guest)
	c, _ = fake.ChannelInfo("CLATE")
	assert.Equal(t, []string{guest}, c.Members)
}
