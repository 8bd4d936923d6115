package bot

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/bot/slackfake"
	"github.com/lockbot/lockbot/okta"
)

// waitInboxEmpty waits until every admitted event was marked done.
func (h *harness) waitInboxEmpty() {
	h.t.Helper()
	require.Eventually(h.t, func() bool { return h.inbox.Len() == 0 }, 10*time.Second, 5*time.Millisecond, "events still pending: %d", h.inbox.Len())
}

func TestAutoLockReportAndReveal(t *testing.T) {
	h := newHarness(t)
	h.deliver(suspend("ev-1", victim))

	report := h.waitFor(kind(slackfake.KindPost), in(notifyCh), says("Locked automatically"))
	for _, want := range []string{victim, "user.lifecycle.suspend", "ada.admin@corp.com", "198.51.100.7", "C02BOBMAC1", "F17BOBPHONE", "3 of 3 devices secured"} {
		assert.Contains(t, report.AllText(), want)
	}
	buttons := report.Buttons()
	require.Len(t, buttons, 1)
	assert.Equal(t, actionRevealPINs, buttons[0].ActionID)
	assert.Equal(t, map[string]int{"dev-bob-mac": 1, "dev-bob-mini": 1, "dev-bob-phone": 1}, h.lockPosts())
	h.waitInboxEmpty()

	// Reading PINs is not part of an automatic lock: it costs budget, and
	// nobody asked yet.
	for _, r := range h.kandji.Requests() {
		assert.NotContains(t, r.Path, "unlockpin")
	}

	h.click(carol, report, actionRevealPINs)
	h.waitFor(kind(slackfake.KindEphemeral), to(carol), says("Only approvers"))

	h.click(erin, report, actionRevealPINs)
	dm := h.waitFor(kind(slackfake.KindPost), in(h.slack.DMChannel(erin)), says("Unlock PINs"))
	assert.Contains(t, dm.AllText(), h.kandji.PIN("dev-bob-mac"))
	assert.Contains(t, dm.AllText(), h.kandji.PIN("dev-bob-mini"))
	note := h.waitFor(kind(slackfake.KindPost), in(notifyCh), says("sent to <@"+erin+"> by DM"))
	assert.Equal(t, report.TS, note.ThreadTS, "the reveal is noted in the report's thread")
	h.waitFor(kind(slackfake.KindEphemeral), to(erin), says("Sent you 2 unlock PINs"))
	h.assertPINsOnlyInDMs(erin)

	var auto, reveals int
	for _, r := range h.journalRecords() {
		switch r.Kind {
		case approvals.KindAutoLock:
			auto++
		case approvals.KindPINRevealed:
			reveals++
			assert.Equal(t, erin, r.Actor)
		}
	}
	assert.Equal(t, 1, auto)
	assert.Equal(t, 1, reveals)
}

func TestAutoLockCoalescesEventsForOnePerson(t *testing.T) {
	h := newHarness(t)
	deactivate := suspend("ev-2", "Bob@Corp.com")
	deactivate.Type = okta.EventDeactivate
	h.deliver(suspend("ev-1", victim), deactivate)
	h.waitInboxEmpty()
	// A third event for Bob a little later joins the same report.
	h.deliver(oktaEvent{UUID: "ev-3", Type: okta.EventSuspicious, UserID: "00ubob", Login: victim, Actor: victim})
	h.waitInboxEmpty()

	h.stop()
	var reports []slackfake.Message
	for _, m := range h.slack.Messages() {
		if m.Kind == slackfake.KindPost && m.Channel == notifyCh {
			reports = append(reports, m)
		}
	}
	require.Len(t, reports, 1, "one report for three events")
	final, ok := h.slack.Current(reports[0].Channel, reports[0].TS)
	require.True(t, ok)
	for _, ev := range []string{okta.EventSuspend, okta.EventDeactivate, okta.EventSuspicious} {
		assert.Contains(t, final.AllText(), ev, "every trigger is listed")
	}
	assert.Equal(t, map[string]int{"dev-bob-mac": 1, "dev-bob-mini": 1, "dev-bob-phone": 1}, h.lockPosts(), "one lock")
}

