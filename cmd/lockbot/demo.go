package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/approvals/sqlite"
	"github.com/lockbot/lockbot/bot/slackfake"
	"github.com/lockbot/lockbot/kandji/kandjitest"
	"github.com/lockbot/lockbot/okta"
)

// The simulated workspace of the demo.
const (
	demoAlice    = "UDEMOALICE"
	demoDave     = "UDEMODAVE"
	demoCarol    = "UDEMOCAROL"
	demoApproval = "CDEMOAPPROVALS"
	demoAlerts   = "CDEMOALERTS"
	demoGeneral  = "CDEMOHELPDESK"
	demoSecret   = "demo-hook-secret"
)

// demoTenant is the simulated Kandji tenant: the two people the demo locks
// and a look-alike address that must never be caught with them.
var demoTenant = []kandjitest.Device{
	{ID: "demo-bob-mbp", Name: "Bob's MacBook Pro", Model: "MacBook Pro (14-inch, M3)", Serial: "C02DEMOBOB1", Platform: "Mac", UserEmail: "bob@corp.com", UserName: "Bob Builder", LastCheckIn: time.Now().Add(-2 * time.Hour).UTC().Format(time.RFC3339)},
	{ID: "demo-bob-iphone", Name: "Bob's iPhone", Model: "iPhone 15", Serial: "F17DEMOBOB2", Platform: "iPhone", UserEmail: "bob@corp.com", UserName: "Bob Builder", LastCheckIn: time.Now().Add(-15 * time.Minute).UTC().Format("2006-01-02 15:04:05.000000+00:00")},
	{ID: "demo-xbob-mac", Name: "Xavier's iMac", Model: "iMac (24-inch)", Serial: "C02DEMOXB01", Platform: "Mac", UserEmail: "xbob@corp.com", UserName: "Xavier Bob"},
	{ID: "demo-erin-mba", Name: "Erin's MacBook Air", Model: "MacBook Air (M2)", Serial: "C02DEMOERN1", Platform: "Mac", UserEmail: "erin@corp.com", UserName: "Erin Engineer", LastCheckIn: time.Now().Add(-5 * time.Minute).UTC().Format(time.RFC3339)},
	{ID: "demo-erin-ipad", Name: "Erin's iPad", Model: "iPad Air", Serial: "DMPDEMOERN2", Platform: "iPad", UserEmail: "erin@corp.com", UserName: "Erin Engineer"},
}

// narrator prints the demo's story.
type narrator struct {
	w io.Writer
	r renderer
}

func (n narrator) step(format string, a ...any) { fmt.Fprintf(n.w, "\n"+format+"\n", a...) }
func (n narrator) say(format string, a ...any)  { fmt.Fprintf(n.w, "  "+format+"\n", a...) }

// show prints a Slack message the way its reader would see it.
func (n narrator) show(who string, m slackfake.Message) {
	fmt.Fprintf(n.w, "  %s\n", who)
	for _, l := range n.r.lines(m.Blocks, m.Text) {
		fmt.Fprintf(n.w, "    │ %s\n", l)
	}
}

// demo runs the real lockbot (the same app as `serve`) against a
// simulated Slack workspace and Kandji tenant on 127.0.0.1, and narrates
// a manual lock and an automatic lock. No credentials, no network.
func demo(ctx context.Context, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(ctx, 50*time.Second)
	defer cancel()
	if err := runDemo(ctx, stdout); err != nil {
		fmt.Fprintf(stderr, "lockbot demo failed: %v\n", err)
		return exitFailed
	}
	return exitOK
}

