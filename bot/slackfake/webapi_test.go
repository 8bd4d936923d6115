package slackfake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAuthTest(t *testing.T) {
	fake := newFake(t)
	resp, err := newAPI(t, fake, fake.BotToken(), fake.AppToken()).AuthTestContext(testCtx(t))
	require.NoError(t, err)
	assert.Equal(t, BotUserID, resp.UserID)
	assert.Equal(t, TeamID, resp.TeamID)
	assert.Equal(t, BotID, resp.BotID)
	assert.Equal(t, "https://lockbot-fake.slack.com/", resp.URL)

	for token, want := range map[string]string{"xoxb-wrong": "invalid_auth", "": "invalid_auth", fake.AppToken(): "not_allowed_token_type"} {
		_, err := newAPI(t, fake, token, fake.AppToken()).AuthTestContext(testCtx(t))
		var se slack.SlackErrorResponse
		require.ErrorAs(t, err, &se, "token %q", token)
		assert.Equal(t, want, se.Err)
	}
}

func TestCustomTokens(t *testing.T) {
	fake := newFake(t, WithTokens("xoxb-custom", "xapp-custom"))
	assert.Equal(t, "xoxb-custom", fake.BotToken())
	assert.Equal(t, "xapp-custom", fake.AppToken())
	_, err := newAPI(t, fake, "xoxb-custom", "").AuthTestContext(testCtx(t))
	require.NoError(t, err)
	_, err = newAPI(t, fake, defaultBotToken, "").AuthTestContext(testCtx(t))
	require.EqualError(t, err, "invalid_auth")
	connectedApp(t, fake, emptyAck)
}

func TestPostUpdateEphemeralAreRecorded(t *testing.T) {
	fake := newFake(t)
	api := newAPI(t, fake, fake.BotToken(), fake.AppToken())
	ctx := testCtx(t)
	start := time.Now()

	card := postCard(t, fake, api, "blk", "req7")
	assert.Equal(t, KindPost, card.Kind)
	assert.Equal(t, approval, card.Channel)
	assert.Equal(t, "Lock request for alice@corp.example", card.Text)
	assert.False(t, card.At.Before(start))
	assert.Equal(t, []Button{
		{ActionID: "lock_approve", Value: "req7", Text: "Approve", BlockID: "blk"},
		{ActionID: "lock_deny", Value: "req7", Text: "Deny", BlockID: "blk"},
	}, card.Buttons())
	assert.Contains(t, card.AllText(), "*Lock* alice@corp.example")
	assert.Contains(t, card.AllText(), "req7")

	ch, ts, text, err := api.UpdateMessageContext(ctx, approval, card.TS, slack.MsgOptionText("Denied", false))
	require.NoError(t, err)
	assert.Equal(t, approval, ch)
	assert.Equal(t, card.TS, ts)
	assert.Equal(t, "Denied", text)
	cur, ok := fake.Current(approval, card.TS)
	require.True(t, ok)
	assert.Equal(t, KindUpdate, cur.Kind)
	assert.Equal(t, "Denied", cur.Text)
	assert.Nil(t, cur.Blocks, "chat.update without blocks removes them")
	assert.Empty(t, cur.Buttons())

	ephTS, err := api.PostEphemeralContext(ctx, approval, bob, slack.MsgOptionText("You cannot approve your own request", false))
	require.NoError(t, err)
	assert.NotEmpty(t, ephTS)

	msgs := fake.Messages()
	require.Len(t, msgs, 3)
	assert.Equal(t, []MessageKind{KindPost, KindUpdate, KindEphemeral}, []MessageKind{msgs[0].Kind, msgs[1].Kind, msgs[2].Kind})
	assert.Equal(t, bob, msgs[2].User)
	assert.Equal(t, ephTS, msgs[2].TS)
	_, tracked := fake.Current(approval, ephTS)
	assert.False(t, tracked, "ephemerals are not messages in the channel")

	calls := fake.Calls()
	require.Len(t, calls, 3)
	assert.Equal(t, "chat.postMessage", calls[0].Method)
	assert.Equal(t, "<token>", calls[0].Params["token"])
	assert.Equal(t, approval, calls[0].Params["channel"])
	assert.Contains(t, calls[0].Params["blocks"], `"action_id":"lock_approve"`)
	assert.Equal(t, "chat.update", calls[1].Method)
	assert.Equal(t, "chat.postEphemeral", calls[2].Method)
	for _, c := range calls {
		assert.Empty(t, c.Error)
		for k, v := range c.Params {
			assert.NotContains(t, v, fake.BotToken(), "param %s leaks the token", k)
		}
	}

	// Returned values are copies.
	msgs[0].Blocks[0] = 'X'
	calls[0].Params["channel"] = "changed"
	assert.Equal(t, byte('['), fake.Messages()[0].Blocks[0])
	assert.Equal(t, approval, fake.Calls()[0].Params["channel"])
}

