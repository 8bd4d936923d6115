package bot

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/bot")

var (
	t0      = time.Date(2026, 11, 23, 14, 2, 0, 0, time.UTC)
	cardDev = []approvals.Device{
		{ID: "d1", Name: "Bob's MacBook Pro", Model: "MacBook Pro (14-inch, 2023)", Serial: "C02BOBMAC1", Platform: "Mac", LastCheckIn: t0.Add(-time.Hour)},
		{ID: "d2", Name: "Bob's iPhone", Model: "iPhone 15", Serial: "F17BOBPHONE", Platform: "iPhone"},
	}
	cardReq = approvals.Request{
		ID: "r3qmxk2f7a", Target: "bob@corp.com", Requester: "UALICE01", Reason: "laptop stolen <!here>",
		Origin: approvals.Origin{Kind: "manual"}, Devices: cardDev, Created: t0, Expires: t0.Add(30 * time.Minute),
		Required: 1, State: approvals.StatePending,
	}
	cardPerson = person{Email: "bob@corp.com", Name: "Bob Builder", OktaStatus: "ACTIVE"}
)

func with(r approvals.Request, f func(*approvals.Request)) approvals.Request {
	f(&r)
	return r
}

// golden compares m, as Slack receives it, with testdata/bot/name.json.
func golden(t *testing.T, name string, m message) {
	t.Helper()
	got, err := json.MarshalIndent(map[string]any{"text": m.Text, "blocks": m.Blocks}, "", "  ")
	require.NoError(t, err)
	path := filepath.Join("..", "testdata", "bot", name+".json")
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, append(got, '\n'), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./bot -run Golden -update to create it")
	assert.JSONEq(t, string(want), string(got))
}

func TestGoldenCards(t *testing.T) {
	approved := with(cardReq, func(r *approvals.Request) {
		r.State = approvals.StateDone
		r.Approvals = []approvals.Approval{{By: "UDAVE001", At: t0}}
		r.DecidedBy = "UDAVE001"
	})
	results := []deviceResult{
		{Device: cardDev[0], Outcome: outcomeLocked, PIN: "123456"},
		{Device: cardDev[1], Outcome: outcomeFailed, Detail: "kandji: POST /devices/{id}/action/lock: 500 Internal Server Error"},
	}
	okta := with(cardReq, func(r *approvals.Request) {
		r.Requester = oktaRequester
		r.Origin = approvals.Origin{Kind: "okta", EventType: "user.risk.detect", EventID: "ev1", Actor: "system@okta.com"}
	})
	auto := with(cardReq, func(r *approvals.Request) {
		r.Requester, r.State, r.Required = oktaRequester, approvals.StateDone, 0
	})
	triggers := []trigger{
		{EventType: "user.lifecycle.suspend", Actor: "ada.admin@corp.com", ActorName: "Ada Admin", At: t0, ClientIP: "198.51.100.7", Source: "hook"},
		{EventType: "user.lifecycle.deactivate", Actor: "ada.admin@corp.com", At: t0.Add(time.Second), Source: "catchup"},
	}
	cases := map[string]message{
		"request_pending":        requestCard(cardReq, cardPerson, nil, nil, false),
		"request_pending_dryrun": requestCard(cardReq, cardPerson, nil, nil, true),
		"request_from_okta":      requestCard(okta, person{Email: "bob@corp.com"}, nil, nil, false),
		"request_done":           requestCard(approved, cardPerson, results, []string{"🔑 1 unlock PIN sent to <@UDAVE001> by DM."}, false),
		"request_denied":         requestCard(with(cardReq, func(r *approvals.Request) { r.State, r.DecidedBy = approvals.StateDenied, "UDAVE001" }), cardPerson, nil, nil, false),
		"request_expired":        requestCard(with(cardReq, func(r *approvals.Request) { r.State = approvals.StateExpired }), cardPerson, nil, nil, false),
		"auto_report":            autoReport(auto, cardPerson, triggers, results, false),
		"auto_report_no_devices": autoReport(with(auto, func(r *approvals.Request) { r.Devices = nil }), cardPerson, triggers[:1], nil, false),
		"pin_dm":                 pinMessage("bob@corp.com", "r3qmxk2f7a", results, false),
		"help":                   helpMessage("/lock", "not an email address: \"bob\" needs exactly one @"),
		"status":                 statusMessage(cardPerson, cardDev),
		"burst_digest":           burstDigest(digestView{Started: t0, People: 412, Devices: 1236, Secured: 1233, NoDevice: 3, Queued: 588, Failures: []string{failureLine("eve@corp.com", "r9", results, summarize(results))}, Command: "/lock"}, false),
		"burst_digest_over":      burstDigest(digestView{Started: t0, People: 1000, Devices: 3000, Secured: 3000, Over: true, Command: "/lock"}, true),
	}
	for name, m := range cases {
		t.Run(name, func(t *testing.T) { golden(t, name, m) })
	}
}

