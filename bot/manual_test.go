package bot

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/bot/cards"
	"github.com/lockbot/lockbot/bot/slackfake"
)

func TestManualLockFullFlow(t *testing.T) {
	h := newHarness(t)

	ack := h.command(alice, "bob@corp.com laptop stolen at the airport")
	assert.Contains(t, string(ack.Payload), "Looking up")

	card := h.card(victim)
	for _, want := range []string{"Bob's MacBook Pro", "C02BOBMAC1", "Bob's Mac mini", "C02BOBMINI", "Bob's iPhone", "F17BOBPHONE", "laptop stolen at the airport", "<@" + alice + ">"} {
		assert.Contains(t, card.AllText(), want)
	}
	assert.NotContains(t, card.AllText(), "C02XBOB001", "a substring match must never be listed")
	assert.NotContains(t, card.AllText(), "C02EVIL001")
	buttons := card.Buttons()
	require.Len(t, buttons, 2)
	assert.Equal(t, cards.ActionApprove, buttons[0].ActionID)
	assert.Equal(t, cards.ActionDeny, buttons[1].ActionID)
	assert.Equal(t, buttons[0].Value, buttons[1].Value, "both buttons carry the request ID")
	h.waitFor(kind(slackfake.KindResponseURL), says("waiting for approval"))

	// The requester is an approver too, and still cannot approve.
	h.click(alice, card, cards.ActionApprove)
	h.waitFor(kind(slackfake.KindEphemeral), to(alice), says("cannot approve it"))
	// Carol is a full member but not an approver.
	h.click(carol, card, cards.ActionApprove)
	h.waitFor(kind(slackfake.KindEphemeral), to(carol), says("Only approvers"))
	// A guest and a bot are refused even before the list is consulted.
	h.click(guest, card, cards.ActionApprove)
	h.waitFor(kind(slackfake.KindEphemeral), to(guest), says("Only approvers"))
	assert.Empty(t, h.lockPosts(), "refused clicks lock nothing")
	assert.Len(t, h.current(card).Buttons(), 2, "refused clicks leave the card as it was")

	h.click(dave, card, cards.ActionApprove)
	dm := h.waitFor(kind(slackfake.KindPost), in(h.slack.DMChannel(dave)), says("Unlock PINs"))
	done := h.waitFor(kind(slackfake.KindUpdate), ts(card.TS), says("Done"), says("sent to <@"+dave+"> by DM"))
	assert.Empty(t, done.Buttons(), "a decided card has no buttons")
	assert.Contains(t, done.AllText(), "3 of 3 devices secured")

	assert.Equal(t, map[string]int{"dev-bob-mac": 1, "dev-bob-mini": 1, "dev-bob-phone": 1}, h.lockPosts(), "exactly one lock per device of Bob, none elsewhere")
	msg, phone := h.kandji.LastLockRequest("dev-bob-mac")
	assert.Equal(t, "This Mac was locked by IT. Call the help desk.", msg)
	assert.Equal(t, "+1 555 0100", phone)

	// Both Mac PINs are in Dave's DM, and the iPhone is explained.
	for _, id := range []string{"dev-bob-mac", "dev-bob-mini"} {
		require.NotEmpty(t, h.kandji.PIN(id))
		assert.Contains(t, dm.AllText(), h.kandji.PIN(id))
	}
	assert.Contains(t, dm.AllText(), "own passcode")
	h.assertPINsOnlyInDMs(dave)

	kinds := map[approvals.Kind]int{}
	for _, r := range h.journal(approvals.Filter{}) {
		kinds[r.Kind]++
	}
	assert.Equal(t, 1, kinds[approvals.KindOpened])
	assert.Equal(t, 3, kinds[approvals.KindRefused], "self-approval, non-approver and guest are journaled")
	assert.Equal(t, 3, kinds[approvals.KindLockResult])
	assert.Equal(t, 1, kinds[approvals.KindPINRevealed])
}

