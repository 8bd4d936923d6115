package slackfake

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUsersFromOtherOrganisations(t *testing.T) {
	fake := newFake(t, WithBotScopes(append(ManifestScopes(), "users:read.email")...), WithUsers(
		User{ID: "USTRANGE", Name: "stranger", RealName: "Sam Stranger", Email: "sam@other.example", TeamID: "TOTHER", IsStranger: true},
		User{ID: "UPARTNER", Name: "pat", RealName: "Pat Partner", Email: "pat@partner.example", TeamID: "TPARTNER"},
		User{ID: "WGRID", Name: "gina", Email: "gina@corp.example", EnterpriseID: "E0CORP", EnterpriseName: "Corp", IsOwner: true},
		User{ID: "UAPP", Name: "helper", IsAppUser: true},
		User{ID: "UINVITED", Name: "new", IsInvitedUser: true},
	))
	api := newAPI(t, fake, fake.BotToken(), "")
	ctx := testCtx(t)

	s, err := api.GetUserInfoContext(ctx, "USTRANGE")
	require.NoError(t, err)
	assert.True(t, s.IsStranger)
	assert.Equal(t, "TOTHER", s.TeamID)
	assert.Empty(t, s.Profile.Email, "a stranger's profile is stripped")
	assert.Empty(t, s.RealName)
	assert.Empty(t, s.Name)
	_, err = api.GetUserByEmailContext(ctx, "sam@other.example")
	require.EqualError(t, err, "users_not_found", "strangers cannot be found by email")

	p, err := api.GetUserByEmailContext(ctx, "pat@partner.example")
	require.NoError(t, err)
	assert.Equal(t, "TPARTNER", p.TeamID, "a Slack Connect member keeps their own team_id")
	assert.False(t, p.IsStranger)

	g, err := api.GetUserInfoContext(ctx, "WGRID")
	require.NoError(t, err)
	assert.Equal(t, "E0CORP", g.Enterprise.EnterpriseID)
	assert.Equal(t, "Corp", g.Enterprise.EnterpriseName)
	assert.True(t, g.Enterprise.IsOwner)
	assert.True(t, g.IsOwner)
	assert.Equal(t, TeamID, g.TeamID)

	a, err := api.GetUserInfoContext(ctx, "UAPP")
	require.NoError(t, err)
	assert.True(t, a.IsAppUser)
	assert.False(t, a.IsBot)
	i, err := api.GetUserInfoContext(ctx, "UINVITED")
	require.NoError(t, err)
	assert.True(t, i.IsInvitedUser)

	_, err = api.GetUserInfoContext(ctx, "UNOBODY")
	require.EqualError(t, err, "user_not_found")

	_, body := rawCall(t, fake, "users.info", url.Values{"token": {fake.BotToken()}, "user": {alice}})
	assert.NotContains(t, body["user"], "is_stranger", "Slack sets is_stranger only on strangers")
}

func TestUserGroupPlans(t *testing.T) {
	fake := newFake(t)
	api := newAPI(t, fake, fake.BotToken(), "")
	_, err := api.GetUserGroupMembersContext(testCtx(t), "SNOPE")
	require.EqualError(t, err, "no_such_subteam")

	free := newFake(t, WithFreePlan())
	_, err = newAPI(t, free, free.BotToken(), "").GetUserGroupMembersContext(testCtx(t), admins)
	require.EqualError(t, err, "plan_upgrade_required", "the free plan has no user groups, even declared ones")
}
