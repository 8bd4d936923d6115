package bot

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals/sqlite"
	"github.com/lockbot/lockbot/approvals/sqlite/sqlitetest"
	"github.com/lockbot/lockbot/bot/slackfake"
	"github.com/lockbot/lockbot/kandji"
	"github.com/lockbot/lockbot/kandji/kandjitest"
)

// runBot runs a bot against apiURL with cfg adjusted by mod, cancels it
// once stop holds (nil: never), and returns what Run returned, bounded so
// a test can never hang.
func runBot(t *testing.T, apiURL, botToken, appToken string, mod func(*Config), stop func() bool) error {
	t.Helper()
	k := kandjitest.NewServer()
	t.Cleanup(k.Close)
	kc, err := kandji.New(k.URL(), k.Token())
	require.NoError(t, err)
	store, err := sqlite.Open(t.Context(), sqlitetest.Dir(t), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	cfg := Config{BotToken: botToken, AppToken: appToken, APIURL: apiURL, ApprovalChannel: approval, Approvers: []string{dave},
		ConnectBackoff: time.Hour, SlackAttempts: 1}
	if mod != nil {
		mod(&cfg)
	}
	b, err := New(cfg, Deps{Kandji: kc, Store: store})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	if stop != nil {
		require.Eventually(t, stop, hang, time.Millisecond)
		cancel()
	}
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

func TestCredentialProblemsStopStartup(t *testing.T) {
	tests := []struct {
		name     string
		appError string
		botToken string
		want     string
	}{
		{"bot token rejected", "", "xoxb-wrong", "Slack refused SLACK_BOT_TOKEN (invalid_auth)"},
		{"app token is a bot token", "not_allowed_token_type", "", "must be an app-level token"},
		{"app token invalid", "invalid_auth", "", "Slack refused SLACK_APP_TOKEN (invalid_auth)"},
		{"app token revoked", "token_revoked", "", "token_revoked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := slackfake.New(slackfake.WithUsers(slackfake.User{ID: dave}))
			t.Cleanup(fake.Close)
			fake.SetAppTokenError(tt.appError)
			bot := fake.BotToken()
			if tt.botToken != "" {
				bot = tt.botToken
			}
			err := runBot(t, fake.APIURL(), bot, fake.AppToken(), nil, nil)
			require.Error(t, err)
			assert.True(t, errors.Is(err, errFatalSlack), "%v", err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), fake.AppToken())
			assert.NotContains(t, err.Error(), fake.BotToken())
		})
	}
}

// TestStopWhileWaitingForSlackIsClean: a stop that comes while Slack
// cannot be reached is a shutdown, never reported as a credential refusal
// (which is what a cancelled auth.test used to be).
func TestStopWhileWaitingForSlackIsClean(t *testing.T) {
	var calls atomic.Int32
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		http.Error(w, "upstream connect error", http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	err := runBot(t, down.URL+"/api/", "xoxb-1", "xapp-1", nil, func() bool { return calls.Load() >= 1 })
	assert.NoError(t, err)
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

// TestSecondConnectionOnTheEmbeddedStoreIsWarnedOf: a second lockbot with
// the same app token but its own state splits Slack's payloads between
// them; the one that sees two connections says so. Replicas on a shared
// store expect each other and stay quiet.
func TestSecondConnectionOnTheEmbeddedStoreIsWarnedOf(t *testing.T) {
	first := newHarness(t)
	second := newHarnessWith(t, first.slack)
	require.Eventually(t, func() bool { return strings.Contains(second.logs.String(), "another process is connected to Slack") },
		hang, 5*time.Millisecond, "the second lockbot warns")
	assert.Contains(t, second.logs.String(), `"connections":2`)

	shared := newHarnessWith(t, first.slack, withConfig(func(c *Config) { c.SharedStore = true }))
	require.Eventually(t, shared.ready, hang, 5*time.Millisecond)
	assert.NotContains(t, shared.logs.String(), "another process is connected")
}
