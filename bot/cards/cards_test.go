package cards_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/bot/cards"
	"github.com/lockbot/lockbot/bot/slackfake"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/cards")

var (
	t0   = time.Date(2026, 11, 23, 14, 2, 0, 0, time.UTC)
	devs = []cards.Device{
		{Name: "Bob's MacBook Pro", Model: "MacBook Pro (14-inch, 2023)", Serial: "C02BOBMAC1", Platform: "Mac", LastCheckIn: t0.Add(-time.Hour)},
		{Name: "Bob's iPhone", Model: "iPhone 15", Serial: "F17BOBPHONE", Platform: "iPhone"},
	}
	bob = cards.Person{Email: "bob@corp.com", Name: "Bob Builder", OktaStatus: "ACTIVE"}
	req = cards.Request{ID: "r3qmxk2f7a", Person: bob, Requester: "UALICE01", Reason: "laptop stolen <!here>",
		State: cards.Pending, Required: 1, Expires: t0.Add(30 * time.Minute), Devices: devs}
	triggers = []cards.Trigger{
		{EventType: "user.lifecycle.suspend", Actor: "ada.admin@corp.com", ActorName: "Ada Admin", At: t0, ClientIP: "198.51.100.7"},
		{EventType: "user.lifecycle.deactivate", Actor: "ada.admin@corp.com", At: t0.Add(time.Second), Recovered: true},
	}
)

func results(outcomes ...cards.Outcome) []cards.Device {
	out := make([]cards.Device, len(devs))
	copy(out, devs)
	for i := range out {
		out[i].Outcome = outcomes[i]
	}
	return out
}

// golden compares m, as Slack receives it, with testdata/cards/name.json.
func golden(t *testing.T, name string, m cards.Message) {
	t.Helper()
	got, err := json.MarshalIndent(map[string]any{"text": m.Text, "blocks": m.Blocks}, "", "  ")
	require.NoError(t, err)
	path := filepath.Join("..", "..", "testdata", "cards", name+".json")
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, append(got, '\n'), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./bot/cards -run Golden -update to create it")
	assert.JSONEq(t, string(want), string(got))
}