func TestManualDeny(t *testing.T) {
	h := newHarness(t)
	h.command(alice, "bob@corp.com")
	card := h.card(victim)
	h.click(carol, card, cards.ActionDeny)
	h.waitFor(kind(slackfake.KindEphemeral), to(carol), says("Only approvers"))
	h.click(erin, card, cards.ActionDeny) // an approver through the user group
	denied := h.waitFor(kind(slackfake.KindUpdate), ts(card.TS), says("Denied"))
	assert.Contains(t, denied.AllText(), "Nothing was locked")
	assert.Empty(t, denied.Buttons())
	assert.Empty(t, h.lockPosts())

	// A stale click on the decided card changes nothing.
	_, err := h.slack.ClickValue(h.ctx(), dave, card.Channel, card.TS, cards.ActionApprove, card.Buttons()[0].Value)
	require.NoError(t, err)
	h.waitFor(kind(slackfake.KindEphemeral), to(dave), says("already decided"))
	assert.Empty(t, h.lockPosts())
}

func TestRequesterWithdraws(t *testing.T) {
	h := newHarness(t)
	h.command(carol, "bob@corp.com")
	card := h.card(victim)
	h.click(carol, card, cards.ActionDeny)
	h.waitFor(kind(slackfake.KindUpdate), ts(card.TS), says("Withdrawn"))
	assert.Empty(t, h.lockPosts())
}

func TestRequestExpires(t *testing.T) {
	h := newHarness(t, func(_ *harness, c *Config, _ *Deps) { c.ApprovalTTL = 300 * time.Millisecond })
	h.command(alice, "bob@corp.com")
	card := h.card(victim)
	expired := h.waitFor(kind(slackfake.KindUpdate), ts(card.TS), says("Expired"))
	assert.Contains(t, expired.AllText(), "Nothing was locked")
	assert.Empty(t, expired.Buttons())
	_, err := h.slack.ClickValue(h.ctx(), dave, card.Channel, card.TS, cards.ActionApprove, card.Buttons()[0].Value)
	require.NoError(t, err)
	h.waitFor(kind(slackfake.KindEphemeral), to(dave), says("expired"))
	assert.Empty(t, h.lockPosts())
}

func TestConcurrentApprovalsLockOnce(t *testing.T) {
	h := newHarness(t)
	h.command(carol, "bob@corp.com")
	card := h.card(victim)
	var wg sync.WaitGroup
	for _, u := range []string{dave, erin, alice, dave, erin} {
		wg.Go(func() { h.click(u, card, cards.ActionApprove) })
	}
	wg.Wait()
	h.waitFor(kind(slackfake.KindUpdate), ts(card.TS), says("Done"))
	assert.Equal(t, map[string]int{"dev-bob-mac": 1, "dev-bob-mini": 1, "dev-bob-phone": 1}, h.lockPosts())
}

func TestRedeliveredEnvelopesAreHandledOnce(t *testing.T) {
	h := newHarness(t)
	ack := h.command(alice, "bob@corp.com")
	card := h.card(victim)
	_, err := h.slack.Resend(h.ctx(), ack.EnvelopeID)
	require.NoError(t, err)

	clickAck, err := h.slack.Click(h.ctx(), dave, card, cards.ActionApprove)
	require.NoError(t, err)
	h.waitFor(kind(slackfake.KindUpdate), ts(card.TS), says("Done"))
	_, err = h.slack.Resend(h.ctx(), clickAck.EnvelopeID)
	require.NoError(t, err)

	h.stop() // wait for every handler to finish before counting
	cards := 0
	for _, m := range h.slack.Messages() {
		if m.Kind == slackfake.KindPost && m.Channel == approval {
			cards++
		}
	}
	assert.Equal(t, 1, cards, "a redelivered /lock opens no second request")
	assert.Equal(t, map[string]int{"dev-bob-mac": 1, "dev-bob-mini": 1, "dev-bob-phone": 1}, h.lockPosts())
}

