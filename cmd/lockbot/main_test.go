package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/lockbot/lockbot/approvals/sqlite/sqlitetest"
	"github.com/lockbot/lockbot/bot/slackfake"
	"github.com/lockbot/lockbot/kandji/kandjitest"
)

const (
	approver   = "U0DAVE01"
	approver2  = "U0ALICE01" // an approver too, and the requester of the manual tests
	approvalCh = "C0APPROVAL"
	alerts     = "C0ALERTS01"
	helpdesk   = "C0HELPDESK"
	hookSecret = "test-hook-secret-0123456789"
)

// syncBuffer is an io.Writer the server logs to while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// world is a simulated Slack workspace and Kandji tenant, and the
// environment that points lockbot at them.
type world struct {
	slack  *slackfake.Server
	tenant *kandjitest.Server
	env    map[string]string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	slack := slackfake.New(
		slackfake.WithUsers(
			slackfake.User{ID: approver, Name: "dave", RealName: "Dave", Email: "dave@acme.example"},
			slackfake.User{ID: approver2, Name: "alice", RealName: "Alice", Email: "alice@acme.example"},
		),
		slackfake.WithChannels(approvalCh, alerts, helpdesk),
		slackfake.WithChannelMembers(approvalCh, approver, approver2),
		slackfake.WithChannelMembers(alerts, approver, approver2),
		slackfake.WithChannelMembers(helpdesk, approver, approver2),
		slackfake.WithoutRateLimits(),
	)
	t.Cleanup(slack.Close)
	tenant := kandjitest.NewServer(kandjitest.WithDevices(
		kandjitest.Device{ID: "jane-mac", Name: "Jane's Mac", Platform: "Mac", Serial: "C02JANE0001", UserEmail: "jane.doe@acme.example"},
		kandjitest.Device{ID: "xjane-mac", Name: "Not Jane's Mac", Platform: "Mac", Serial: "C02XJANE001", UserEmail: "xjane.doe@acme.example"},
	))
	t.Cleanup(tenant.Close)
	return &world{slack: slack, tenant: tenant, env: map[string]string{
		"SLACK_BOT_TOKEN": slack.BotToken(), "SLACK_APP_TOKEN": slack.AppToken(), "SLACK_API_URL": slack.APIURL(),
		"LOCKBOT_APPROVAL_CHANNEL": approvalCh, "LOCKBOT_NOTIFY_CHANNEL": alerts, "LOCKBOT_APPROVERS": approver + "," + approver2,
		"KANDJI_API_URL": tenant.URL(), "KANDJI_API_TOKEN": tenant.Token(), "KANDJI_RATE_LIMIT": "10000",
		"OKTA_HOOK_SECRET": hookSecret, "LOCKBOT_STATE_DIR": sqlitetest.Dir(t), "LISTEN_ADDR": "127.0.0.1:0",
		"LOG_FORMAT": "json", "LOG_LEVEL": "debug",
	}}
}

func (w *world) getenv(k string) string { return w.env[k] }

// secrets are the values that must never appear in output.
func (w *world) secrets() []string {
	return []string{w.slack.BotToken(), w.slack.AppToken(), w.tenant.Token(), hookSecret}
}

