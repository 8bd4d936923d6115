package slackfake

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestManifestScopesAreTheDefault(t *testing.T) {
	fake := newFake(t)
	var scopes string
	api := slack.New(fake.BotToken(), slack.OptionAPIURL(fake.APIURL()),
		slack.OptionOnResponseHeaders(func(_ string, h http.Header) { scopes = h.Get("X-OAuth-Scopes") }))
	_, err := api.AuthTestContext(testCtx(t))
	require.NoError(t, err)
	assert.Equal(t, strings.Join(ManifestScopes(), ","), scopes, "Slack reports the token's scopes on every answer")
	assert.Equal(t, []string{"commands", "chat:write", "im:write", "users:read", "usergroups:read", "channels:read", "groups:read"}, ManifestScopes())

	a := ManifestScopes()
	a[0] = "changed"
	assert.Equal(t, "commands", ManifestScopes()[0], "every call returns a fresh slice")
}

func TestEveryMethodNeedsItsScope(t *testing.T) {
	tests := []struct {
		method string
		form   url.Values
		needed string
	}{
		{"chat.postMessage", url.Values{"channel": {approval}, "text": {"x"}}, "chat:write"},
		{"chat.update", url.Values{"channel": {approval}, "ts": {"1.1"}, "text": {"x"}}, "chat:write"},
		{"chat.postEphemeral", url.Values{"channel": {approval}, "user": {alice}, "text": {"x"}}, "chat:write"},
		{"conversations.open", url.Values{"users": {alice}}, "im:write"},
		{"users.info", url.Values{"user": {alice}}, "users:read"},
		{"users.lookupByEmail", url.Values{"email": {"alice@corp.example"}}, "users:read.email"},
		{"usergroups.users.list", url.Values{"usergroup": {admins}}, "usergroups:read"},
		{"conversations.info", url.Values{"channel": {approval}}, "channels:read"},
		{"conversations.info", url.Values{"channel": {"GSECRET"}}, "groups:read"},
		{"conversations.history", url.Values{"channel": {approval}}, "channels:history"},
		{"conversations.history", url.Values{"channel": {"GSECRET"}}, "groups:history"},
	}
	for _, tt := range tests {
		t.Run(tt.method+"/"+tt.needed, func(t *testing.T) {
			fake := newFake(t, WithBotScopes("commands", "bogus"), WithChannel(Channel{ID: "GSECRET", Private: true, BotMember: true}))
			tt.form.Set("token", fake.BotToken())
			status, answer := rawCall(t, fake, tt.method, tt.form)
			assert.Equal(t, http.StatusOK, status)
			assert.Equal(t, map[string]any{"ok": false, "error": "missing_scope", "needed": tt.needed, "provided": "commands,bogus"}, answer)
		})
	}
}

func TestAuthTestNeedsNoScope(t *testing.T) {
	fake := newFake(t, WithBotScopes())
	_, err := newAPI(t, fake, fake.BotToken(), "").AuthTestContext(testCtx(t))
	require.NoError(t, err)
}

func TestMissingScopeThroughSlackGo(t *testing.T) {
	fake := newFake(t, WithBotScopes("chat:write"))
	_, err := newAPI(t, fake, fake.BotToken(), "").GetUserInfoContext(testCtx(t), alice)
	var se slack.SlackErrorResponse
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "missing_scope", se.Err)
	assert.Equal(t, "users:read", se.Needed)
	assert.Equal(t, "chat:write", se.Provided)
}

func TestEmailNeedsUsersReadEmail(t *testing.T) {
	fake := newFake(t, WithBotScopes("users:read"))
	u, err := newAPI(t, fake, fake.BotToken(), "").GetUserInfoContext(testCtx(t), alice)
	require.NoError(t, err)
	assert.Equal(t, "Alice Doe", u.RealName)
	assert.Empty(t, u.Profile.Email, "profile.email needs users:read.email")

	_, body := rawCall(t, fake, "users.info", url.Values{"token": {fake.BotToken()}, "user": {alice}})
	profile := body["user"].(map[string]any)["profile"].(map[string]any)
	assert.NotContains(t, profile, "email", "the field is left out, not blanked")
}

func TestAppTokenNeedsConnectionsWrite(t *testing.T) {
	fake := newFake(t, WithAppTokenScopes("authorizations:read"))
	_, answer := rawJSON(t, fake.APIURL()+"apps.connections.open", fake.AppToken(), "")
	assert.Equal(t, map[string]any{"ok": false, "error": "missing_scope", "needed": "connections:write", "provided": "authorizations:read"}, answer)

	fake = newFake(t)
	_, answer = rawJSON(t, fake.APIURL()+"apps.connections.open", fake.AppToken(), "")
	assert.Equal(t, true, answer["ok"], "the default app token can open connections, and nothing else is needed")
	assert.Zero(t, fake.Connections(), "opening a URL connects nothing")
}

func TestNormScopes(t *testing.T) {
	assert.Equal(t, []string{"a", "b"}, normScopes([]string{" a", "", "b", "a"}))
	assert.Equal(t, []string{}, normScopes(nil))
}
