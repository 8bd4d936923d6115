package bot

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/kandji"
	"github.com/lockbot/lockbot/kandji/kandjitest"
)

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
	err := runBotUntil(t, down.URL+"/api/", func() bool { return calls.Load() >= 1 })
	assert.NoError(t, err)
}

// runBotUntil runs a bot against apiURL, cancels it once cond holds, and
// returns Run's result.
func runBotUntil(t *testing.T, apiURL string, cond func() bool) error {
	t.Helper()
	k := kandjitest.NewServer()
	t.Cleanup(k.Close)
	kc, err := kandji.New(k.URL(), k.Token())
	require.NoError(t, err)
	cfg := Config{BotToken: "xoxb-1", AppToken: "xapp-1", APIURL: apiURL, ApprovalChannel: approval,
		Approvers: []string{dave}, ConnectBackoff: time.Hour, SlackAttempts: 1}
	b, err := New(cfg, Deps{Kandji: kc, Store: approvals.NewMemoryStore()})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	require.Eventually(t, cond, 10*time.Second, time.Millisecond)
	cancel()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
		return nil
	}
}
