package bot

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/bot/slackfake"
	"github.com/lockbot/lockbot/kandji"
	"github.com/lockbot/lockbot/kandji/kandjitest"
)

// runBot starts a bot against fake with cfg adjusted by mod and returns
// Run's result, bounded so a test can never hang.
func runBot(t *testing.T, fake *slackfake.Server, mod func(*Config)) error {
	t.Helper()
	k := kandjitest.NewServer()
	t.Cleanup(k.Close)
	kc, err := kandji.New(k.URL(), k.Token())
	require.NoError(t, err)
	cfg := Config{BotToken: fake.BotToken(), AppToken: fake.AppToken(), APIURL: fake.APIURL(), ApprovalChannel: approval, Approvers: []string{dave}}
	mod(&cfg)
	b, err := New(cfg, Deps{Kandji: kc, Store: approvals.NewMemoryStore()})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return b.Run(ctx)
}

func TestCredentialProblemsStopStartup(t *testing.T) {
	tests := []struct {
		name     string
		appError string
		mod      func(*Config)
		want     string
	}{
		{"bot token rejected", "", func(c *Config) { c.BotToken = "xoxb-wrong" }, "Slack refused SLACK_BOT_TOKEN (invalid_auth)"},
		{"app token is a bot token", "not_allowed_token_type", func(*Config) {}, "must be an app-level token"},
		{"app token invalid", "invalid_auth", func(*Config) {}, "invalid_auth"},
		{"app token revoked", "token_revoked", func(*Config) {}, "token_revoked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := slackfake.New(slackfake.WithUsers(slackfake.User{ID: dave}))
			t.Cleanup(fake.Close)
			fake.SetAppTokenError(tt.appError)
			err := runBot(t, fake, tt.mod)
			require.Error(t, err)
			assert.True(t, errors.Is(err, errFatalSlack), "%v", err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotErrorIs(t, err, context.DeadlineExceeded, "start-up must fail fast, not loop until the deadline")
			assert.NotContains(t, err.Error(), fake.AppToken())
			assert.NotContains(t, err.Error(), fake.BotToken())
		})
	}
}

func TestReconnectsAfterDisconnect(t *testing.T) {
	h := newHarness(t)
	require.Eventually(t, h.ready, 5*time.Second, time.Millisecond)
	h.slack.Disconnect("refresh_requested")
	require.Eventually(t, func() bool { return h.slack.Connections() >= 2 }, 10*time.Second, 5*time.Millisecond)
	h.command(alice, "bob@corp.com")
	h.card(victim)
	assert.True(t, h.ready())
}

func TestNewNamesEveryMissingPiece(t *testing.T) {
	_, err := New(Config{}, Deps{})
	require.Error(t, err)
	for _, want := range []string{"Kandji client", "approvals store", "app-level token", "approval channel", "approvers"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestShutdownFinishesInFlightLock(t *testing.T) {
	h := newHarness(t)
	h.kandji.SetLatency(150 * time.Millisecond)
	h.command(alice, "bob@corp.com")
	card := h.card(victim)
	h.click(dave, card, actionApprove)
	// Stop as soon as the lock has started: the card says "locking".
	h.waitFor(kind(slackfake.KindUpdate), ts(card.TS), says("Locking now"))
	h.stop()
	for _, id := range bobDevices {
		assert.True(t, h.kandji.Locked(id), "%s: an approved lock finishes during shutdown", id)
	}
	final, _ := h.slack.Current(card.Channel, card.TS)
	assert.Contains(t, final.AllText(), "Done")
}