func TestConversations(t *testing.T) {
	fake := newFake(t)
	api := newAPI(t, fake, fake.BotToken(), fake.AppToken())
	ctx := testCtx(t)

	_, _, err := api.PostMessageContext(ctx, fake.DMChannel(alice), slack.MsgOptionText("PIN", false))
	require.EqualError(t, err, "channel_not_found", "a DM must be opened first")

	ch, noOp, already, err := api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{alice}})
	require.NoError(t, err)
	assert.Equal(t, "DUALICE", ch.ID)
	assert.Equal(t, fake.DMChannel(alice), ch.ID)
	assert.True(t, ch.IsIM)
	assert.False(t, noOp || already)
	_, _, already, err = api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{alice}})
	require.NoError(t, err)
	assert.True(t, already)
	reopened, _, _, err := api.OpenConversationContext(ctx, &slack.OpenConversationParameters{ChannelID: ch.ID})
	require.NoError(t, err)
	assert.Equal(t, ch.ID, reopened.ID)

	_, ts, err := api.PostMessageContext(ctx, ch.ID, slack.MsgOptionText("PIN 123456", false))
	require.NoError(t, err)
	dm, ok := fake.Current(ch.ID, ts)
	require.True(t, ok)
	assert.Equal(t, "PIN 123456", dm.Text)

	info, err := api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: approval})
	require.NoError(t, err)
	assert.Equal(t, approval, info.ID)
	assert.Equal(t, "capproval", info.Name)
	_, err = api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: ch.ID})
	require.EqualError(t, err, "missing_scope", "a DM's info needs im:read, which the manifest lacks")
	withIM := newFake(t, WithBotScopes(append(ManifestScopes(), "im:read")...))
	imAPI := newAPI(t, withIM, withIM.BotToken(), "")
	dmCh, _, _, err := imAPI.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{alice}})
	require.NoError(t, err)
	info, err = imAPI.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: dmCh.ID})
	require.NoError(t, err)
	assert.True(t, info.IsIM)
	assert.Equal(t, alice, info.User)

	for _, tc := range []struct {
		params slack.OpenConversationParameters
		want   string
	}{
		{slack.OpenConversationParameters{Users: []string{"UNOBODY"}}, "user_not_found"},
		{slack.OpenConversationParameters{Users: []string{BotUserID}}, "cannot_dm_bot"},
		{slack.OpenConversationParameters{Users: []string{gone}}, "user_disabled"},
		{slack.OpenConversationParameters{Users: []string{alice, bob}}, "invalid_arguments"},
		{slack.OpenConversationParameters{}, "invalid_arguments"},
		{slack.OpenConversationParameters{ChannelID: "DNOPE"}, "channel_not_found"},
	} {
		_, _, _, err := api.OpenConversationContext(ctx, &tc.params)
		assert.EqualError(t, err, tc.want, "%+v", tc.params)
	}
	_, err = api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: "CNOPE"})
	assert.EqualError(t, err, "channel_not_found")
}

