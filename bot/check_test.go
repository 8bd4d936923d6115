package bot

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/bot/slackfake"
)

// preflight runs the Slack checks against s with cfg's people and groups.
func preflight(t *testing.T, s *slackfake.Server, adjust func(*Config)) map[string]Check {
	t.Helper()
	t.Cleanup(s.Close)
	cfg := Config{BotToken: s.BotToken(), AppToken: s.AppToken(), APIURL: s.APIURL(),
		ApprovalChannel: approval, NotifyChannel: notifyCh, Approvers: []string{dave, alice}}
	if adjust != nil {
		adjust(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	out := map[string]Check{}
	for _, c := range Preflight(ctx, cfg) {
		out[c.Name] = c
	}
	return out
}

func TestPreflightApprovers(t *testing.T) {
	t.Run("all can approve", func(t *testing.T) {
		c := preflight(t, workspace(), func(c *Config) { c.ApproverGroup = "SAPPROVE1"; c.RequiredApprovals = 2 })
		assert.True(t, c["Slack approvers"].OK, c["Slack approvers"].Detail)
		assert.Equal(t, "3 people can approve; a request needs 2 besides its requester", c["Slack approvers"].Detail)
	})
	t.Run("a guest, a partner, a deactivated account and nobody", func(t *testing.T) {
		c := preflight(t, workspace(), func(c *Config) { c.Approvers = []string{dave, guest, partner, gone, "U0NOBODY1"} })
		a := c["Slack approvers"]
		require.False(t, a.OK)
		for _, want := range []string{"UGUEST01 (guest): guest accounts", "UPARTNER1 (pat): people from other organisations", "gone", "U0NOBODY1: Slack answered user_not_found"} {
			assert.Contains(t, a.Detail, want)
		}
		assert.Contains(t, a.Hint, "LOCKBOT_APPROVERS")
	})
	t.Run("a quorum out of reach", func(t *testing.T) {
		c := preflight(t, workspace(), func(c *Config) { c.Approvers = []string{dave}; c.RequiredApprovals = 2 })
		assert.Contains(t, c["Slack approvers"].Detail, "1 can approve, fewer than the 2 approvals a request needs")
	})
	t.Run("a quorum only non-approvers' requests reach", func(t *testing.T) {
		c := preflight(t, workspace(), func(c *Config) { c.Approvers = []string{dave} })
		assert.True(t, c["Slack approvers"].OK)
		assert.Contains(t, c["Slack approvers"].Detail, "a request one of them makes can never be approved")
	})
}

func TestPreflightGroups(t *testing.T) {
	t.Run("unknown group", func(t *testing.T) {
		c := preflight(t, workspace(), func(c *Config) { c.ApproverGroup = "S0NOPE001" })
		a := c["Slack approvers"]
		require.False(t, a.OK)
		assert.Contains(t, a.Detail, "no_such_subteam")
		assert.Contains(t, a.Hint, "set LOCKBOT_APPROVER_GROUP to the ID")
	})
	t.Run("free plan", func(t *testing.T) {
		c := preflight(t, workspace(slackfake.WithFreePlan()), func(c *Config) { c.RequesterGroup = "SAPPROVE1" })
		r := c["Slack requester group SAPPROVE1"]
		require.False(t, r.OK)
		assert.Contains(t, r.Hint, "user groups need a paid Slack plan: list the people in LOCKBOT_REQUESTERS")
	})
	t.Run("requester group read", func(t *testing.T) {
		c := preflight(t, workspace(), func(c *Config) { c.RequesterGroup = "SAPPROVE1" })
		assert.True(t, c["Slack requester group SAPPROVE1"].OK, c["Slack requester group SAPPROVE1"].Detail)
	})
	t.Run("no check without a requester group", func(t *testing.T) {
		for name := range preflight(t, workspace(), nil) {
			assert.False(t, strings.HasPrefix(name, "Slack requester group"), name)
		}
	})
}