func runDemo(ctx context.Context, stdout io.Writer) error {
	slack := slackfake.New(
		slackfake.WithUsers(
			slackfake.User{ID: demoAlice, Name: "alice", RealName: "Alice (IT help desk)", Email: "alice@corp.com"},
			slackfake.User{ID: demoDave, Name: "dave", RealName: "Dave (security)", Email: "dave@corp.com"},
			slackfake.User{ID: demoCarol, Name: "carol", RealName: "Carol (sales)", Email: "carol@corp.com"},
		),
		slackfake.WithChannels(demoApproval, demoAlerts),
		slackfake.WithChannelMembers(demoApproval, demoAlice, demoDave, demoCarol),
		slackfake.WithChannelMembers(demoAlerts, demoAlice, demoDave, demoCarol),
	)
	defer slack.Close()
	tenant := kandjitest.NewServer(kandjitest.WithDevices(demoTenant...))
	defer tenant.Close()
	others := tenant.Populate(60, 2, "corp.com")
	stateDir, err := os.MkdirTemp("", "lockbot-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stateDir)

	env := map[string]string{
		"SLACK_BOT_TOKEN": slack.BotToken(), "SLACK_APP_TOKEN": slack.AppToken(), "SLACK_API_URL": slack.APIURL(),
		"LOCKBOT_APPROVAL_CHANNEL": demoApproval, "LOCKBOT_NOTIFY_CHANNEL": demoAlerts,
		"LOCKBOT_APPROVERS": demoAlice + "," + demoDave, "LOCKBOT_ALLOWED_DOMAINS": "corp.com",
		"LOCKBOT_LOCK_MESSAGE": "This device was locked by Corp IT. Call +1 555 0100.", "LOCKBOT_LOCK_PHONE": "+1 555 0100",
		"KANDJI_API_URL": tenant.URL(), "KANDJI_API_TOKEN": tenant.Token(), "KANDJI_RATE_LIMIT": "10000",
		"OKTA_HOOK_SECRET": demoSecret, "LOCKBOT_STATE_DIR": stateDir, "LISTEN_ADDR": "127.0.0.1:0",
	}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		return err
	}
	var logs bytes.Buffer
	a, err := newApp(ctx, cfg, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		return err
	}
	defer a.close()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.run(runCtx) }()
	defer func() { stop(); <-done }()

	n := narrator{w: stdout, r: renderer{names: map[string]string{
		demoAlice: "@alice", demoDave: "@dave", demoCarol: "@carol",
		demoApproval: "#it-approvals", demoAlerts: "#security-alerts", demoGeneral: "#help-desk",
	}}}
	fmt.Fprintf(stdout, "lockbot demo %s: the real bot, a simulated Slack workspace and Kandji tenant on 127.0.0.1.\n", buildVersion())
	fmt.Fprintln(stdout, "No credentials, no network. People: @alice (IT, approver), @dave (security, approver), @carol (sales).")
	n.say("Kandji holds %d devices; bob@corp.com has a MacBook Pro and an iPhone; xbob@corp.com is someone else.", len(demoTenant)+2*len(others))
	if err := slack.WaitConnected(ctx); err != nil {
		return fmt.Errorf("the bot did not connect to the simulated Slack: %w", err)
	}
	n.say("lockbot connected to Slack over Socket Mode.")

	d := demoRun{ctx: ctx, slack: slack, tenant: tenant, n: n}
	if err := d.manual(); err != nil {
		return err
	}
	if err := d.automatic("http://" + a.ln.Addr().String() + "/hooks/okta"); err != nil {
		return err
	}
	stop()
	if err := <-done; err != nil {
		return err
	}
	done <- nil
	return d.audit(stateDir, logs.String())
}

// demoRun holds what the demo's scenes share.
type demoRun struct {
	ctx    context.Context
	slack  *slackfake.Server
	tenant *kandjitest.Server
	n      narrator
}

func (d demoRun) wait(what string, match func(slackfake.Message) bool) (slackfake.Message, error) {
	m, err := d.slack.WaitMessage(d.ctx, match)
	if err != nil {
		return m, fmt.Errorf("waiting for %s: %w", what, err)
	}
	return m, nil
}