func TestTwoApprovalsRequired(t *testing.T) {
	h := newHarness(t, func(_ *harness, c *Config, _ *Deps) { c.RequiredApprovals = 2 })
	h.command(carol, "bob@corp.com")
	card := h.card(victim)
	h.click(dave, card, cards.ActionApprove)
	h.waitFor(kind(slackfake.KindEphemeral), to(dave), says("1 more approver needed"))
	h.click(dave, card, cards.ActionApprove)
	h.waitFor(kind(slackfake.KindEphemeral), to(dave), says("already approved"))
	assert.Empty(t, h.lockPosts())
	h.click(erin, card, cards.ActionApprove)
	h.waitFor(kind(slackfake.KindUpdate), ts(card.TS), says("Done"))
	h.waitFor(kind(slackfake.KindPost), in(h.slack.DMChannel(erin)), says("Unlock PINs"))
	h.assertPINsOnlyInDMs(erin)
}

func TestDryRunLocksNothing(t *testing.T) {
	h := newHarness(t, func(_ *harness, c *Config, _ *Deps) { c.DryRun = true })
	h.command(alice, "bob@corp.com")
	card := h.card(victim)
	assert.Contains(t, card.AllText(), "DRY RUN")
	h.click(dave, card, cards.ActionApprove)
	done := h.waitFor(kind(slackfake.KindUpdate), ts(card.TS), says("Done"))
	assert.Contains(t, done.AllText(), "DRY RUN")
	assert.Contains(t, done.AllText(), "not locked (dry run)")
	assert.Empty(t, h.lockPosts())
	for _, r := range h.journal(approvals.Filter{}) {
		if r.Kind == approvals.KindLockResult {
			assert.Equal(t, "true", r.Details["dry_run"])
		}
	}
}

func TestCommandRefusals(t *testing.T) {
	tests := []struct {
		name, user, text, want string
		viaAck                 bool
	}{
		{"help", alice, "help", "asks for every Kandji device", true},
		{"empty", alice, "", "asks for every Kandji device", true},
		{"not an email", alice, "bob", "not an email address", true},
		{"two ats", alice, "bob@x@corp.com", "exactly one @", true},
		{"pins without email", alice, "pins", "exactly one email", true},
		{"guest", guest, "bob@corp.com", "guest accounts cannot", false},
		{"bot", botUser, "bob@corp.com", "bots cannot", false},
		{"deleted", gone, "bob@corp.com", "deactivated accounts cannot", false},
		{"slack connect", partner, "bob@corp.com", "other organisations (Slack Connect) cannot", false},
		{"stranger", stranger, "bob@corp.com", "other organisations (Slack Connect) cannot", false},
		{"no devices", alice, "nobody@corp.com", "nothing to lock", false},
		{"pins by non-approver", carol, "pins bob@corp.com", "Only approvers", false},
	}
	h := newHarness(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ack := h.command(tt.user, tt.text)
			if tt.viaAck {
				var payload struct {
					ResponseType string `json:"response_type"`
				}
				require.NoError(t, json.Unmarshal(ack.Payload, &payload))
				assert.Equal(t, "ephemeral", payload.ResponseType)
				assert.Contains(t, string(ack.Payload), tt.want)
				return
			}
			h.waitFor(kind(slackfake.KindResponseURL), to(tt.user), says(tt.want))
		})
	}
	for _, m := range h.slack.Messages() {
		assert.NotEqual(t, approval, m.Channel, "no refused command posts a card")
	}
}

// TestSlackConnectPartnerCannotApprove: a partner company's user in a
// shared channel is refused even when someone put their ID in
// LOCKBOT_APPROVERS: their account is vouched for by another company.
func TestSlackConnectPartnerCannotApprove(t *testing.T) {
	h := newHarness(t, withConfig(func(c *Config) { c.Approvers = append(c.Approvers, partner) }))
	h.command(alice, "bob@corp.com")
	card := h.card(victim)
	h.click(partner, card, cards.ActionApprove)
	h.waitFor(kind(slackfake.KindEphemeral), to(partner), says("Only approvers"))
	assert.Empty(t, h.lockPosts(), "nothing locked")
	h.click(dave, card, cards.ActionApprove)
	h.waitFor(kind(slackfake.KindPost), in(h.slack.DMChannel(dave)), says("Unlock PINs"))
}

