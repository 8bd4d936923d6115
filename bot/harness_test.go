package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/bot/slackfake"
	"github.com/lockbot/lockbot/kandji"
	"github.com/lockbot/lockbot/kandji/kandjitest"
	"github.com/lockbot/lockbot/okta"
)

// The test workspace. Alice requests, Dave and Erin approve, Carol is a
// plain member, and the rest are people who must never take part.
const (
	alice    = "UALICE01"
	dave     = "UDAVE001"
	erin     = "UERIN001"
	carol    = "UCAROL01"
	guest    = "UGUEST01"
	botUser  = "UROBOT01"
	gone     = "UGONE001"
	approval = "CAPPROVAL"
	notifyCh = "CNOTIFY01"
	victim   = "bob@corp.com"
)

// tenant is the fake Kandji tenant: Bob's three devices, the substring
// traps that must never be locked with them, and an unassigned iPad.
var tenant = []kandjitest.Device{
	{ID: "dev-bob-mac", Name: "Bob's MacBook Pro", Model: "MacBook Pro (14-inch, 2023)", Serial: "C02BOBMAC1", Platform: "Mac", UserEmail: victim, UserName: "Bob Builder", LastCheckIn: "2026-11-23T09:15:00.000000Z"},
	{ID: "dev-bob-mini", Name: "Bob's Mac mini", Model: "Mac mini (M2)", Serial: "C02BOBMINI", Platform: "Mac", UserEmail: "Bob@Corp.com", UserName: "Bob Builder", LastCheckIn: "2026-11-22 18:01:02.123456+00:00"},
	{ID: "dev-bob-phone", Name: "Bob's iPhone", Model: "iPhone 15", Serial: "F17BOBPHONE", Platform: "iPhone", UserEmail: victim, UserName: "Bob Builder", LastCheckIn: ""},
	{ID: "dev-xbob", Name: "Xbob's Mac", Platform: "Mac", Serial: "C02XBOB001", UserEmail: "xbob@corp.com"},
	{ID: "dev-evil", Name: "Evil Mac", Platform: "Mac", Serial: "C02EVIL001", UserEmail: "bob@corp.com.evil"},
	{ID: "dev-ipad", Name: "Shared iPad", Platform: "iPad", Serial: "DMPSHARED1"},
	{ID: "dev-frank-mac", Name: "Frank's <!channel> Mac", Platform: "Mac", Serial: "C02FRANK01", UserEmail: "frank@corp.com"},
}

var bobDevices = []string{"dev-bob-mac", "dev-bob-mini", "dev-bob-phone"}

// logBuffer collects every log line the bot writes, for the secret scans.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// harness runs the real bot against fake Slack and Kandji servers and a
// real Okta hook handler and inbox.
type harness struct {
	t       testing.TB
	slack   *slackfake.Server
	kandji  *kandjitest.Server
	inbox   *okta.Inbox
	hook    http.Handler
	bot     *Bot
	logs    *logBuffer
	journal string
	cancel  context.CancelFunc
	done    chan error

	dir        string
	cfg        Config
	deps       Deps
	logger     *slog.Logger
	closeState func()
}

// harnessOption adjusts the bot's configuration and collaborators before
// it starts; the fakes already exist.
type harnessOption func(*harness, *Config, *Deps)

func newHarness(t testing.TB, opts ...harnessOption) *harness {
	t.Helper()
	h := &harness{t: t, logs: &logBuffer{}}
	h.slack = slackfake.New(
		slackfake.WithUsers(
			slackfake.User{ID: alice, Name: "alice", RealName: "Alice Admin", Email: "alice@corp.com"},
			slackfake.User{ID: dave, Name: "dave", RealName: "Dave Approver", Email: "dave@corp.com"},
			slackfake.User{ID: erin, Name: "erin", RealName: "Erin Approver", Email: "erin@corp.com"},
			slackfake.User{ID: carol, Name: "carol", RealName: "Carol Member", Email: "carol@corp.com"},
			slackfake.User{ID: guest, Name: "guest", RealName: "Gus Guest", IsRestricted: true},
			slackfake.User{ID: botUser, Name: "robot", IsBot: true},
			slackfake.User{ID: gone, Name: "gone", Deleted: true},
		),
		slackfake.WithChannels(approval, notifyCh),
		slackfake.WithUserGroup("SAPPROVE1", erin),
	)
	t.Cleanup(h.slack.Close)
	h.kandji = kandjitest.NewServer(kandjitest.WithDevices(tenant...))
	t.Cleanup(h.kandji.Close)

	h.logger = slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	kc := h.kandjiClient(1000)
	h.dir = t.TempDir()
	h.journal = filepath.Join(h.dir, "audit.jsonl")

	cfg := Config{
		BotToken: h.slack.BotToken(), AppToken: h.slack.AppToken(), APIURL: h.slack.APIURL(),
		ApprovalChannel: approval, NotifyChannel: notifyCh,
		Approvers: []string{dave, alice}, ApproverGroup: "SAPPROVE1",
		AutoLockEvents:  okta.DefaultAutoLockTypes(),
		ApproveEvents:   []string{okta.EventRiskDetect},
		LockMessage:     "This Mac was locked by IT. Call the help desk.",
		LockPhone:       "+1 555 0100",
		SlackBackoff:    time.Millisecond,
		ShutdownTimeout: 5 * time.Second,
		ReportGap:       10 * time.Millisecond,
		DigestQuiet:     100 * time.Millisecond,
		LockRetryPause:  10 * time.Millisecond,
	}
	deps := Deps{Kandji: kc, Logger: h.logger}
	for _, o := range opts {
		o(h, &cfg, &deps)
	}
	h.cfg, h.deps = cfg, deps
	h.start()
	t.Cleanup(h.stop)
	return h
}