func (d demoRun) manual() error {
	n := d.n
	n.step("━━ 1. A manual lock, with two-person approval ━━")
	n.say("@alice types in #help-desk:  /lock bob@corp.com Laptop stolen from a car")
	ack, err := d.slack.SlashCommand(d.ctx, demoAlice, demoGeneral, "/lock", "bob@corp.com Laptop stolen from a car")
	if err != nil {
		return err
	}
	n.say("Slack got lockbot's acknowledgement in %s.", ack.Elapsed.Round(time.Microsecond))
	card, err := d.wait("the approval card", func(m slackfake.Message) bool {
		return m.Kind == slackfake.KindPost && m.Channel == demoApproval
	})
	if err != nil {
		return err
	}
	n.show("lockbot posts in #it-approvals:", card)
	reply, err := d.wait("the reply to @alice", func(m slackfake.Message) bool {
		return m.Kind == slackfake.KindResponseURL && strings.Contains(m.Text, "waiting for approval")
	})
	if err != nil {
		return err
	}
	n.show("and tells @alice (only she sees it):", reply)

	n.step("@alice clicks Approve on her own request.")
	if _, err := d.slack.Click(d.ctx, demoAlice, card, "lock_approve"); err != nil {
		return err
	}
	refusal, err := d.wait("the refusal", func(m slackfake.Message) bool {
		return m.Kind == slackfake.KindEphemeral && m.User == demoAlice
	})
	if err != nil {
		return err
	}
	n.show("lockbot answers @alice alone, and nothing changes:", refusal)

	n.step("@dave, a different approver, clicks Approve (and confirms).")
	if _, err := d.slack.Click(d.ctx, demoDave, card, "lock_approve"); err != nil {
		return err
	}
	dm, err := d.wait("the PIN DM", func(m slackfake.Message) bool {
		return m.Kind == slackfake.KindPost && m.Channel == d.slack.DMChannel(demoDave)
	})
	if err != nil {
		return err
	}
	final, err := d.wait("the final card", func(m slackfake.Message) bool {
		return m.Kind == slackfake.KindUpdate && m.TS == card.TS && strings.Contains(m.AllText(), "Done")
	})
	if err != nil {
		return err
	}
	n.show("lockbot edits the card in #it-approvals (buttons gone, no PIN anywhere in it):", final)
	n.show("and sends the unlock PIN to @dave alone, by direct message:", dm)
	n.say("Kandji received lock commands: Bob's MacBook Pro %d, Bob's iPhone %d, Xavier's iMac (xbob@corp.com) %d.",
		d.tenant.LockPosts("demo-bob-mbp"), d.tenant.LockPosts("demo-bob-iphone"), d.tenant.LockPosts("demo-xbob-mac"))
	return nil
}