// goldenCases are every message lockbot sends, in the states a person
// sees them.
func goldenCases() map[string]cards.Message {
	approved := req
	approved.State, approved.Approvals, approved.DecidedBy = cards.Approved, []string{"UDAVE001"}, "UDAVE001"
	done := approved
	done.Lock = &cards.Lock{ID: "l1", State: cards.LockDone, Devices: results(cards.Locked, cards.AlreadyLocked), Outcome: "2 of 2 devices secured",
		Notes: []string{"🔑 Unlock PINs sent to <@UDAVE001> by DM."}}
	retrying := approved
	retrying.Lock = &cards.Lock{ID: "l1", State: cards.LockRetrying, Devices: results(cards.Locked, cards.Retrying), Attempts: 3,
		Retrying: "retrying, attempt 4: Kandji 503", NextAttempt: t0.Add(time.Minute), Deadline: t0.Add(24 * time.Hour)}
	failed := approved
	failed.Lock = &cards.Lock{ID: "l1", State: cards.LockFailed, Devices: results(cards.Locked, cards.Unconfirmed),
		Outcome: "1 of 2 devices secured, 1 not locked: a person must act"}
	fromOkta := req
	fromOkta.Requester, fromOkta.FromEvent, fromOkta.EventActor = "", "user.risk.detect", "system@okta.com"
	denied := req
	denied.State, denied.DecidedBy = cards.Denied, "UDAVE001"
	expired := req
	expired.State = cards.Expired
	auto := cards.Lock{ID: "l2", State: cards.LockDone, Devices: results(cards.Locked, cards.Failed), Triggers: triggers, Outcome: "1 of 2 devices secured"}
	autoRetry := auto
	autoRetry.State, autoRetry.Devices, autoRetry.Retrying = cards.LockRetrying, results(cards.Retrying, cards.Retrying),
		"retrying, attempt 2: Kandji refused lockbot's token (401): give KANDJI_API_TOKEN a valid token"
	autoRetry.NextAttempt, autoRetry.Deadline = t0.Add(5*time.Second), t0.Add(24*time.Hour)
	return map[string]cards.Message{
		"request_pending":        cards.RequestCard(req),
		"request_pending_dryrun": cards.RequestCard(func() cards.Request { r := req; r.DryRun = true; return r }()),
		"request_from_okta":      cards.RequestCard(fromOkta),
		"request_done":           cards.RequestCard(done),
		"request_retrying":       cards.RequestCard(retrying),
		"request_failed":         cards.RequestCard(failed),
		"request_denied":         cards.RequestCard(denied),
		"request_expired":        cards.RequestCard(expired),
		"auto_report":            cards.LockReport(auto, bob, false),
		"auto_report_locking":    cards.LockReport(cards.Lock{ID: "l3", State: cards.LockQueued, Triggers: triggers[:1]}, bob, false),
		"auto_report_retrying":   cards.LockReport(autoRetry, bob, false),
		"auto_report_skipped": cards.LockReport(cards.Lock{ID: "l4", State: cards.LockSkipped, Triggers: triggers[:1],
			Outcome: "Okta shows bob@corp.com as ACTIVE again, so the user.lifecycle.suspend event is out of date; nothing was locked"}, bob, false),
		"auto_report_no_devices": cards.LockReport(cards.Lock{ID: "l5", State: cards.LockNothing, Triggers: triggers[:1]}, bob, false),
		"pin_dm": cards.PINMessage("bob@corp.com", "l1", []cards.PINLine{{Name: "Bob's MacBook Pro", Serial: "C02BOBMAC1", PIN: "123456"},
			{Name: "Bob's iPhone", Serial: "F17BOBPHONE", Note: "no PIN: iPhone devices unlock with their own passcode"}}, false),
		"help":   cards.Help("/lock", "not an email address: &quot;bob&quot; needs exactly one @"),
		"status": cards.Status(bob, devs),
		"burst_digest": cards.DigestCard(cards.Digest{Started: t0, Part: 1, Queued: 588, Command: "/lock", People: []cards.DigestPerson{
			{LockID: "l6", Email: "eve@corp.com", Secured: 1, Total: 2, Failure: "Eve's iPhone: Kandji 503", Final: true},
			{LockID: "l7", Email: "sam@corp.com", Secured: 3, Total: 3, MacPINs: true, Final: true},
			{LockID: "l8", Email: "kim@corp.com", Final: true}}}),
		"burst_digest_over": cards.DigestCard(cards.Digest{Started: t0, Over: true, Part: 2, Command: "/lock", DryRun: true}),
	}
}

func TestGoldenCards(t *testing.T) {
	for name, m := range goldenCases() {
		t.Run(name, func(t *testing.T) { golden(t, name, m) })
	}
}

// hostile is outside text at the worst: long, full of what must be
// escaped, with a bare link in it.
func hostile(n int) string {
	return strings.Repeat("&<>", n/3) + " https://evil.example/login"
}