func TestAllowedDomains(t *testing.T) {
	h := newHarness(t, func(_ *harness, c *Config, _ *Deps) { c.AllowedDomains = []string{"example.org"} })
	h.command(alice, "bob@corp.com")
	h.waitFor(kind(slackfake.KindResponseURL), says("not in an allowed domain"))
	assert.Empty(t, h.lockPosts())
}

func TestRequesterList(t *testing.T) {
	h := newHarness(t, func(_ *harness, c *Config, _ *Deps) { c.Requesters = []string{alice} })
	h.command(carol, "bob@corp.com")
	h.waitFor(kind(slackfake.KindResponseURL), says("not on the list"))
	h.command(erin, "bob@corp.com") // approvers may always ask
	h.card(victim)
}

func TestKandjiOutageIsExplained(t *testing.T) {
	h := newHarness(t)
	h.kandji.FailNext(1000, 503, 0)
	h.command(alice, "bob@corp.com")
	m := h.waitFor(kind(slackfake.KindResponseURL), says("Kandji could not be reached"))
	assert.Regexp(t, "ref `E-[A-Z2-7]+`", m.AllText())
	assert.NotContains(t, m.AllText(), "goroutine", "no stack trace reaches Slack")
	ref := strings.TrimSuffix(strings.SplitAfter(m.AllText(), "ref `")[1][:10], "`")
	assert.Contains(t, h.logs.String(), ref, "the reference points at a log line")
}

func TestStatusAndPinsCommands(t *testing.T) {
	h := newHarness(t)
	h.command(carol, "status bob@corp.com")
	st := h.waitFor(kind(slackfake.KindResponseURL), says("Devices assigned in Kandji (3)"))
	assert.Contains(t, st.AllText(), "C02BOBMINI")

	h.command(dave, "pins bob@corp.com")
	h.waitFor(kind(slackfake.KindResponseURL), says("No Mac of"))

	h.command(alice, "bob@corp.com")
	card := h.card(victim)
	h.click(dave, card, cards.ActionApprove)
	h.waitFor(kind(slackfake.KindUpdate), ts(card.TS), says("Done"))
	h.command(erin, "pins bob@corp.com")
	h.waitFor(kind(slackfake.KindResponseURL), says("Sent you 2 unlock PINs"))
	dm := h.waitFor(kind(slackfake.KindPost), in(h.slack.DMChannel(erin)))
	assert.Contains(t, dm.AllText(), h.kandji.PIN("dev-bob-mac"))
	h.assertPINsOnlyInDMs(dave, erin)
}

func TestHostileDeviceNameIsEscaped(t *testing.T) {
	h := newHarness(t)
	h.command(alice, "frank@corp.com")
	card := h.card("frank@corp.com")
	assert.Contains(t, card.AllText(), "&lt;!channel&gt;")
	assert.NotContains(t, card.AllText(), "<!channel>")
}

func TestSlackRateLimitIsWaitedOut(t *testing.T) {
	h := newHarness(t)
	h.slack.RateLimit("chat.postMessage", 1, time.Second)
	h.command(alice, "bob@corp.com")
	card := h.card(victim)
	assert.Len(t, card.Buttons(), 2)
	retried := false
	for _, c := range h.slack.Calls() {
		retried = retried || (c.Method == "chat.postMessage" && c.Error == "ratelimited")
	}
	assert.True(t, retried, "the first post was rate limited and tried again")
}

// TestRateLimitInTheAnswerIsWaitedOut: Slack also refuses a busy app with
// a 200 answer saying rate_limited and no Retry-After. The refusal a person
// is waiting for (an ephemeral "only approvers") still reaches them.
func TestRateLimitInTheAnswerIsWaitedOut(t *testing.T) {
	h := newHarness(t)
	h.command(alice, "bob@corp.com")
	card := h.card(victim)
	h.slack.RateLimitInBody("chat.postEphemeral", 1)
	h.click(carol, card, cards.ActionApprove)
	h.waitFor(kind(slackfake.KindEphemeral), to(carol), says("Only approvers"))
	refused := 0
	for _, c := range h.slack.Calls() {
		if c.Method == "chat.postEphemeral" && c.Error == "rate_limited" {
			refused++
		}
	}
	assert.Equal(t, 1, refused, "the first try was refused, the second went through")
}