func TestUsersAndGroups(t *testing.T) {
	// With the email scope lockbot does not ask for, to check the fake
	// shows emails as Slack does.
	fake := newFake(t, WithBotScopes(append(ManifestScopes(), "users:read.email")...))
	api := newAPI(t, fake, fake.BotToken(), fake.AppToken())
	ctx := testCtx(t)

	u, err := api.GetUserInfoContext(ctx, guest)
	require.NoError(t, err)
	assert.Equal(t, guest, u.ID)
	assert.True(t, u.IsRestricted)
	assert.False(t, u.IsUltraRestricted)
	assert.Equal(t, "guest@other.example", u.Profile.Email)
	assert.Equal(t, TeamID, u.TeamID)
	u, err = api.GetUserInfoContext(ctx, alice)
	require.NoError(t, err)
	assert.True(t, u.IsAdmin)
	assert.Equal(t, "Alice Doe", u.RealName)
	u, err = api.GetUserInfoContext(ctx, BotUserID)
	require.NoError(t, err)
	assert.True(t, u.IsBot)
	_, err = api.GetUserInfoContext(ctx, "UNOBODY")
	assert.EqualError(t, err, "user_not_found")

	u, err = api.GetUserByEmailContext(ctx, "bob@corp.EXAMPLE")
	require.NoError(t, err)
	assert.Equal(t, bob, u.ID)
	u, err = api.GetUserByEmailContext(ctx, "gone@corp.example")
	require.NoError(t, err)
	assert.True(t, u.Deleted)
	_, err = api.GetUserByEmailContext(ctx, "nobody@corp.example")
	assert.EqualError(t, err, "users_not_found")
	_, err = api.GetUserByEmailContext(ctx, "")
	assert.EqualError(t, err, "users_not_found", "users without email never match an empty one")

	fake.AddUser(User{ID: "UNEW", Name: "new", Email: "new@corp.example", IsUltraRestricted: true})
	u, err = api.GetUserByEmailContext(ctx, "new@corp.example")
	require.NoError(t, err)
	assert.True(t, u.IsUltraRestricted)

	members, err := api.GetUserGroupMembersContext(ctx, admins)
	require.NoError(t, err)
	assert.Equal(t, []string{alice, bob}, members)
	fake.SetUserGroup(admins, bob)
	members, err = api.GetUserGroupMembersContext(ctx, admins)
	require.NoError(t, err)
	assert.Equal(t, []string{bob}, members)
	fake.SetUserGroup("SEMPTY")
	members, err = api.GetUserGroupMembersContext(ctx, "SEMPTY")
	require.NoError(t, err)
	assert.Empty(t, members)
	_, err = api.GetUserGroupMembersContext(ctx, "SNOPE")
	assert.EqualError(t, err, "no_such_subteam")
}

func TestChatErrors(t *testing.T) {
	fake := newFake(t, WithoutRateLimits())
	tok := fake.BotToken()
	card := postCard(t, fake, newAPI(t, fake, tok, ""), "b", "r")
	tests := []struct {
		name   string
		method string
		form   url.Values
		want   string
	}{
		{"post to unknown channel", "chat.postMessage", url.Values{"channel": {"CNOPE"}, "text": {"x"}}, "channel_not_found"},
		{"post to a user ID", "chat.postMessage", url.Values{"channel": {alice}, "text": {"x"}}, "channel_not_found"},
		{"post without content", "chat.postMessage", url.Values{"channel": {approval}}, "no_text"},
		{"post blocks not an array", "chat.postMessage", url.Values{"channel": {approval}, "blocks": {`{"type":"divider"}`}}, "invalid_blocks_format"},
		{"post too many blocks", "chat.postMessage", url.Values{"channel": {approval}, "blocks": {dividers(51)}}, "invalid_blocks"},
		{"update unknown ts", "chat.update", url.Values{"channel": {approval}, "ts": {"1.000001"}, "text": {"x"}}, "message_not_found"},
		{"update unknown channel", "chat.update", url.Values{"channel": {"CNOPE"}, "ts": {card.TS}, "text": {"x"}}, "channel_not_found"},
		{"update to nothing", "chat.update", url.Values{"channel": {approval}, "ts": {card.TS}}, "no_text"},
		{"update with bad blocks", "chat.update", url.Values{"channel": {approval}, "ts": {card.TS}, "blocks": {`[{}]`}}, "invalid_blocks"},
		{"ephemeral to unknown user", "chat.postEphemeral", url.Values{"channel": {approval}, "user": {"UNOBODY"}, "text": {"x"}}, "user_not_found"},
		{"ephemeral in unknown channel", "chat.postEphemeral", url.Values{"channel": {"CNOPE"}, "user": {alice}, "text": {"x"}}, "channel_not_found"},
		{"unknown method", "chat.delete", url.Values{}, "unknown_method"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.form.Set("token", tok)
			status, answer := rawCall(t, fake, tt.method, tt.form)
			assert.Equal(t, http.StatusOK, status)
			assert.Equal(t, false, answer["ok"])
			assert.Equal(t, tt.want, answer["error"])
			calls := fake.Calls()
			assert.Equal(t, tt.want, calls[len(calls)-1].Error)
		})
	}
	assert.Len(t, fake.Messages(), 1, "refused messages are not recorded")
	cur, _ := fake.Current(approval, card.TS)
	assert.Equal(t, card.Text, cur.Text)
}