// kandjiClient is a client of the fake tenant at perSecond calls, with
// retries fast enough for tests; opts come last and so override.
func (h *harness) kandjiClient(perSecond int, opts ...kandji.Option) *kandji.Client {
	h.t.Helper()
	base := []kandji.Option{kandji.WithRatePerHour(perSecond * 3600),
		kandji.WithRetries(3, time.Millisecond, 10*time.Millisecond), kandji.WithLogger(h.logger)}
	kc, err := kandji.New(h.kandji.URL(), h.kandji.Token(), append(base, opts...)...)
	require.NoError(h.t, err)
	return kc
}

// start opens the state under h.dir and runs a bot on it, as a process
// start does.
func (h *harness) start() {
	t := h.t
	var err error
	h.inbox, err = okta.OpenInbox(filepath.Join(h.dir, "inbox"))
	require.NoError(t, err)
	journal, err := approvals.OpenJournal(h.journal)
	require.NoError(t, err)
	store, err := approvals.OpenStore(filepath.Join(h.dir, "requests"))
	require.NoError(t, err)
	inbox := h.inbox
	h.closeState = func() {
		_ = inbox.Close()
		_ = journal.Close()
		_ = store.Close()
	}
	deps := h.deps
	deps.Events, deps.Store, deps.Journal = h.inbox, store, journal
	hook, err := okta.NewHookHandler(okta.HookConfig{Secret: "hook-secret", Types: append(h.cfg.AutoLockEvents, h.cfg.ApproveEvents...), Inbox: h.inbox, Logger: h.logger})
	require.NoError(t, err)
	h.hook = hook
	h.bot, err = New(h.cfg, deps)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.done = make(chan error, 1)
	go func() { h.done <- h.bot.Run(ctx) }()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	require.NoError(t, h.slack.WaitConnected(wctx))
}

// restart stops the bot, closes its state and starts a new one on the
// same state, Slack and Kandji.
func (h *harness) restart() {
	h.stop()
	h.start()
}

// stop cancels the bot and waits for Run to return.
func (h *harness) stop() {
	h.cancel()
	select {
	case err := <-h.done:
		require.NoError(h.t, err)
		h.done <- nil
		if h.closeState != nil {
			h.closeState()
			h.closeState = nil
		}
	case <-time.After(20 * time.Second):
		h.t.Fatal("bot did not stop within 20s of cancel")
	}
}

func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	h.t.Cleanup(cancel)
	return ctx
}

func (h *harness) command(user, text string) slackfake.Ack {
	h.t.Helper()
	ack, err := h.slack.SlashCommand(h.ctx(), user, "CGENERAL1", "/lock", text)
	require.NoError(h.t, err)
	return ack
}

func (h *harness) click(user string, msg slackfake.Message, actionID string) {
	h.t.Helper()
	_, err := h.slack.Click(h.ctx(), user, msg, actionID)
	require.NoError(h.t, err)
}

// waitFor returns the first message matching every condition.
func (h *harness) waitFor(conds ...func(slackfake.Message) bool) slackfake.Message {
	h.t.Helper()
	m, err := h.slack.WaitMessage(h.ctx(), func(m slackfake.Message) bool {
		for _, c := range conds {
			if !c(m) {
				return false
			}
		}
		return true
	})
	require.NoError(h.t, err, "no such Slack message; got:\n%s", h.dump())
	return m
}

func (h *harness) dump() string {
	var sb strings.Builder
	for _, m := range h.slack.Messages() {
		fmt.Fprintf(&sb, "%s %s %s user=%s: %s\n", m.Kind, m.Channel, m.TS, m.User, m.Text)
	}
	return sb.String()
}

func kind(k slackfake.MessageKind) func(slackfake.Message) bool {
	return func(m slackfake.Message) bool { return m.Kind == k }
}

func in(channel string) func(slackfake.Message) bool {
	return func(m slackfake.Message) bool { return m.Channel == channel }
}

func to(user string) func(slackfake.Message) bool {
	return func(m slackfake.Message) bool { return m.User == user }
}

func says(s string) func(slackfake.Message) bool {
	return func(m slackfake.Message) bool { return strings.Contains(m.AllText(), s) }
}

func ts(ts string) func(slackfake.Message) bool {
	return func(m slackfake.Message) bool { return m.TS == ts }
}

// card waits for the approval card of a new request about target.
func (h *harness) card(target string) slackfake.Message {
	h.t.Helper()
	return h.waitFor(kind(slackfake.KindPost), in(approval), says("Lock request: "+target))
}