// listenAddr waits for the "lockbot starting" log line and returns its addr.
func listenAddr(t *testing.T, logs *syncBuffer) string {
	t.Helper()
	var addr string
	require.Eventually(t, func() bool {
		sc := bufio.NewScanner(strings.NewReader(logs.String()))
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "lockbot starting" {
				addr = line.Addr
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "no start-up log line:\n%s", logs)
	return "http://" + addr
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// TestServe runs `lockbot serve` end to end: HTTP endpoints, an Okta hook
// that locks, metrics, graceful shutdown, and no secret in any output.
func TestServe(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr syncBuffer
	code := make(chan int, 1)
	go func() { code <- run(ctx, []string{"serve"}, w.getenv, &stdout, &stderr) }()

	base := listenAddr(t, &stderr)
	status, body := get(t, base+"/healthz")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "ok\n", body)
	require.NoError(t, w.slack.WaitConnected(ctx))
	require.Eventually(t, func() bool { s, _ := get(t, base+"/readyz"); return s == http.StatusOK }, 10*time.Second, 20*time.Millisecond)

	// A wrong secret is refused and locks nothing.
	delivery, err := os.ReadFile(filepath.Join("..", "..", "testdata", "okta", "delivery_suspend.json"))
	require.NoError(t, err)
	post := func(secret string) int {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/hooks/okta", bytes.NewReader(delivery))
		require.NoError(t, err)
		req.Header.Set("Authorization", secret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusUnauthorized, post("not-the-secret"))
	assert.Equal(t, http.StatusOK, post(hookSecret))
	assert.Equal(t, http.StatusOK, post(hookSecret), "Okta's retry of the same delivery is accepted and deduplicated")

	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	report, err := w.slack.WaitMessage(wctx, func(m slackfake.Message) bool {
		return m.Channel == alerts && (m.Kind == slackfake.KindPost || m.Kind == slackfake.KindUpdate) &&
			strings.Contains(m.AllText(), "jane.doe@acme.example") && strings.Contains(m.AllText(), "Locked automatically")
	})
	require.NoError(t, err, "no lock report in the notify channel")
	assert.False(t, kandjitest.ContainsPIN(report.AllText(), w.tenant.PIN("jane-mac")), "the report never shows the PIN")
	require.Eventually(t, func() bool { return w.tenant.Locked("jane-mac") }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, 1, w.tenant.LockPosts("jane-mac"), "two deliveries of one event lock once")
	assert.Zero(t, w.tenant.LockPosts("xjane-mac"), "a look-alike address is never locked")

	_, metrics := get(t, base+"/metrics")
	for _, want := range []string{
		`lockbot_hook_deliveries_total{status="200"} 2`,
		`lockbot_hook_deliveries_total{status="401"} 1`,
		`lockbot_device_locks_total{outcome="locked"} 1`,
		"lockbot_okta_events_total",
		`lockbot_device_lookups_total{kind="exact"} 1`,
		"lockbot_burst_digest_active 0",
	} {
		assert.Contains(t, metrics, want)
	}

	cancel()
	select {
	case c := <-code:
		assert.Equal(t, exitOK, c, "stderr:\n%s", stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop after cancellation")
	}
	assert.Contains(t, stderr.String(), `"msg":"lockbot stopped"`)
	out := stdout.String() + stderr.String()
	for _, s := range w.secrets() {
		assert.NotContains(t, out, s, "a secret reached the logs")
	}
	assert.False(t, kandjitest.ContainsPIN(out, w.tenant.PIN("jane-mac")), "the PIN reached the logs")

	// The journal it left behind is what `lockbot audit` reads.
	var auditOut, auditErr bytes.Buffer
	require.Equal(t, exitOK, run(t.Context(), []string{"audit", "--csv", "--target", "jane.doe@acme.example"}, w.getenv, &auditOut, &auditErr), auditErr.String())
	journal := auditOut.String()
	rows, err := csv.NewReader(strings.NewReader(journal)).ReadAll()
	require.NoError(t, err)
	require.Greater(t, len(rows), 1, "header and at least one record")
	assert.Contains(t, journal, "jane.doe@acme.example")
	assert.False(t, kandjitest.ContainsPIN(journal, w.tenant.PIN("jane-mac")), "the journal never holds a PIN")
	assert.NotContains(t, journal, "xjane")
}

func TestServeRefusesBadConfigListingEveryProblem(t *testing.T) {
	w := newWorld(t)
	w.env["SLACK_BOT_TOKEN"] = "xoxp-user-token-not-a-bot"
	w.env["LOCKBOT_APPROVAL_CHANNEL"] = "#it-approvals"
	delete(w.env, "KANDJI_API_TOKEN")
	var stdout, stderr bytes.Buffer
	assert.Equal(t, exitUsage, run(t.Context(), nil, w.getenv, &stdout, &stderr), "serve is the default command")
	for _, want := range []string{"SLACK_BOT_TOKEN", "LOCKBOT_APPROVAL_CHANNEL", "KANDJI_API_TOKEN"} {
		assert.Contains(t, stderr.String(), want)
	}
	assert.NotContains(t, stderr.String(), "xoxp-user-token-not-a-bot", "even a wrong token is not echoed")
}

func TestServePortInUse(t *testing.T) {
	w := newWorld(t)
	var first syncBuffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int, 1)
	go func() { done <- run(ctx, nil, w.getenv, io.Discard, &first) }()
	defer func() { cancel(); <-done }()
	addr := strings.TrimPrefix(listenAddr(t, &first), "http://")

	second := newWorld(t)
	second.env["LISTEN_ADDR"] = addr
	var stderr bytes.Buffer
	assert.Equal(t, exitFailed, run(t.Context(), nil, second.getenv, io.Discard, &stderr))
	assert.Contains(t, stderr.String(), "LISTEN_ADDR")
}

func TestCheck(t *testing.T) {
	t.Run("all pass", func(t *testing.T) {
		w := newWorld(t)
		var out bytes.Buffer
		code := run(t.Context(), []string{"check"}, w.getenv, &out, io.Discard)
		assert.Equal(t, exitOK, code, out.String())
		assert.NotContains(t, out.String(), "✗")
		assert.Contains(t, out.String(), "✓ configuration")
		assert.Contains(t, out.String(), "Lock Device permission cannot be checked", "says what it cannot check")
		assert.Contains(t, out.String(), "✓ Kandji token reads device commands")
		assert.Contains(t, out.String(), "✓ Slack approvers: 2 people can approve; a request needs 1 besides its requester\n")
		assert.Contains(t, out.String(), "✓ Slack app token (Socket Mode): the app token works, Socket Mode is on and 127.0.0.1:")
		assert.Zero(t, w.slack.Connections(), "check opened no Socket Mode connection that could take a live payload")
		assert.Contains(t, out.String(), "whose Authorization header equals it")
		assert.Regexp(t, regexp.MustCompile(`all \d+ checks passed`), out.String())
	})
	t.Run("token without the command-list permission, custom hook header", func(t *testing.T) {
		w := newWorld(t)
		w.tenant.SetCommandsFailure(http.StatusForbidden)
		w.env["OKTA_HOOK_AUTH_HEADER"] = "X-Lockbot-Secret"
		var out bytes.Buffer
		assert.Equal(t, exitFailed, run(t.Context(), []string{"check"}, w.getenv, &out, io.Discard))
		assert.Regexp(t, regexp.MustCompile(`✗ Kandji token reads device commands: Kandji refused KANDJI_API_TOKEN \(403\).* — fix: .*"Device commands" permission \(Kandji does not document that label`), out.String())
		assert.Contains(t, out.String(), "✓ Kandji token lists devices")
		assert.Contains(t, out.String(), "whose X-Lockbot-Secret header equals it")
	})
	t.Run("wrong Kandji token and missing hook secret", func(t *testing.T) {
		w := newWorld(t)
		w.env["KANDJI_API_TOKEN"] = "99999999-0000-0000-0000-000000000000"
		delete(w.env, "OKTA_HOOK_SECRET")
		var out bytes.Buffer
		assert.Equal(t, exitFailed, run(t.Context(), []string{"check"}, w.getenv, &out, io.Discard))
		assert.Regexp(t, regexp.MustCompile(`✗ Kandji token lists devices: .* — fix: .*"Device list"`), out.String())
		assert.Contains(t, out.String(), "✗ Okta event hook secret")
		assert.Contains(t, out.String(), "✓ Slack")
		assert.NotContains(t, out.String(), "99999999-0000-0000-0000-000000000000")
	})
	t.Run("approvers who cannot approve", func(t *testing.T) {
		w := newWorld(t)
		w.env["LOCKBOT_APPROVERS"] = approver + ",U0NOBODY1"
		w.env["LOCKBOT_REQUIRED_APPROVALS"] = "1"
		var out bytes.Buffer
		assert.Equal(t, exitFailed, run(t.Context(), []string{"check"}, w.getenv, &out, io.Discard))
		assert.Regexp(t, regexp.MustCompile(`✗ Slack approvers: U0NOBODY1: Slack answered user_not_found — fix: .*LOCKBOT_APPROVERS`), out.String())
	})
	t.Run("bot not in the approval channel", func(t *testing.T) {
		w := newWorld(t)
		w.env["LOCKBOT_APPROVAL_CHANNEL"] = "C0ELSEWHERE"
		var out bytes.Buffer
		assert.Equal(t, exitFailed, run(t.Context(), []string{"check"}, w.getenv, &out, io.Discard))
		assert.Contains(t, out.String(), "C0ELSEWHERE")
	})
	t.Run("invalid configuration", func(t *testing.T) {
		var out bytes.Buffer
		assert.Equal(t, exitUsage, run(t.Context(), []string{"check"}, func(string) string { return "" }, &out, io.Discard), "a configuration error is exit 2, as the README says")
		assert.Contains(t, out.String(), "✗ configuration: SLACK_BOT_TOKEN is required")
		assert.Contains(t, out.String(), "✗ configuration: KANDJI_API_URL is required")
	})
}

func TestManifest(t *testing.T) {
	var out bytes.Buffer
	require.Equal(t, exitOK, run(t.Context(), []string{"manifest"}, getenvFrom(map[string]string{"LOCKBOT_COMMAND": "/lockdown"}), &out, io.Discard))
	var m struct {
		Features struct {
			SlashCommands []struct {
				Command   string
				UsageHint string `yaml:"usage_hint"`
			} `yaml:"slash_commands"`
		}
		OAuthConfig struct {
			Scopes struct{ Bot []string }
		} `yaml:"oauth_config"`
		Settings struct {
			Interactivity struct {
				IsEnabled bool `yaml:"is_enabled"`
			}
			SocketModeEnabled bool `yaml:"socket_mode_enabled"`
		}
	}
	require.NoError(t, yaml.Unmarshal(out.Bytes(), &m), out.String())
	require.Len(t, m.Features.SlashCommands, 1)
	assert.Equal(t, "/lockdown", m.Features.SlashCommands[0].Command)
	assert.NotEmpty(t, m.Features.SlashCommands[0].UsageHint)
	assert.True(t, m.Settings.SocketModeEnabled)
	assert.True(t, m.Settings.Interactivity.IsEnabled)
	for _, s := range []string{"commands", "chat:write", "im:write", "users:read", "usergroups:read", "channels:read", "groups:read"} {
		assert.Contains(t, m.OAuthConfig.Scopes.Bot, s)
	}
	assert.NotContains(t, m.OAuthConfig.Scopes.Bot, "chat:write.public", "the bot posts only where it was invited")
	assert.NotContains(t, m.OAuthConfig.Scopes.Bot, "users:read.email", "lockbot never reads a Slack user's email")
}

func TestDemo(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitOK, run(t.Context(), []string{"demo"}, func(string) string { return "" }, &stdout, &stderr), stderr.String())
	out := stdout.String()
	for _, want := range []string{"bob@corp.com", "erin@corp.com", "/hooks/okta"} {
		assert.Contains(t, out, want)
	}
}

func TestVersionHelpAndUnknownCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	assert.Equal(t, exitOK, run(t.Context(), []string{"version"}, os.Getenv, &out, &errOut))
	assert.Regexp(t, `^lockbot \S+\n$`, out.String())

	out.Reset()
	assert.Equal(t, exitOK, run(t.Context(), []string{"help"}, os.Getenv, &out, &errOut))
	assert.Contains(t, out.String(), "lockbot check")

	out.Reset()
	assert.Equal(t, exitUsage, run(t.Context(), []string{"lock-everyone"}, os.Getenv, &out, &errOut))
	assert.Contains(t, errOut.String(), `unknown command "lock-everyone"`)
}

func TestAuditErrors(t *testing.T) {
	var out, errOut bytes.Buffer
	env := getenvFrom(map[string]string{"LOCKBOT_STATE_DIR": filepath.Join(t.TempDir(), "nowhere")})
	assert.Equal(t, exitFailed, run(t.Context(), []string{"audit"}, env, &out, &errOut))
	assert.Contains(t, errOut.String(), "LOCKBOT_STATE_DIR")
	errOut.Reset()
	assert.Equal(t, exitUsage, run(t.Context(), []string{"audit", "--since", "yesterday"}, env, &out, &errOut))
}

// TestReadmeDocumentsEveryVariable keeps the README's configuration table
// in step with the config struct.
func TestReadmeDocumentsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	names := envNames()
	require.NotEmpty(t, names)
	for _, name := range names {
		assert.True(t, strings.Contains(string(readme), "`"+name+"`"), "README does not document %s", name)
	}
	assert.Contains(t, string(readme), "go run ./cmd/lockbot demo")
	assert.Contains(t, string(readme), "go test -race ./...")
}

// TestManifestRefusesACommandSlackWould: a command name Slack refuses
// fails here, naming the variable, instead of at "Create app".
func TestManifestRefusesACommandSlackWould(t *testing.T) {
	for _, cmd := range []string{"lock", "/Lock", "/lock now", "/" + strings.Repeat("x", 40), "/lök"} {
		var out, errOut bytes.Buffer
		assert.Equal(t, exitUsage, run(t.Context(), []string{"manifest"}, getenvFrom(map[string]string{"LOCKBOT_COMMAND": cmd}), &out, &errOut), cmd)
		assert.Empty(t, out.String(), "no manifest for %q", cmd)
		assert.Contains(t, errOut.String(), "LOCKBOT_COMMAND")
	}
}
