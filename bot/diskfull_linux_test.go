package bot

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals/sqlite/sqlitetest"
	"github.com/lockbot/lockbot/bot/slackfake"
)

// TestFullDiskDelaysALockButLosesNothing: the disk fills after the hook
// answered 200 and frees up later. The lock is only delayed: it resumes by
// itself once writes succeed again, with no restart, and is reported.
// While the store cannot be written, a new delivery answers 503 so Okta
// sends it again. (It used to say "will be retried after a restart", leave
// the person unlocked and journal a lock that never ran.)
func TestFullDiskDelaysALockButLosesNothing(t *testing.T) {
	disk, state := sqlitetest.SmallDisk(t, 8<<20)
	h := newHarness(t, func(h *harness, _ *Config, _ *Deps) { h.dir = state })
	h.kandji.SetLatency(300 * time.Millisecond) // the disk fills while the lookup is under way
	h.deliver(suspend("ev-1", victim))
	require.Eventually(t, func() bool {
		for _, r := range h.kandji.Requests() {
			if r.Path == "/api/v1/devices" {
				return true
			}
		}
		return false
	}, hang, time.Millisecond, "the lock started its lookup")
	free := sqlitetest.Fill(t, disk)
	require.Eventually(t, func() bool { return strings.Contains(h.logs.String(), "full") }, 30*time.Second, 10*time.Millisecond,
		"the store never met the full disk")
	assert.Equal(t, http.StatusServiceUnavailable, h.post(suspend("ev-2", "erin@corp.com")), "a delivery that cannot be stored is refused, so Okta retries it")

	// Hold the disk full until the lock itself has met it.
	require.Eventually(t, func() bool {
		for _, l := range strings.Split(h.logs.String(), "\n") {
			if strings.Contains(l, "task failed; it will be tried again") && strings.Contains(l, `"kind":"lock"`) && strings.Contains(l, "full") {
				return true
			}
		}
		return false
	}, 30*time.Second, 10*time.Millisecond, "the lock never met the full disk")
	free()
	h.kandji.SetLatency(0)
	report := h.report(victim, "Locked automatically")
	assert.Contains(t, report.AllText(), "3 of 3 devices secured")
	posts := 0
	for _, m := range h.slack.Messages() {
		if m.Kind == slackfake.KindPost && m.Channel == notifyCh && strings.Contains(m.AllText(), victim) {
			posts++
		}
	}
	assert.Equal(t, 1, posts, "one report, edited as the lock went on: a write that could not be recorded is not posted again")
	for _, id := range bobDevices {
		assert.True(t, h.kandji.Locked(id), id)
	}
	assert.Equal(t, http.StatusOK, h.post(suspend("ev-2", "erin@corp.com")), "and accepted once there is room again")
}

// TestFullDiskAfterAPostPostsItOnce: Slack posted the report, but the disk
// filled before lockbot could record the message's ts. Posting on would
// post it again and again (each time unrecorded); the channel waits
// instead, and once there is room the one message is recorded and edited.
func TestFullDiskAfterAPostPostsItOnce(t *testing.T) {
	disk, state := sqlitetest.SmallDisk(t, 8<<20)
	h := newHarness(t, func(h *harness, _ *Config, _ *Deps) { h.dir = state })
	hold := h.slack.HoldReply("chat.postMessage")
	h.deliver(suspend("ev-1", victim))
	select {
	case <-hold.Arrived():
	case <-h.ctx().Done():
		t.Fatal("the report was never posted")
	}
	free := sqlitetest.Fill(t, disk)
	hold.Release()
	require.Eventually(t, func() bool { return strings.Contains(h.logs.String(), "could not record a Slack write") },
		hang, 5*time.Millisecond, "the writer met the full disk")
	time.Sleep(200 * time.Millisecond) // several writer polls: none may post again
	free()
	h.settled()
	posts := 0
	for _, m := range h.slack.Messages() {
		if m.Kind == slackfake.KindPost && m.Channel == notifyCh && strings.Contains(m.AllText(), victim) {
			posts++
		}
	}
	assert.Equal(t, 1, posts, "the report was posted once:\n%s", h.dump())
	assert.Contains(t, h.report(victim, "Locked automatically").AllText(), "3 of 3 devices secured")
}