func TestInvalidBlocksThroughSlackGo(t *testing.T) {
	fake := newFake(t)
	api := newAPI(t, fake, fake.BotToken(), "")
	long := slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, strings.Repeat("x", 3001), false, false), nil, nil)
	_, _, err := api.PostMessageContext(testCtx(t), approval, slack.MsgOptionBlocks(long))
	var se slack.SlackErrorResponse
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "invalid_blocks", se.Err)
	require.Len(t, se.Errors, 1)
	require.NotNil(t, se.Errors[0].Message)
	assert.Equal(t, "must be less than 3001 characters [json-pointer:/blocks/0/text/text]", *se.Errors[0].Message)
}

func TestRequestEncodings(t *testing.T) {
	fake := newFake(t)
	blocks := `[{"type":"section","text":{"type":"mrkdwn","text":"hi"}}]`

	status, answer := rawJSON(t, fake.APIURL()+"chat.postMessage", fake.BotToken(),
		`{"channel":"CAPPROVAL","text":"json","blocks":`+blocks+`,"unfurl_links":false,"n":1.50,"gone":null}`)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, true, answer["ok"], answer)
	msg := answer["message"].(map[string]any)
	assert.Equal(t, "json", msg["text"])
	assert.Equal(t, BotID, msg["bot_id"])
	call := fake.Calls()[0]
	assert.Equal(t, map[string]string{"channel": approval, "text": "json", "blocks": blocks, "unfurl_links": "false", "n": "1.50"}, call.Params)
	assert.JSONEq(t, blocks, string(fake.Messages()[0].Blocks))

	_, answer = rawJSON(t, fake.APIURL()+"chat.postMessage", "", `{"channel":"CAPPROVAL","text":"x"}`)
	assert.Equal(t, "invalid_auth", answer["error"], "JSON without a bearer token")
	_, answer = rawJSON(t, fake.APIURL()+"chat.postMessage", fake.BotToken(), `{"channel":`)
	assert.Equal(t, "invalid_form_data", answer["error"])
	_, answer = rawJSON(t, fake.APIURL()+"auth.test", fake.BotToken(), `[1,2]`)
	assert.Equal(t, "invalid_form_data", answer["error"])
	last := fake.Calls()[len(fake.Calls())-1]
	assert.Equal(t, Call{Method: "auth.test", Params: map[string]string{}, At: last.At, Error: "invalid_form_data"}, last, "unreadable calls are recorded too")

	// A bearer header works for form posts too, and a query string for GETs.
	req, err := http.NewRequest(http.MethodPost, fake.APIURL()+"auth.test", strings.NewReader("a=b"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+fake.BotToken())
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, answer = decodeAnswer(t, resp)
	assert.Equal(t, true, answer["ok"])
	resp, err = http.Get(fake.APIURL() + "users.info?user=UALICE&token=" + fake.BotToken())
	require.NoError(t, err)
	_, answer = decodeAnswer(t, resp)
	assert.Equal(t, true, answer["ok"], answer)

	// Multipart forms are read too.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	require.NoError(t, mw.WriteField("token", fake.BotToken()))
	require.NoError(t, mw.WriteField("user", bob))
	require.NoError(t, mw.Close())
	resp, err = http.Post(fake.APIURL()+"users.info", mw.FormDataContentType(), &body)
	require.NoError(t, err)
	_, answer = decodeAnswer(t, resp)
	assert.Equal(t, true, answer["ok"], answer)
	resp, err = http.Post(fake.APIURL()+"users.info", "multipart/form-data; boundary=x", strings.NewReader("garbage"))
	require.NoError(t, err)
	_, answer = decodeAnswer(t, resp)
	assert.Equal(t, "invalid_form_data", answer["error"])

	// apps.connections.open only reads the header.
	_, answer = rawCall(t, fake, "apps.connections.open", url.Values{"token": {fake.AppToken()}})
	assert.Equal(t, "invalid_auth", answer["error"])
}

