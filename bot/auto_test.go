package bot

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/bot/cards"
	"github.com/lockbot/lockbot/bot/slackfake"
	"github.com/lockbot/lockbot/okta"
)

// settled waits until every trigger is handled, every lock job is over and
// every post shows what the store says. The limit is a hang guard, not a
// speed requirement: a burst under -race on a loaded machine is slow.
func (h *harness) settled() {
	h.t.Helper()
	h.settledWithin(hang)
}

// settledWithin is settled with a hang guard of its own.
func (h *harness) settledWithin(limit time.Duration) {
	h.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		why, err := h.unsettled()
		if err == nil && why == "" {
			return
		}
		if err != nil {
			why = "the store: " + err.Error()
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("not settled after %v: %s", limit, why)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// unsettled says what is still under way, or "" when nothing is.
func (h *harness) unsettled() (string, error) {
	var why string
	err := h.store.View(context.Background(), func(tx approvals.Tx) error {
		for _, id := range h.events {
			t, err := tx.Trigger("okta:" + id)
			if err != nil || !t.Handled {
				why = "event " + id + " not handled"
				return nil
			}
		}
		live, err := tx.Locks(approvals.LockQuery{Live: true, Limit: 1})
		if err != nil {
			return err
		}
		if len(live) > 0 {
			why = fmt.Sprintf("lock %s of %s is %s (%s)", live[0].ID, live[0].Person.Email, live[0].State, live[0].LastError)
			return nil
		}
		due, err := tx.Posts(approvals.PostQuery{Due: time.Now().Add(time.Hour)})
		if err != nil {
			return err
		}
		if len(due) > 0 {
			why = fmt.Sprintf("post %s due (rev %d, shown %d, %s)", due[0].Key, due[0].Rev, due[0].PostedRev, due[0].LastError)
		}
		return nil
	})
	return why, err
}

func TestAutoLockReportAndReveal(t *testing.T) {
	h := newHarness(t)
	h.deliver(suspend("ev-1", victim))

	report := h.report(victim, "Locked automatically")
	for _, want := range []string{victim, "user.lifecycle.suspend", "ada.admin@corp.com", "198.51.100.7", "C02BOBMAC1", "F17BOBPHONE", "3 of 3 devices secured"} {
		assert.Contains(t, report.AllText(), want)
	}
	buttons := report.Buttons()
	require.Len(t, buttons, 1)
	assert.Equal(t, cards.ActionRevealPINs, buttons[0].ActionID)
	assert.Equal(t, map[string]int{"dev-bob-mac": 1, "dev-bob-mini": 1, "dev-bob-phone": 1}, h.lockPosts())
	h.settled()

	// Reading PINs is not part of an automatic lock: it costs budget, and
	// nobody asked yet.
	for _, r := range h.kandji.Requests() {
		assert.NotContains(t, r.Path, "unlockpin")
	}

	h.click(carol, report, cards.ActionRevealPINs)
	h.waitFor(kind(slackfake.KindEphemeral), to(carol), says("Only approvers"))

	h.click(erin, report, cards.ActionRevealPINs)
	h.waitFor(kind(slackfake.KindEphemeral), to(erin), says("come to you by DM"))
	dm := h.waitFor(kind(slackfake.KindPost), in(h.slack.DMChannel(erin)), says("Unlock PINs"))
	assert.Contains(t, dm.AllText(), h.kandji.PIN("dev-bob-mac"))
	assert.Contains(t, dm.AllText(), h.kandji.PIN("dev-bob-mini"))
	h.waitFor(kind(slackfake.KindUpdate), ts(report.TS), says("sent to <@"+erin+"> by DM"))
	h.assertPINsOnlyInDMs(erin)

	var auto, reveals int
	for _, r := range h.journal(approvals.Filter{}) {
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
	h.settled()
	// A third event for Bob a little later joins the same report.
	h.deliver(oktaEvent{UUID: "ev-3", Type: okta.EventSuspicious, UserID: "00ubob", Login: victim, Actor: victim})
	h.settled()

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
	h := newHarness(t, func(_ *harness, c *Config, _ *Deps) { c.Flow.CoalesceWindow = time.Nanosecond })
	h.deliver(suspend("ev-1", victim))
	h.settled()
	h.deliver(suspend("ev-1", victim)) // Okta's retry of the same delivery
	h.settled()
	h.restart()
	h.deliver(suspend("ev-1", victim)) // and once more after a restart
	h.settled()
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
	h.click(dave, card, cards.ActionApprove)
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
	h.settled()
	assert.Empty(t, h.lockPosts())
}

func TestAutoLockPersonWithoutDevices(t *testing.T) {
	h := newHarness(t)
	h.deliver(suspend("ev-1", "nobody@corp.com"))
	report := h.report("nobody@corp.com", "No device is assigned")
	assert.Empty(t, report.Buttons(), "no PINs to reveal")
	h.settled()
}

func TestAutoLockSurvivesKandjiFailures(t *testing.T) {
	h := newHarness(t)
	h.kandji.SetFailureRate(0.3, 500)
	h.deliver(suspend("ev-1", victim))
	report := h.report(victim, "Locked automatically")
	assert.Contains(t, report.AllText(), "3 of 3 devices secured")
	for _, id := range bobDevices {
		assert.True(t, h.kandji.Locked(id), id)
	}
}

func TestAutoLockDryRun(t *testing.T) {
	h := newHarness(t, func(_ *harness, c *Config, _ *Deps) { c.DryRun = true })
	h.deliver(suspend("ev-1", victim))
	report := h.report(victim, "not locked (dry run)")
	assert.Contains(t, report.AllText(), "DRY RUN")
	assert.Empty(t, report.Buttons())
	assert.Empty(t, h.lockPosts())
}

// TestReportPostedOnceSlackRecovers: Slack fails the automatic report for
// a while, then recovers. The report is posted then, with no restart, and
// its retries never send a lock again. (It used to wait for a restart,
// which then sent every lock again.)
func TestReportPostedOnceSlackRecovers(t *testing.T) {
	h := newHarness(t)
	h.slack.FailNext("chat.postMessage", 4, "service_unavailable")
	h.deliver(suspend("ev-1", victim))
	report := h.report(victim, "Locked automatically")
	assert.Contains(t, report.AllText(), "3 of 3 devices secured")
	failed := 0
	for _, c := range h.slack.Calls() {
		if c.Method == "chat.postMessage" && c.Error == "service_unavailable" {
			failed++
		}
	}
	assert.Equal(t, 4, failed, "Slack refused the report four times first")
	h.settled()
	assert.Equal(t, map[string]int{"dev-bob-mac": 1, "dev-bob-mini": 1, "dev-bob-phone": 1}, h.lockPosts(), "a report retry never locks again")
}

// TestReportWaitsOutAChannelItCannotPostIn: a report Slack refuses for
// good (the bot is not in the channel) is not dropped and does not hold
// back the next person's lock; it is posted once someone invites the bot.
func TestReportWaitsOutAChannelItCannotPostIn(t *testing.T) {
	h := newHarness(t)
	h.slack.SetBotMember(notifyCh, false)
	h.deliver(suspend("ev-1", victim))
	require.Eventually(t, func() bool {
		for _, id := range bobDevices {
			if !h.kandji.Locked(id) {
				return false
			}
		}
		return true
	}, hang, 5*time.Millisecond, "the lock itself goes through")
	require.Eventually(t, func() bool { return strings.Contains(h.logs.String(), "invite it with /invite @lockbot") }, hang, 5*time.Millisecond)
	h.slack.SetBotMember(notifyCh, true)
	h.report(victim, "Locked automatically")
	assert.Equal(t, map[string]int{"dev-bob-mac": 1, "dev-bob-mini": 1, "dev-bob-phone": 1}, h.lockPosts())
}

func TestShutdownFinishesInFlightLock(t *testing.T) {
	h := newHarness(t)
	h.kandji.SetLatency(150 * time.Millisecond)
	h.command(alice, "bob@corp.com")
	card := h.card(victim)
	h.click(dave, card, cards.ActionApprove)
	// Stop as soon as the lock has reached Kandji.
	require.Eventually(t, func() bool { return h.kandji.LockPosts("dev-bob-mac") > 0 }, hang, time.Millisecond)
	h.stop()
	for _, id := range bobDevices {
		assert.True(t, h.kandji.Locked(id), "%s: an approved lock finishes during shutdown", id)
	}
	// The card catches up at the next start if the stop came first.
	h.start()
	h.waitFor(kind(slackfake.KindUpdate), ts(card.TS), says("Done"))
}
