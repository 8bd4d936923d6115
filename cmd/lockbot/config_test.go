package main

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// validEnv is a complete, valid configuration.
func validEnv() map[string]string {
	return map[string]string{
		"SLACK_BOT_TOKEN":          "xoxb-123-456-abc",
		"SLACK_APP_TOKEN":          "xapp-1-A1-2-def",
		"LOCKBOT_APPROVAL_CHANNEL": "C0APPROVAL",
		"LOCKBOT_APPROVERS":        "U0DAVE01, U0ERIN01",
		"KANDJI_API_URL":           "https://acme.api.kandji.io",
		"KANDJI_API_TOKEN":         "11111111-2222-3333-4444-555555555555",
	}
}

func getenvFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := loadConfig(getenvFrom(validEnv()))
	require.NoError(t, err)
	assert.Equal(t, "https://slack.com/api/", cfg.SlackAPIURL)
	assert.Equal(t, "/lock", cfg.Command)
	assert.Equal(t, "C0APPROVAL", cfg.NotifyChannel, "the notify channel defaults to the approval channel")
	assert.Equal(t, []string{"U0DAVE01", "U0ERIN01"}, cfg.Approvers, "list entries are trimmed")
	assert.Equal(t, 1, cfg.Required)
	assert.Equal(t, 30*time.Minute, cfg.ApprovalTTL)
	assert.Equal(t, []string{"user.lifecycle.suspend", "user.lifecycle.deactivate", "user.account.report_suspicious_activity_by_enduser"}, cfg.AutoLockEvents)
	assert.Equal(t, 6000, cfg.KandjiRateLimit)
	assert.Equal(t, 5*time.Minute, cfg.CatchupInterval)
	assert.Equal(t, time.Hour, cfg.CatchupLookback)
	assert.Equal(t, ":8080", cfg.ListenAddr)
	assert.False(t, cfg.DryRun)
	assert.Empty(t, cfg.DatabaseURL, "the embedded store unless a database is named")
}