func TestRateLimitAndFailNext(t *testing.T) {
	fake := newFake(t)
	api := newAPI(t, fake, fake.BotToken(), "")
	ctx := testCtx(t)
	post := func() error {
		_, _, err := api.PostMessageContext(ctx, approval, slack.MsgOptionText("x", false))
		return err
	}

	fake.RateLimit("chat.postMessage", 2, 1500*time.Millisecond)
	for range 2 {
		var rl *slack.RateLimitedError
		require.ErrorAs(t, post(), &rl)
		assert.Equal(t, 2*time.Second, rl.RetryAfter, "rounded up to whole seconds")
	}
	require.NoError(t, post())

	fake.RateLimit("chat.postMessage", 1, 0)
	var rl *slack.RateLimitedError
	require.ErrorAs(t, post(), &rl)
	assert.Equal(t, time.Second, rl.RetryAfter, "never less than a second")

	fake.RateLimit("chat.postMessage", 5, time.Second)
	fake.RateLimit("chat.postMessage", 0, time.Second)
	require.NoError(t, post(), "times 0 clears")

	fake.FailNext("users.info", 2, "fatal_error")
	for range 2 {
		_, err := api.GetUserInfoContext(ctx, alice)
		require.EqualError(t, err, "fatal_error")
	}
	_, err := api.GetUserInfoContext(ctx, alice)
	require.NoError(t, err)
	fake.FailNext("users.info", 3, "fatal_error")
	fake.FailNext("users.info", 3, "")
	_, err = api.GetUserInfoContext(ctx, alice)
	require.NoError(t, err, "an empty error clears")

	// Rate limiting comes before the failure and before auth.
	fake.FailNext("auth.test", 1, "internal_error")
	fake.RateLimit("auth.test", 1, time.Second)
	_, err = newAPI(t, fake, "xoxb-wrong", "").AuthTestContext(ctx)
	require.ErrorAs(t, err, &rl)
	_, err = api.AuthTestContext(ctx)
	require.EqualError(t, err, "internal_error")

	var errs []string
	for _, c := range fake.Calls() {
		errs = append(errs, c.Error)
	}
	assert.Equal(t, []string{"ratelimited", "ratelimited", "", "ratelimited", "", "fatal_error", "fatal_error", "", "", "ratelimited", "internal_error"}, errs)
}

func TestTSUniqueUnderConcurrency(t *testing.T) {
	fake := newFake(t, WithoutRateLimits())
	api := newAPI(t, fake, fake.BotToken(), "")
	ctx := testCtx(t)
	const n = 100
	tss := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, ts, err := api.PostMessageContext(ctx, approval, slack.MsgOptionText(fmt.Sprint(i), false))
			tss[i] = ts
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	seen := map[string]bool{}
	for _, ts := range tss {
		assert.Regexp(t, `^\d{10}\.\d{6}$`, ts)
		assert.False(t, seen[ts], "ts %s handed out twice", ts)
		seen[ts] = true
	}
	msgs := fake.Messages()
	require.Len(t, msgs, n)
	for i := 1; i < n; i++ {
		assert.Less(t, msgs[i-1].TS, msgs[i].TS, "ts increases in recording order")
	}
}

