package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/bot/slackfake"
	"github.com/lockbot/lockbot/kandji/kandjitest"
	"github.com/lockbot/lockbot/okta"
	"github.com/lockbot/lockbot/okta/oktatest"
)

const oktaToken = "00oktaTestToken-never-printed"

// newFakeOkta is an Okta org whose System Log holds one suspend event that
// no hook delivered (lockbot was down). It returns the org and a count of
// the System Log polls.
func newFakeOkta(t *testing.T) (*oktatest.Server, func() int) {
	t.Helper()
	org := oktatest.NewServer(oktatest.WithToken(oktaToken))
	t.Cleanup(org.Close)
	sam := org.AddUser(oktatest.User{ID: "00usam0000000001", Login: "sam@acme.example", Email: "sam@acme.example",
		FirstName: "Sam", LastName: "Smith", Status: oktatest.StatusSuspended})
	require.NoError(t, org.SetTokenOwner(sam.ID))
	org.Log(oktatest.Event{UUID: "c0000000-0000-11ee-8000-00000000cafe", Type: okta.EventSuspend,
		Published: time.Now().Add(-10 * time.Minute), Message: "Suspend Okta user", Target: sam, ClientIP: "203.0.113.9"})
	return org, func() int { return len(org.RequestsTo("/api/v1/logs")) }
}

// TestServeRecoversMissedOktaEvents: an event Okta never delivered (the
// bot was down) is found in the System Log at start-up and locked.
func TestServeRecoversMissedOktaEvents(t *testing.T) {
	w := newWorld(t)
	w.tenant.AddDevices(kandjitest.Device{ID: "sam-mac", Name: "Sam's Mac", Platform: "Mac", Serial: "C02SAM00001", UserEmail: "sam@acme.example"})
	org, polls := newFakeOkta(t)
	w.env["OKTA_ORG_URL"] = org.URL()
	w.env["OKTA_API_TOKEN"] = oktaToken

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stderr syncBuffer
	code := make(chan int, 1)
	go func() { code <- run(ctx, nil, w.getenv, &stderr, &stderr) }()
	base := listenAddr(t, &stderr)

	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	report, err := w.slack.WaitMessage(wctx, func(m slackfake.Message) bool {
		return m.Channel == alerts && strings.Contains(m.AllText(), "sam@acme.example") && strings.Contains(m.AllText(), "Locked automatically")
	})
	require.NoError(t, err, "the missed event was not recovered:\n%s", stderr.String())
	assert.Contains(t, report.AllText(), "C02SAM00001")
	assert.Contains(t, report.AllText(), "recovered from the System Log")
	require.Eventually(t, func() bool { return w.tenant.Locked("sam-mac") }, 10*time.Second, 10*time.Millisecond)
	assert.GreaterOrEqual(t, polls(), 1)

	_, metrics := get(t, base+"/metrics")
	assert.Contains(t, metrics, "lockbot_catchup_recovered_total 1")
	assert.Contains(t, metrics, "lockbot_catchup_errors_total 0")

	cancel()
	require.Equal(t, exitOK, <-code, stderr.String())
	assert.NotContains(t, stderr.String(), oktaToken)
	assert.Equal(t, 1, w.tenant.LockPosts("sam-mac"))

	// A restart does not lock again: the event is remembered, and the
	// catch-up resumes from its stored cursor.
	before := polls()
	ctx2, cancel2 := context.WithCancel(t.Context())
	var again syncBuffer
	go func() { code <- run(ctx2, nil, w.getenv, &again, &again) }()
	listenAddr(t, &again)
	require.Eventually(t, func() bool { return polls() > before }, 10*time.Second, 10*time.Millisecond, "the restart polls the System Log")
	cancel2()
	require.Equal(t, exitOK, <-code, again.String())
	assert.Equal(t, 1, w.tenant.LockPosts("sam-mac"), "a restart never re-locks a handled event")
	for _, r := range org.RequestsTo("/api/v1/logs")[before:] {
		assert.True(t, r.Query.Has("after"), "the restart follows the cursor instead of re-querying by time: %v", r.Query)
	}

	var checkOut strings.Builder
	assert.Equal(t, exitOK, run(t.Context(), []string{"check"}, w.getenv, &checkOut, &checkOut), checkOut.String())
	assert.Contains(t, checkOut.String(), "✓ Okta token reads users: token belongs to sam@acme.example")
	assert.Contains(t, checkOut.String(), "✓ Okta token reads the System Log")
}