func TestConfigDatabaseURL(t *testing.T) {
	for _, u := range []string{"postgres://lockbot:s3cret@db.internal:5432/lockbot?sslmode=verify-full", "postgresql://db/lockbot", "postgres:///lockbot?host=/var/run/postgresql"} {
		env := validEnv()
		env["LOCKBOT_DATABASE_URL"] = u
		env["LOCKBOT_STATE_DIR"] = " " // unused with a database
		cfg, err := loadConfig(getenvFrom(env))
		require.NoError(t, err, u)
		assert.Equal(t, u, cfg.DatabaseURL.value())
		assert.NotContains(t, fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg), "s3cret", "printing the config never shows the password")
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string
		want []string
	}{
		{"nothing set", map[string]string{"SLACK_BOT_TOKEN": "", "SLACK_APP_TOKEN": "", "LOCKBOT_APPROVAL_CHANNEL": "", "LOCKBOT_APPROVERS": "", "KANDJI_API_URL": "", "KANDJI_API_TOKEN": ""},
			[]string{"SLACK_BOT_TOKEN is required", "SLACK_APP_TOKEN is required", "LOCKBOT_APPROVAL_CHANNEL is required", "LOCKBOT_APPROVERS or LOCKBOT_APPROVER_GROUP is required", "KANDJI_API_URL is required", "KANDJI_API_TOKEN is required"}},
		{"swapped tokens", map[string]string{"SLACK_BOT_TOKEN": "xapp-1", "SLACK_APP_TOKEN": "xoxb-1"},
			[]string{`SLACK_BOT_TOKEN must start with "xoxb-"`, `SLACK_APP_TOKEN must start with "xapp-"`}},
		{"channel name instead of ID", map[string]string{"LOCKBOT_APPROVAL_CHANNEL": "#it-approvals", "LOCKBOT_NOTIFY_CHANNEL": "alerts"},
			[]string{"LOCKBOT_APPROVAL_CHANNEL \"#it-approvals\" is not a channel ID", "LOCKBOT_NOTIFY_CHANNEL \"alerts\" is not a channel ID"}},
		{"bad IDs", map[string]string{"LOCKBOT_APPROVERS": "dave,U0ERIN01", "LOCKBOT_APPROVER_GROUP": "approvers", "LOCKBOT_REQUESTERS": "@alice", "LOCKBOT_REQUESTER_GROUP": "U123"},
			[]string{`LOCKBOT_APPROVERS: "dave"`, `LOCKBOT_APPROVER_GROUP "approvers"`, `LOCKBOT_REQUESTERS: "@alice"`, `LOCKBOT_REQUESTER_GROUP "U123"`}},
		{"quorum out of reach", map[string]string{"LOCKBOT_REQUIRED_APPROVALS": "3"}, []string{"can never be reached with 2 approvers"}},
		{"malformed numbers and durations", map[string]string{"LOCKBOT_REQUIRED_APPROVALS": "two", "LOCKBOT_APPROVAL_TTL": "soon", "KANDJI_RATE_LIMIT": "lots", "LOCKBOT_DRY_RUN": "maybe"},
			[]string{"LOCKBOT_REQUIRED_APPROVALS", "LOCKBOT_APPROVAL_TTL", "KANDJI_RATE_LIMIT", "LOCKBOT_DRY_RUN"}},
		{"nonsense values", map[string]string{"LOCKBOT_APPROVAL_TTL": "-10s", "KANDJI_RATE_LIMIT": "0", "LOCKBOT_CATCHUP_INTERVAL": "-1s", "LOCKBOT_CATCHUP_LOOKBACK": "-1h", "LOCKBOT_REQUIRED_APPROVALS": "0"},
			[]string{"LOCKBOT_APPROVAL_TTL must be a positive duration", "KANDJI_RATE_LIMIT must be at least 1", "LOCKBOT_CATCHUP_INTERVAL must be 0 (off) or a positive", "LOCKBOT_CATCHUP_LOOKBACK must not be negative", "LOCKBOT_REQUIRED_APPROVALS must be at least 1"}},
		{"plain http off loopback", map[string]string{"KANDJI_API_URL": "http://acme.api.kandji.io", "SLACK_API_URL": "http://10.0.0.5/api/", "OKTA_ORG_URL": "http://corp.okta.com", "OKTA_API_TOKEN": "x"},
			[]string{"KANDJI_API_URL \"http://acme.api.kandji.io\" uses plain http", "SLACK_API_URL", "OKTA_ORG_URL"}},
		{"not a URL", map[string]string{"KANDJI_API_URL": "https://"}, []string{"not an absolute URL"}},
		{"okta half configured", map[string]string{"OKTA_ORG_URL": "https://corp.okta.com"}, []string{"OKTA_ORG_URL and OKTA_API_TOKEN go together"}},
		{"event types", map[string]string{"LOCKBOT_AUTO_LOCK_EVENTS": "user.lifecycle.suspend,user.session.start", "LOCKBOT_APPROVE_EVENTS": "user.lifecycle.suspend"},
			[]string{`"user.session.start" is not an Okta event type`, "in both LOCKBOT_AUTO_LOCK_EVENTS and LOCKBOT_APPROVE_EVENTS"}},
		{"database URL not postgres", map[string]string{"LOCKBOT_DATABASE_URL": "mysql://lockbot:hunter2@db/lockbot"}, []string{"LOCKBOT_DATABASE_URL must be a postgres:// URL"}},
		{"database URL without host", map[string]string{"LOCKBOT_DATABASE_URL": "postgres:///lockbot"}, []string{"LOCKBOT_DATABASE_URL names no host"}},
		{"misc", map[string]string{"LOCKBOT_COMMAND": "lock", "LOCKBOT_ALLOWED_DOMAINS": "corp.com,not a domain", "LOCKBOT_LOCK_PHONE": "call me", "LISTEN_ADDR": "8080", "LOG_LEVEL": "loud", "LOG_FORMAT": "xml"},
			[]string{"LOCKBOT_COMMAND", `"not a domain"`, "LOCKBOT_LOCK_PHONE", "LISTEN_ADDR", "LOG_LEVEL", "LOG_FORMAT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := validEnv()
			for k, v := range tt.set {
				env[k] = v
			}
			_, err := loadConfig(getenvFrom(env))
			require.Error(t, err)
			var ce *configError
			require.ErrorAs(t, err, &ce)
			assert.Len(t, ce.problems, len(tt.want), "one problem per mistake:\n%s", err)
			assert.NotContains(t, err.Error(), "parse error on field", "variables are named as the operator sets them")
			assert.NotContains(t, err.Error(), "hunter2", "a database password is never echoed")
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

// TestConfigWarnsAboutUnusualValues: values a staging tenant, a fake, a
// drill or a negotiated limit needs start the bot, each with one warning
// that names its variable.
func TestConfigWarnsAboutUnusualValues(t *testing.T) {
	tests := []struct {
		name, key, value, want string
	}{
		{"rate above Kandji's documented limit", "KANDJI_RATE_LIMIT", "72000", "above Kandji's documented 10000"},
		{"approval TTL of seconds", "LOCKBOT_APPROVAL_TTL", "3s", "less than a minute"},
		{"approval TTL of weeks", "LOCKBOT_APPROVAL_TTL", "400h", "more than a week"},
		{"System Log poll every two seconds", "LOCKBOT_CATCHUP_INTERVAL", "2s", "more often than every 10s"},
		{"lookback beyond Okta's retention", "LOCKBOT_CATCHUP_LOOKBACK", "4000h", "90 days"},
		{"a quorum of eleven", "LOCKBOT_REQUIRED_APPROVALS", "11", "more than 10 approvers"},
		{"the bare host Kandji's settings show", "KANDJI_API_URL", "acme.api.kandji.io", "https:// was added"},
		{"a lock deadline of minutes", "LOCKBOT_LOCK_DEADLINE", "2m", "gives up on a lock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := validEnv()
			env["LOCKBOT_APPROVER_GROUP"] = "S0APPROVERS" // so any quorum can be reached
			env[tt.key] = tt.value
			cfg, err := loadConfig(getenvFrom(env))
			require.NoError(t, err, "a well-formed value never stops start-up")
			warnings := cfg.advise()
			require.Len(t, warnings, 1, "one warning for one unusual value: %q", warnings)
			assert.True(t, strings.HasPrefix(warnings[0], tt.key+"="), "the warning names its variable: %q", warnings[0])
			assert.Contains(t, warnings[0], tt.want)
			if tt.key == "KANDJI_API_URL" {
				assert.Equal(t, "https://acme.api.kandji.io", cfg.KandjiAPIURL)
			}
		})
	}
	t.Run("defaults draw no warning", func(t *testing.T) {
		cfg, err := loadConfig(getenvFrom(validEnv()))
		require.NoError(t, err)
		assert.Empty(t, cfg.advise())
	})
}

func TestConfigAcceptsLoopbackHTTPAndExtras(t *testing.T) {
	env := validEnv()
	for k, v := range map[string]string{
		"SLACK_API_URL": "http://127.0.0.1:9999/api", "KANDJI_API_URL": "http://localhost:8081",
		"OKTA_ORG_URL": "http://[::1]:8082", "OKTA_API_TOKEN": "00abc", "LOCKBOT_ALLOWED_DOMAINS": "Corp.com, @example.org",
		"LOCKBOT_APPROVE_EVENTS": "user.risk.detect", "LOCKBOT_DRY_RUN": "true", "LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG",
	} {
		env[k] = v
	}
	cfg, err := loadConfig(getenvFrom(env))
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:9999/api/", cfg.SlackAPIURL, "a trailing slash is added: slack-go needs it")
	assert.Equal(t, []string{"corp.com", "example.org"}, cfg.AllowedDomains)
	assert.True(t, cfg.DryRun)
}

func TestSecretsNeverPrint(t *testing.T) {
	cfg, err := loadConfig(getenvFrom(validEnv()))
	require.NoError(t, err)
	var logs strings.Builder
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", cfg, "token", cfg.KandjiAPIToken)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "token", cfg.SlackBotToken)
	out := fmt.Sprintf("%v %+v %#v %s %q", cfg, cfg, cfg, cfg.SlackAppToken, cfg.SlackBotToken) + logs.String()
	for _, secret := range []string{"xoxb-123-456-abc", "xapp-1-A1-2-def", "11111111-2222-3333-4444-555555555555"} {
		assert.NotContains(t, out, secret)
	}
	assert.Contains(t, out, "(redacted)")
}

// FuzzLoadConfig feeds arbitrary values to every variable: loading never
// panics, and a rejected value that is a secret is never echoed.
func FuzzLoadConfig(f *testing.F) {
	f.Add("xoxb-1", "C0APPROVAL", "30m", "https://acme.api.kandji.io", "1")
	f.Add("", "#general", "soon", "http://10.0.0.1", "two")
	f.Add("xoxp-\x00\n", "C", "-1h", "acme.api.kandji.io", "99999999999999999999")
	f.Fuzz(func(t *testing.T, token, channel, ttl, kandjiURL, num string) {
		env := validEnv()
		env["SLACK_BOT_TOKEN"] = token
		env["KANDJI_API_TOKEN"] = "secret-" + token
		env["LOCKBOT_APPROVAL_CHANNEL"] = channel
		env["LOCKBOT_APPROVAL_TTL"] = ttl
		env["KANDJI_API_URL"] = kandjiURL
		env["LOCKBOT_REQUIRED_APPROVALS"] = num
		env["KANDJI_RATE_LIMIT"] = num
		_, err := loadConfig(getenvFrom(env))
		if err != nil && len(token) > 3 && strings.Contains(err.Error(), "secret-"+token) {
			t.Fatalf("a secret reached the error: %v", err)
		}
	})
}