func TestResponseURL(t *testing.T) {
	fake := newFake(t)
	var responseURL string
	app := connectedApp(t, fake, emptyAck)
	_, err := fake.SlashCommand(testCtx(t), alice, approval, "/lock", "x")
	require.NoError(t, err)
	responseURL = app.next(t).Data.(slack.SlashCommand).ResponseURL
	ctx := testCtx(t)

	_, _, err = app.api.PostMessageContext(ctx, "",
		slack.MsgOptionResponseURL(responseURL, slack.ResponseTypeEphemeral),
		slack.MsgOptionText("Looking up devices…", false))
	require.NoError(t, err)
	msg := fake.Messages()[0]
	assert.Equal(t, KindResponseURL, msg.Kind)
	assert.Equal(t, approval, msg.Channel)
	assert.Equal(t, alice, msg.User)
	assert.Equal(t, "ephemeral", msg.ResponseType)
	assert.Equal(t, "Looking up devices…", msg.Text)
	assert.NotEmpty(t, msg.TS)
	last := fake.Calls()[len(fake.Calls())-1]
	assert.Equal(t, "response_url", last.Method)
	assert.Equal(t, "ephemeral", last.Params["response_type"])

	// Four more uses are allowed, the sixth is refused.
	for range 4 {
		_, _, err = app.api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(responseURL, ""), slack.MsgOptionText("again", false))
		require.NoError(t, err)
	}
	_, _, err = app.api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(responseURL, ""), slack.MsgOptionText("sixth", false))
	require.EqualError(t, err, "used_url")

	_, _, err = app.api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(strings.TrimSuffix(fake.APIURL(), "api/")+"response/999", ""), slack.MsgOptionText("x", false))
	var sc slack.StatusCodeError
	require.ErrorAs(t, err, &sc)
	assert.Equal(t, http.StatusNotFound, sc.Code)
}

func TestResponseURLReplacesAndDeletesTheCard(t *testing.T) {
	fake := newFake(t)
	app := connectedApp(t, fake, emptyAck)
	ctx := testCtx(t)
	urlOf := func(card Message) string {
		_, err := fake.Click(ctx, bob, card, "lock_approve")
		require.NoError(t, err)
		return app.next(t).Data.(slack.InteractionCallback).ResponseURL
	}

	card := postCard(t, fake, app.api, "b1", "r1")
	_, _, err := app.api.PostMessageContext(ctx, "", slack.MsgOptionReplaceOriginal(urlOf(card)), slack.MsgOptionText("Approved", false))
	require.NoError(t, err)
	cur, ok := fake.Current(approval, card.TS)
	require.True(t, ok)
	assert.Equal(t, KindResponseURL, cur.Kind)
	assert.Equal(t, "Approved", cur.Text)
	assert.True(t, cur.ReplaceOriginal)
	assert.Equal(t, card.TS, cur.TS)
	_, err = fake.Click(ctx, bob, card, "lock_approve")
	require.ErrorIs(t, err, ErrNoButton)

	card = postCard(t, fake, app.api, "b2", "r2")
	_, _, err = app.api.PostMessageContext(ctx, "", slack.MsgOptionDeleteOriginal(urlOf(card)))
	require.NoError(t, err)
	_, ok = fake.Current(approval, card.TS)
	assert.False(t, ok)

	card = postCard(t, fake, app.api, "b3", "r3")
	u := urlOf(card)
	long := slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "ok", false, false), nil, nil,
		slack.SectionBlockOptionBlockID(strings.Repeat("b", 256)))
	_, _, err = app.api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(u, ""), slack.MsgOptionBlocks(long))
	require.EqualError(t, err, "invalid_blocks")
	_, _, err = app.api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(u, ""))
	require.EqualError(t, err, "no_text")
}