func TestAutoLockDuplicateDeliveryLocksOnce(t *testing.T) {
	h := newHarness(t, func(_ *harness, c *Config, _ *Deps) { c.CoalesceWindow = time.Nanosecond })
	h.deliver(suspend("ev-1", victim))
	h.waitInboxEmpty()
	h.deliver(suspend("ev-1", victim)) // Okta's retry of the same delivery
	h.waitInboxEmpty()
	h.stop()
	assert.Equal(t, map[string]int{"dev-bob-mac": 1, "dev-bob-mini": 1, "dev-bob-phone": 1}, h.lockPosts())
}

func TestApproveEventOpensRequest(t *testing.T) {
	h := newHarness(t)
	ev := suspend("ev-risk", victim)
	ev.Type = okta.EventRiskDetect
	h.deliver(ev)
	card := h.card(victim)
	assert.Contains(t, card.AllText(), "Okta event `user.risk.detect`")
	assert.Empty(t, h.lockPosts(), "nothing is locked before approval")
	h.click(dave, card, actionApprove)
	h.waitFor(kind(slackfake.KindUpdate), ts(card.TS), says("Done"))
	assert.Len(t, h.lockPosts(), 3)
}

func TestIgnoredAndUnmappableEvents(t *testing.T) {
	h := newHarness(t, func(_ *harness, c *Config, _ *Deps) { c.AllowedDomains = []string{"corp.com"} })
	h.deliver(
		oktaEvent{UUID: "ev-a", Type: okta.EventSuspend, UserID: "00unomail", Login: "bob", Actor: "admin"},
		oktaEvent{UUID: "ev-b", Type: okta.EventSuspend, UserID: "00uother", Login: "mallory@elsewhere.example", Actor: "admin"},
	)
	h.waitFor(in(notifyCh), says("could not be matched to an email"))
	h.waitFor(in(notifyCh), says("domain is not in LOCKBOT_ALLOWED_DOMAINS"))
	h.waitInboxEmpty()
	assert.Empty(t, h.lockPosts())
}

func TestAutoLockPersonWithoutDevices(t *testing.T) {
	h := newHarness(t)
	h.deliver(suspend("ev-1", "nobody@corp.com"))
	report := h.waitFor(in(notifyCh), says("No device is assigned"))
	assert.Empty(t, report.Buttons(), "no PINs to reveal")
	h.waitInboxEmpty()
}

func TestAutoLockSurvivesKandjiFailures(t *testing.T) {
	h := newHarness(t)
	h.kandji.SetFailureRate(0.3, 500)
	h.deliver(suspend("ev-1", victim))
	report := h.waitFor(in(notifyCh), says("Locked automatically"))
	assert.Contains(t, report.AllText(), "3 of 3 devices secured")
	for _, id := range bobDevices {
		assert.True(t, h.kandji.Locked(id), id)
	}
}

func TestAutoLockDryRun(t *testing.T) {
	h := newHarness(t, func(_ *harness, c *Config, _ *Deps) { c.DryRun = true })
	h.deliver(suspend("ev-1", victim))
	report := h.waitFor(in(notifyCh), says("DRY RUN"))
	assert.Contains(t, report.AllText(), "not locked (dry run)")
	assert.Empty(t, report.Buttons())
	assert.Empty(t, h.lockPosts())
}

// A report Slack refused leaves its event pending for the next start, and
// does not hold back the next event for the same person.
func TestAutoLockAfterARefusedReport(t *testing.T) {
	h := newHarness(t)
	h.slack.FailNext("chat.postMessage", 1, "not_in_channel")
	h.deliver(suspend("ev-1", victim))
	require.Eventually(t, func() bool { return strings.Contains(h.logs.String(), "could not post an automatic lock report") }, 10*time.Second, 5*time.Millisecond)
	for _, id := range bobDevices {
		assert.True(t, h.kandji.Locked(id), "%s: the lock itself went through", id)
	}

	h.deliver(suspend("ev-2", victim))
	report := h.waitFor(kind(slackfake.KindPost), in(notifyCh), says("Locked automatically: "+victim))
	assert.Contains(t, report.AllText(), "already locked", "the second event locks afresh and finds the devices locked")
	require.Eventually(t, func() bool { return h.inbox.Len() == 1 }, 10*time.Second, 5*time.Millisecond, "ev-2 is done, ev-1 waits for a restart")

	h.restart()
	h.waitInboxEmpty()
	reports := 0
	for _, m := range h.slack.Messages() {
		if m.Kind == slackfake.KindPost && m.Channel == notifyCh && strings.Contains(m.AllText(), "Locked automatically: "+victim) {
			reports++
		}
	}
	assert.Equal(t, 2, reports, "after the restart ev-1 is reported too")
}