// hugeCases are the largest messages lockbot can be asked to send: 300
// devices with 500-character names, a 500-character reason of &<>, a
// 1,000-person burst.
func hugeCases() map[string]cards.Message {
	var many []cards.Device
	var pins []cards.PINLine
	for i := range 300 {
		name := fmt.Sprintf("%03d %s", i, hostile(500))
		many = append(many, cards.Device{Name: name, Model: hostile(200), Serial: fmt.Sprintf("C02%07d", i), Platform: "Mac",
			Outcome: cards.Failed, Detail: hostile(300)})
		pins = append(pins, cards.PINLine{Name: name, Serial: fmt.Sprintf("C02%07d", i), PIN: "123456"})
	}
	p := cards.Person{Email: "a&b@corp.com", Name: hostile(300), OktaStatus: hostile(100)}
	r := cards.Request{ID: "r1", Person: p, Requester: "UALICE01", Reason: hostile(500), State: cards.Pending, Required: 1,
		Expires: t0, Devices: many}
	done := r
	done.State, done.Approvals = cards.Approved, []string{"UDAVE001"}
	done.Lock = &cards.Lock{ID: "l1", State: cards.LockFailed, Devices: many, Outcome: hostile(300)}
	var people []cards.DigestPerson
	for i := range 1000 {
		people = append(people, cards.DigestPerson{LockID: fmt.Sprintf("L%04d", i), Email: fmt.Sprintf("p%04d-%s@corp.com", i, strings.Repeat("x", 60)),
			Secured: 1, Total: 3, Failure: hostile(300), MacPINs: true, Final: true})
	}
	return map[string]cards.Message{
		"request pending":  cards.RequestCard(r),
		"request failed":   cards.RequestCard(done),
		"report":           cards.LockReport(cards.Lock{ID: "l2", State: cards.LockFailed, Devices: many, Triggers: triggers, Outcome: hostile(200)}, p, false),
		"pin dm":           cards.PINMessage("a&b@corp.com", "l1", pins, false),
		"digest":           cards.DigestCard(cards.Digest{Started: t0, Part: 1, People: people, Command: "/lock"}),
		"notice":           cards.PlainNotice(hostile(5000), "UDAVE001"),
		"help with a typo": cards.Help("/lock", cards.Mrkdwn(hostile(500))),
	}
}

// TestStrictSlackAcceptsEveryMessage posts every golden and every huge
// message to the strict fake Slack with the real slack-go client: each must
// be accepted as it is, within every Block Kit limit.
func TestStrictSlackAcceptsEveryMessage(t *testing.T) {
	fake := slackfake.New(slackfake.WithChannels("C1"), slackfake.WithoutRateLimits())
	t.Cleanup(fake.Close)
	api := slack.New(fake.BotToken(), slack.OptionAPIURL(fake.APIURL()))
	all := goldenCases()
	for k, v := range hugeCases() {
		all["huge "+k] = v
	}
	for name, m := range all {
		t.Run(name, func(t *testing.T) {
			_, _, err := api.PostMessageContext(t.Context(), "C1", m.Options()...)
			require.NoError(t, err, "Slack would refuse it")
		})
	}
}

// TestOutsideTextNeverLinks: every mrkdwn text is sent verbatim, so Slack
// does not turn a bare URL or name in outside text into a live link, and
// what must be escaped is escaped.
func TestOutsideTextNeverLinks(t *testing.T) {
	for name, m := range hugeCases() {
		raw, err := json.Marshal(m.Blocks)
		require.NoError(t, err)
		var texts []map[string]any
		collect(t, raw, &texts)
		require.NotEmpty(t, texts, name)
		for _, o := range texts {
			if o["type"] == "mrkdwn" {
				assert.Equal(t, true, o["verbatim"], "%s: a mrkdwn text without verbatim: %.80v", name, o["text"])
			}
			s, _ := o["text"].(string)
			assert.NotContains(t, s, "<https://evil", name)
			assert.NotContains(t, s, "<>", "%s: raw angle brackets", name)
		}
	}
}

// collect gathers every text object (a map with "type" and "text") in raw.
func collect(t *testing.T, raw []byte, out *[]map[string]any) {
	var v any
	require.NoError(t, json.Unmarshal(raw, &v))
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if _, ok := x["text"].(string); ok {
				if _, ok := x["type"].(string); ok {
					*out = append(*out, x)
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(v)
}

func TestMrkdwnEscapesAndFlattens(t *testing.T) {
	assert.Equal(t, "&lt;!channel&gt; &amp; co", cards.Mrkdwn("<!channel> & co"))
	assert.Equal(t, "line one line two", cards.Mrkdwn("line one\nline two"), "no faked extra lines")
	assert.Equal(t, "first_last@corp.com", cards.Mrkdwn("first_last@corp.com"), "emphasis markers are left alone")
	assert.Equal(t, "<@UDAVE001>", cards.Mention("UDAVE001"))
	assert.Equal(t, "not-an-id", cards.Mention("not-an-id"))
}