// current returns the card as it is now, after every update.
func (h *harness) current(m slackfake.Message) slackfake.Message {
	h.t.Helper()
	cur, ok := h.slack.Current(m.Channel, m.TS)
	require.True(h.t, ok)
	return cur
}

// lockPosts counts lock POSTs per device across the whole tenant.
func (h *harness) lockPosts() map[string]int {
	counts := map[string]int{}
	for _, d := range tenant {
		if n := h.kandji.LockPosts(d.ID); n > 0 {
			counts[d.ID] = n
		}
	}
	return counts
}

// journalRecords reads the audit journal as written so far.
func (h *harness) journalRecords() []approvals.Record {
	h.t.Helper()
	f, err := os.Open(h.journal)
	require.NoError(h.t, err)
	defer f.Close()
	recs, skipped, err := approvals.ReadJournal(f, approvals.Filter{})
	require.NoError(h.t, err)
	require.Zero(h.t, skipped)
	return recs
}

// assertPINsOnlyInDMs scans every Slack call, every log line and the
// journal for the PINs of every locked Mac: each may appear only in a
// chat.postMessage to a DM channel opened for one of allowed.
func (h *harness) assertPINsOnlyInDMs(allowed ...string) {
	h.t.Helper()
	var pins []string
	for _, d := range tenant {
		if p := h.kandji.PIN(d.ID); p != "" {
			pins = append(pins, p)
		}
	}
	dms := map[string]bool{}
	for _, u := range allowed {
		dms[h.slack.DMChannel(u)] = true
	}
	journal, err := os.ReadFile(h.journal)
	require.NoError(h.t, err)
	for _, p := range pins {
		for _, m := range h.slack.Messages() {
			if strings.Contains(m.AllText(), p) || strings.Contains(string(m.Blocks), p) {
				require.True(h.t, m.Kind == slackfake.KindPost && dms[m.Channel], "PIN leaked in a %s to %s", m.Kind, m.Channel)
			}
		}
		for _, c := range h.slack.Calls() {
			if c.Method == "chat.postMessage" && dms[c.Params["channel"]] {
				continue
			}
			for k, v := range c.Params {
				require.NotContains(h.t, v, p, "PIN leaked in %s param %s", c.Method, k)
			}
		}
		require.NotContains(h.t, h.logs.String(), p, "PIN leaked in the logs")
		require.NotContains(h.t, string(journal), p, "PIN leaked in the journal")
	}
}

// oktaEvent is one event of a test delivery.
type oktaEvent struct {
	UUID, Type, UserID, Login, Name, Actor string
	Published                              time.Time
}

// delivery renders an Okta event hook body. The User target is put after
// an AppInstance target on purpose: lockbot must find it by type.
func delivery(evs ...oktaEvent) []byte {
	type target struct {
		ID          string `json:"id"`
		Type        string `json:"type"`
		AlternateID string `json:"alternateId"`
		DisplayName string `json:"displayName"`
	}
	var events []map[string]any
	for _, e := range evs {
		if e.Published.IsZero() {
			e.Published = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		}
		events = append(events, map[string]any{
			"uuid": e.UUID, "published": e.Published.Format(time.RFC3339Nano), "eventType": e.Type, "version": "0",
			"displayMessage": "Suspend Okta user", "severity": "INFO",
			"actor":  map[string]any{"id": "00uadmin", "type": "User", "alternateId": e.Actor, "displayName": "Ada Admin"},
			"client": map[string]any{"ipAddress": "198.51.100.7"},
			"target": []target{
				{ID: "0oaapp", Type: "AppInstance", AlternateID: "Slack", DisplayName: "Slack"},
				{ID: e.UserID, Type: "User", AlternateID: e.Login, DisplayName: e.Name},
			},
		})
	}
	body, _ := json.Marshal(map[string]any{
		"eventType": "com.okta.event_hook", "eventTypeVersion": "1.0", "cloudEventsVersion": "0.1",
		"source": "https://corp.okta.com/api/v1/eventHooks/who1", "eventId": "delivery-" + evs[0].UUID,
		"eventTime": "2026-11-23T10:00:01.000Z", "contentType": "application/json",
		"data": map[string]any{"events": events},
	})
	return body
}

// deliver POSTs a delivery to the real hook handler, as Okta would.
func (h *harness) deliver(evs ...oktaEvent) {
	h.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/hooks/okta", bytes.NewReader(delivery(evs...)))
	req.Header.Set("Authorization", "hook-secret")
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.hook.ServeHTTP(rec, req)
	require.Equal(h.t, http.StatusOK, rec.Code, rec.Body.String())
}

func suspend(uuid, login string) oktaEvent {
	return oktaEvent{UUID: uuid, Type: okta.EventSuspend, UserID: "00u" + uuid, Login: login, Name: "Bob Builder", Actor: "ada.admin@corp.com"}
}

// ready reports whether the bot says it can take work.
func (h *harness) ready() bool {
	ok, _ := h.bot.Readiness()
	return ok
}