func TestResponseURLRawErrors(t *testing.T) {
	fake := newFake(t)
	app := connectedApp(t, fake, emptyAck)
	_, err := fake.SlashCommand(testCtx(t), alice, approval, "/lock", "x")
	require.NoError(t, err)
	u := app.next(t).Data.(slack.SlashCommand).ResponseURL

	status, answer := rawJSON(t, u, "", `{"text":`)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "invalid_payload", answer["error"])
	resp, err := http.Get(u)
	require.NoError(t, err)
	status, _ = decodeAnswer(t, resp)
	assert.Equal(t, http.StatusMethodNotAllowed, status)

	fake.RateLimit("response_url", 1, 3*time.Second)
	resp, err = http.Post(u, "application/json", strings.NewReader(`{"text":"x"}`))
	require.NoError(t, err)
	status, answer = decodeAnswer(t, resp)
	assert.Equal(t, http.StatusTooManyRequests, status)
	assert.Equal(t, "3", resp.Header.Get("Retry-After"))
	assert.Equal(t, "ratelimited", answer["error"])
	fake.FailNext("response_url", 1, "internal_error")
	_, answer = rawJSON(t, u, "", `{"text":"x"}`)
	assert.Equal(t, "internal_error", answer["error"])
	_, answer = rawJSON(t, u, "", `{"text":"x","blocks":null}`)
	assert.Equal(t, true, answer["ok"])
	assert.Empty(t, fake.Messages()[0].Blocks)
}

func TestWaitMessageAndSubscribe(t *testing.T) {
	fake := newFake(t, WithoutRateLimits())
	api := newAPI(t, fake, fake.BotToken(), "")
	ctx := testCtx(t)
	feed, cancel := fake.Subscribe(2)
	post := func(text string) {
		_, _, err := api.PostMessageContext(ctx, approval, slack.MsgOptionText(text, false))
		require.NoError(t, err)
	}
	byText := func(text string) func(Message) bool {
		return func(m Message) bool { return m.Text == text }
	}

	post("one")
	got, err := fake.WaitMessage(ctx, byText("one"))
	require.NoError(t, err)
	assert.Equal(t, "one", got.Text, "past messages match")

	future := make(chan Message, 1)
	go func() {
		m, err := fake.WaitMessage(ctx, func(m Message) bool {
			_ = fake.Messages() // match may call back into the server
			return m.Text == "three"
		})
		assert.NoError(t, err)
		future <- m
	}()
	post("two")
	post("three")
	assert.Equal(t, "three", (<-future).Text)

	// The feed kept only the newest two: "one" was dropped.
	assert.Equal(t, "two", (<-feed).Text)
	assert.Equal(t, "three", (<-feed).Text)
	cancel()
	cancel()
	_, open := <-feed
	assert.False(t, open)
	post("four") // a cancelled feed gets nothing and blocks nothing

	short, stop := context.WithTimeout(ctx, 10*time.Millisecond)
	defer stop()
	_, err = fake.WaitMessage(short, byText("never"))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.True(t, errors.Is(err, context.DeadlineExceeded))
}

func TestLoggerNeverSeesTokens(t *testing.T) {
	var logs bytes.Buffer
	fake := newFake(t, WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	app := connectedApp(t, fake, emptyAck)
	postCard(t, fake, app.api, "b", "r")
	_, err := app.api.AuthTestContext(testCtx(t))
	require.NoError(t, err)
	_, err = newAPI(t, fake, "xoxb-wrong-secret", "").AuthTestContext(testCtx(t))
	require.Error(t, err)
	_, err = fake.SlashCommand(testCtx(t), alice, approval, "/lock", "x")
	require.NoError(t, err)

	out := logs.String()
	assert.Contains(t, out, "method=chat.postMessage")
	assert.Contains(t, out, "error=invalid_auth")
	for _, secret := range []string{fake.BotToken(), fake.AppToken(), "xoxb-wrong-secret"} {
		assert.NotContains(t, out, secret)
	}
}
