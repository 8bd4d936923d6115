package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// outage stands between lockbot and a service: while down it cuts every
// connection without an answer, as a network that is not there yet does;
// once up it passes everything through.
type outage struct {
	srv   *httptest.Server
	up    atomic.Bool
	drops atomic.Int32
}

func newOutage(t *testing.T, target string) *outage {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host})
	o := &outage{}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.up.Load() {
			proxy.ServeHTTP(w, r)
			return
		}
		o.drops.Add(1)
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			if tcp, ok := conn.(*net.TCPConn); ok {
				_ = tcp.SetLinger(0) // a reset, not a clean close
			}
			_ = conn.Close()
		}
	}))
	t.Cleanup(o.srv.Close)
	return o
}

// url is the outage's address with target's path, so it stands in for it.
func (o *outage) url(target string) string {
	u, _ := url.Parse(target)
	return o.srv.URL + u.Path
}

// logLines decodes the JSON log lines written so far.
func logLines(logs *syncBuffer) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// TestServeWaitsForUnreachableSlack: a Slack that cannot be reached at
// start-up (the network or a proxy is not up yet) is waited for, with each
// attempt logged and /readyz saying why it is not ready; once Slack
// answers, the bot connects without a restart.
func TestServeWaitsForUnreachableSlack(t *testing.T) {
	w := newWorld(t)
	front := newOutage(t, w.slack.APIURL())
	w.env["SLACK_API_URL"] = front.url(w.slack.APIURL())
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var logs syncBuffer
	code := make(chan int, 1)
	go func() { code <- run(ctx, nil, w.getenv, &logs, &logs) }()
	base := listenAddr(t, &logs)

	require.Eventually(t, func() bool { return front.drops.Load() >= 2 }, 15*time.Second, 5*time.Millisecond, "retries auth.test")
	status, body := get(t, base+"/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Contains(t, body, "could not be reached")
	assert.Contains(t, body, strings.TrimPrefix(front.srv.URL, "http://"), "names the host")
	select {
	case c := <-code:
		t.Fatalf("serve exited with %d while Slack was unreachable:\n%s", c, logs.String())
	default:
	}

	front.up.Store(true)
	wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
	defer wcancel()
	require.NoError(t, w.slack.WaitConnected(wctx), logs.String())
	require.Eventually(t, func() bool { s, _ := get(t, base+"/readyz"); return s == http.StatusOK }, 10*time.Second, 5*time.Millisecond)

	retries := 0
	for _, l := range logLines(&logs) {
		if l["msg"] == "Slack could not be reached; retrying" {
			retries++
			assert.Contains(t, l["host"], strings.TrimPrefix(front.srv.URL, "http://"))
		}
		assert.NotContains(t, l["msg"], "refused", "a network failure is never reported as a refused token")
	}
	assert.GreaterOrEqual(t, retries, 1, "each attempt is logged")
	cancel()
	assert.Equal(t, exitOK, <-code, logs.String())
}

// TestServeStopsWhenSlackRefusesTheToken: a definite refusal is not waited
// out; it stops start-up naming the variable to fix, never the token.
func TestServeStopsWhenSlackRefusesTheToken(t *testing.T) {
	w := newWorld(t)
	w.env["SLACK_BOT_TOKEN"] = "xoxb-revoked-0000"
	var logs syncBuffer
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	assert.Equal(t, exitFailed, run(ctx, nil, w.getenv, &logs, &logs))
	assert.Contains(t, logs.String(), "Slack refused SLACK_BOT_TOKEN (invalid_auth)")
	assert.NotContains(t, logs.String(), "xoxb-revoked-0000")
	assert.NoError(t, ctx.Err(), "stopped at once, not after waiting")
}

// TestServeAcceptsUnusualValues: values a drill, a fake or a negotiated
// limit needs start the bot, each logged once as a warning naming it.
func TestServeAcceptsUnusualValues(t *testing.T) {
	w := newWorld(t)
	w.env["KANDJI_RATE_LIMIT"] = "72000"
	w.env["LOCKBOT_CATCHUP_INTERVAL"] = "2s"
	w.env["LOCKBOT_APPROVAL_TTL"] = "3s"
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var logs syncBuffer
	code := make(chan int, 1)
	go func() { code <- run(ctx, nil, w.getenv, &logs, &logs) }()
	base := listenAddr(t, &logs)
	require.Eventually(t, func() bool { s, _ := get(t, base+"/readyz"); return s == http.StatusOK }, 15*time.Second, 5*time.Millisecond, logs.String())

	warned := map[string]int{}
	for _, l := range logLines(&logs) {
		if l["level"] == "WARN" {
			if v, ok := l["variable"].(string); ok {
				warned[v]++
			}
		}
	}
	assert.Equal(t, map[string]int{"KANDJI_RATE_LIMIT": 1, "LOCKBOT_CATCHUP_INTERVAL": 1, "LOCKBOT_APPROVAL_TTL": 1}, warned)
	cancel()
	assert.Equal(t, exitOK, <-code, logs.String())

	var out strings.Builder
	assert.Equal(t, exitOK, run(t.Context(), []string{"check"}, w.getenv, &out, &out), out.String())
	for _, v := range []string{"KANDJI_RATE_LIMIT=72000", "LOCKBOT_CATCHUP_INTERVAL=2s", "LOCKBOT_APPROVAL_TTL=3s"} {
		assert.Contains(t, out.String(), "! configuration: "+v)
	}
}

// TestCheckTellsUnreachableFromRefused: when Slack and Kandji do not
// answer, check says so with the host and the network fix, and never
// advises resetting a token that was never refused.
func TestCheckTellsUnreachableFromRefused(t *testing.T) {
	w := newWorld(t)
	slackFront := newOutage(t, w.slack.APIURL())
	kandjiFront := newOutage(t, w.tenant.URL())
	w.env["SLACK_API_URL"] = slackFront.url(w.slack.APIURL())
	w.env["KANDJI_API_URL"] = kandjiFront.srv.URL
	var out strings.Builder
	assert.Equal(t, exitFailed, run(t.Context(), []string{"check"}, w.getenv, &out, &out))
	text := out.String()
	assert.Contains(t, text, "✗ Slack bot token (auth.test): Slack could not be reached at "+strings.TrimPrefix(slackFront.srv.URL, "http://"))
	assert.Contains(t, text, "✗ Kandji token lists devices: Kandji could not be reached at "+strings.TrimPrefix(kandjiFront.srv.URL, "http://"))
	assert.NotContains(t, text, "refused")
	assert.NotContains(t, text, "give the token")

	t.Run("refused", func(t *testing.T) {
		w := newWorld(t)
		w.env["SLACK_BOT_TOKEN"] = "xoxb-revoked-0000"
		var out strings.Builder
		assert.Equal(t, exitFailed, run(t.Context(), []string{"check"}, w.getenv, &out, &out))
		assert.Contains(t, out.String(), "✗ Slack bot token (auth.test): Slack refused SLACK_BOT_TOKEN (invalid_auth)")
		assert.Contains(t, out.String(), "fix: set SLACK_BOT_TOKEN")
	})
}