func (d demoRun) automatic(hookURL string) error {
	n := d.n
	n.step("━━ 2. An automatic lock from an Okta security event ━━")
	n.say("An Okta admin suspends erin@corp.com; Okta POSTs the event hook to lockbot's /hooks/okta.")
	body := fmt.Sprintf(`{"eventType":"com.okta.event_hook","eventTypeVersion":"1.0","cloudEventsVersion":"0.1","eventId":"demo-delivery-1","eventTime":%q,"contentType":"application/json","source":"https://corp.okta.com/api/v1/eventHooks/whoDEMO","data":{"events":[{"uuid":"demo-event-1","published":%q,"eventType":%q,"displayMessage":"Suspend Okta user","severity":"INFO","actor":{"id":"00uadmin","type":"User","alternateId":"ada.admin@corp.com","displayName":"Ada Admin"},"client":{"ipAddress":"198.51.100.7"},"target":[{"id":"00uerin","type":"User","alternateId":"erin@corp.com","displayName":"Erin Engineer"}]}]}}`,
		time.Now().UTC().Format(time.RFC3339), time.Now().UTC().Format(time.RFC3339), okta.EventSuspend)
	req, err := http.NewRequestWithContext(d.ctx, http.MethodPost, hookURL, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", demoSecret)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the hook answered %s", resp.Status)
	}
	n.say("/hooks/okta answered %s in %s; the lock runs after the reply.", resp.Status, time.Since(start).Round(time.Microsecond))
	report, err := d.wait("the lock report", func(m slackfake.Message) bool {
		return m.Channel == demoAlerts && (m.Kind == slackfake.KindPost || m.Kind == slackfake.KindUpdate) && strings.Contains(m.AllText(), "Locked automatically")
	})
	if err != nil {
		return err
	}
	n.show("lockbot locks Erin's devices at once and reports in #security-alerts:", report)

	n.step("@carol clicks \"Send me the unlock PINs\".")
	if _, err := d.slack.Click(d.ctx, demoCarol, report, "lock_reveal_pins"); err != nil {
		return err
	}
	refusal, err := d.wait("the refusal", func(m slackfake.Message) bool {
		return m.Kind == slackfake.KindEphemeral && m.User == demoCarol
	})
	if err != nil {
		return err
	}
	n.show("lockbot answers @carol alone:", refusal)
	n.step("@dave clicks \"Send me the unlock PINs\".")
	if _, err := d.slack.Click(d.ctx, demoDave, report, "lock_reveal_pins"); err != nil {
		return err
	}
	dm, err := d.wait("the PIN DM", func(m slackfake.Message) bool {
		return m.Kind == slackfake.KindPost && m.Channel == d.slack.DMChannel(demoDave) && strings.Contains(m.Text, "erin@corp.com")
	})
	if err != nil {
		return err
	}
	n.show("lockbot reads the PIN fresh from Kandji and DMs @dave:", dm)
	note, err := d.wait("the report saying where the PINs went", func(m slackfake.Message) bool {
		return m.Kind == slackfake.KindUpdate && m.TS == report.TS && strings.Contains(m.AllText(), "PINs sent to")
	})
	if err != nil {
		return err
	}
	n.show("and the report now says where the PINs went (never what they are):", note)
	return nil
}

// audit closes the story with the journal, and checks for real that no
// PIN reached a channel, an ephemeral, a log line or the store.
func (d demoRun) audit(stateDir, logs string) error {
	n := d.n
	n.step("━━ 3. What was recorded ━━")
	s, err := sqlite.OpenReadOnly(d.ctx, stateDir, sqlite.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	var recs []approvals.Record
	if err := s.View(d.ctx, func(tx approvals.Tx) error {
		var err error
		recs, err = tx.Records(approvals.Filter{}, 0)
		return err
	}); err != nil {
		return err
	}
	counts := map[approvals.Kind]int{}
	for _, r := range recs {
		counts[r.Kind]++
	}
	n.say("The audit journal (in lockbot.db, read with `lockbot audit`): %d records — %d opened, %d refused, %d lock results, %d automatic, %d PIN reveals (to whom, never the PIN).",
		len(recs), counts[approvals.KindOpened], counts[approvals.KindRefused], counts[approvals.KindLockResult], counts[approvals.KindAutoLock], counts[approvals.KindPINRevealed])
	var stored []byte
	for _, f := range []string{sqlite.FileName, sqlite.FileName + "-wal"} {
		b, err := os.ReadFile(filepath.Join(stateDir, f))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		stored = append(stored, b...)
	}
	dms := map[string]bool{d.slack.DMChannel(demoDave): true}
	for _, dev := range demoTenant {
		p := d.tenant.PIN(dev.ID)
		if p == "" {
			continue
		}
		for _, m := range d.slack.Messages() {
			if strings.Contains(m.AllText(), p) && !(m.Kind == slackfake.KindPost && dms[m.Channel]) {
				return errors.New("a PIN appeared outside the approver's DM")
			}
		}
		if strings.Contains(logs, p) || bytes.Contains(stored, []byte(p)) {
			return errors.New("a PIN appeared in the logs or the store")
		}
	}
	n.say("Checked: the unlock PINs appear only in @dave's DMs — in no channel, ephemeral, log line or byte of the store.")
	fmt.Fprintln(n.w, "\nDone. Run `lockbot manifest` to create the real Slack app, and see the README to connect Kandji and Okta.")
	return nil
}