// blockKitProblems checks the limits Slack enforces (docs.slack.dev
// reference/block-kit): 50 blocks, 3000 characters of section text, 10
// fields of 2000, header 150, button values 2000.
func blockKitProblems(m message) []string {
	var p []string
	if len(m.Blocks) > 50 {
		p = append(p, fmt.Sprintf("%d blocks", len(m.Blocks)))
	}
	for _, b := range m.Blocks {
		switch b := b.(type) {
		case *slack.SectionBlock:
			if b.Text != nil && utf8.RuneCountInString(b.Text.Text) > 3000 {
				p = append(p, "section text over 3000")
			}
			if len(b.Fields) > 10 {
				p = append(p, "over 10 fields")
			}
			for _, f := range b.Fields {
				if utf8.RuneCountInString(f.Text) > 2000 {
					p = append(p, "field over 2000")
				}
			}
		case *slack.HeaderBlock:
			if utf8.RuneCountInString(b.Text.Text) > 150 {
				p = append(p, "header over 150")
			}
		}
	}
	return p
}

func TestCardsStayWithinBlockKitLimits(t *testing.T) {
	var many []approvals.Device
	var results []deviceResult
	for i := range 400 {
		d := approvals.Device{ID: fmt.Sprint(i), Name: strings.Repeat("Very long device name ", 20), Model: "MacBook Pro", Serial: fmt.Sprintf("C02%07d", i), Platform: "Mac"}
		many = append(many, d)
		results = append(results, deviceResult{Device: d, Outcome: outcomeFailed, Detail: strings.Repeat("error ", 100)})
	}
	req := with(cardReq, func(r *approvals.Request) { r.Devices, r.Reason = many, strings.Repeat("why ", 200) })
	long := person{Email: strings.Repeat("a", 60) + "@" + strings.Repeat("b", 60) + ".com", Name: strings.Repeat("N", 500)}
	for name, m := range map[string]message{
		"pending": requestCard(req, long, nil, nil, true),
		"results": requestCard(with(req, func(r *approvals.Request) { r.State = approvals.StateFailed }), long, results, nil, true),
		"auto":    autoReport(with(req, func(r *approvals.Request) { r.State = approvals.StateDone }), long, make([]trigger, 300), results, true),
		"pins":    pinMessage(long.Email, "id", results, false),
		"status":  statusMessage(long, many),
		"digest":  burstDigest(digestView{People: 1000, Failures: failures(1000), Command: "/lock"}, true),
	} {
		assert.Empty(t, blockKitProblems(m), name)
	}
	summary := requestCard(req, long, nil, nil, false)
	var all strings.Builder
	for _, b := range summary.Blocks {
		if s, ok := b.(*slack.SectionBlock); ok && s.Text != nil {
			all.WriteString(s.Text.Text)
		}
	}
	assert.Contains(t, all.String(), "more not shown here", "a long list is summarised, not cut silently")
}

// failures is n failure lines of a burst digest at their longest.
func failures(n int) []string {
	results := []deviceResult{{Device: cardDev[0], Outcome: outcomeFailed, Detail: strings.Repeat("error ", 100)}}
	out := make([]string, n)
	for i := range out {
		out[i] = failureLine(fmt.Sprintf("%s%d@corp.com", strings.Repeat("p", 50), i), "lockid", results, summarize(results))
	}
	return out
}

func TestCardsNeverShowPINs(t *testing.T) {
	results := []deviceResult{{Device: cardDev[0], Outcome: outcomeLocked, PIN: "987654"}}
	done := with(cardReq, func(r *approvals.Request) { r.State = approvals.StateDone })
	for name, m := range map[string]message{
		"request": requestCard(done, cardPerson, results, nil, false),
		"auto":    autoReport(done, cardPerson, nil, results, false),
		"status":  statusMessage(cardPerson, cardDev),
		"digest":  burstDigest(digestView{Failures: []string{failureLine("bob@corp.com", "r", results, summarize(results))}}, false),
	} {
		b, err := json.Marshal(m.Blocks)
		require.NoError(t, err)
		assert.NotContains(t, string(b)+m.Text, "987654", name)
	}
	b, err := json.Marshal(pinMessage("bob@corp.com", "id", results, false).Blocks)
	require.NoError(t, err)
	assert.Contains(t, string(b), "987654", "the DM is the one place the PIN is written")
}
