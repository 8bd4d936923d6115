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
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/approvals/postgres"
	"github.com/lockbot/lockbot/approvals/postgres/postgrestest"
	"github.com/lockbot/lockbot/approvals/sqlite"
	"github.com/lockbot/lockbot/approvals/sqlite/sqlitetest"
	"github.com/lockbot/lockbot/bot/lockflow"
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
	partner  = "UPARTNER1" // a Slack Connect user from another company, in the shared approval channel
	stranger = "USTRANGE1" // someone of another organisation Slack tells nothing about
	botUser  = "UROBOT01"
	gone     = "UGONE001"
	approval = "CAPPROVAL"
	notifyCh = "CNOTIFY01"
	general  = "CGENERAL1"
	victim   = "bob@corp.com"
)

// tenant is the fake Kandji tenant: Bob's three devices, the substring
// traps that must never be locked with them, and an unassigned iPad.
var tenant = []kandjitest.Device{
	{ID: "dev-bob-mac", Name: "Bob's MacBook Pro", Model: "MacBook Pro (14-inch, 2023)", Serial: "C02BOBMAC1", Platform: "Mac", UserEmail: victim, UserName: "Bob Builder", LastCheckIn: "2026-11-23T09:15:00.000000Z"},
	{ID: "dev-bob-mini", Name: "Bob's Mac mini", Model: "Mac mini (M2)", Serial: "C02BOBMINI", Platform: "Mac", UserEmail: victim, UserName: "Bob Builder", LastCheckIn: "2026-11-22 18:01:02.123456+00:00"},
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

// hang bounds every wait: a flow that never gets there fails the test
// instead of hanging it. It is not a speed requirement: under -race, on
// two cores shared with another run of the suite, a burst is slow.
const hang = 60 * time.Second

// harness runs the real bot against fake Slack and Kandji servers, on a
// real store in a directory, with the real Okta hook handler in front.
type harness struct {
	t      testing.TB
	slack  *slackfake.Server
	kandji *kandjitest.Server
	store  approvals.Store
	hook   http.Handler
	bot    *Bot
	logs   *logBuffer
	logger *slog.Logger
	dir    string
	cfg    Config
	deps   Deps
	cancel context.CancelFunc
	done   chan error
	// events are the UUIDs of the Okta events delivered, whose handling
	// settled waits for.
	events []string
	// stopGrace is how long a stop lets the tasks under way finish; a
	// tiny one makes a stop abandon work as a crash does.
	stopGrace time.Duration
	// pgURL, when set, runs the bot on that Postgres database instead of
	// a SQLite file, as one of several replicas.
	pgURL string
	// sharedRate, when set, gives the bot a Kandji client of that many
	// calls a second that takes its tokens from the store's shared budget,
	// with sharedOpts.
	sharedRate int
	sharedOpts []kandji.Option
}

// harnessOption adjusts the bot's configuration and collaborators before
// it starts; the fakes already exist.
type harnessOption func(*harness, *Config, *Deps)

// workspace is the fake Slack of the tests: the app installed with the
// manifest's scopes and invited to its two channels, where everyone is a
// member.
func workspace(extra ...slackfake.Option) *slackfake.Server {
	everyone := []string{alice, dave, erin, carol, guest}
	opts := []slackfake.Option{
		slackfake.WithUsers(
			slackfake.User{ID: alice, Name: "alice", RealName: "Alice Admin", Email: "alice@corp.com"},
			slackfake.User{ID: dave, Name: "dave", RealName: "Dave Approver", Email: "dave@corp.com"},
			slackfake.User{ID: erin, Name: "erin", RealName: "Erin Approver", Email: "erin@corp.com"},
			slackfake.User{ID: carol, Name: "carol", RealName: "Carol Member", Email: "carol@corp.com"},
			slackfake.User{ID: guest, Name: "guest", RealName: "Gus Guest", IsRestricted: true},
			slackfake.User{ID: partner, Name: "pat", RealName: "Pat Partner", Email: "pat@partner.example", TeamID: "TPARTNER1"},
			slackfake.User{ID: stranger, TeamID: "TOTHER001", IsStranger: true},
			slackfake.User{ID: botUser, Name: "robot", IsBot: true},
			slackfake.User{ID: gone, Name: "gone", Deleted: true},
		),
		slackfake.WithChannels(approval, notifyCh, general),
		slackfake.WithChannelMembers(approval, append(everyone, partner, stranger)...),
		slackfake.WithChannelMembers(notifyCh, everyone...),
		slackfake.WithChannelMembers(general, everyone...),
		slackfake.WithUserGroup("SAPPROVE1", erin),
		slackfake.WithoutRateLimits(),
	}
	return slackfake.New(append(opts, extra...)...)
}

func newHarness(t testing.TB, opts ...harnessOption) *harness {
	t.Helper()
	return newHarnessWith(t, workspace(), opts...)
}

func newHarnessWith(t testing.TB, slack *slackfake.Server, opts ...harnessOption) *harness {
	t.Helper()
	h := &harness{t: t, logs: &logBuffer{}, slack: slack}
	t.Cleanup(h.slack.Close)
	h.kandji = kandjitest.NewServer(kandjitest.WithDevices(tenant...))
	t.Cleanup(h.kandji.Close)
	h.logger = slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.dir = sqlitetest.Dir(t)
	cfg := Config{
		BotToken: h.slack.BotToken(), AppToken: h.slack.AppToken(), APIURL: h.slack.APIURL(),
		ApprovalChannel: approval, NotifyChannel: notifyCh,
		Approvers: []string{dave, alice}, ApproverGroup: "SAPPROVE1",
		Flow: lockflow.Config{
			AutoLockEvents: okta.DefaultAutoLockTypes(), ApproveEvents: []string{okta.EventRiskDetect},
			LockMessage: "This Mac was locked by IT. Call the help desk.", LockPhone: "+1 555 0100",
			FirstRetry: 10 * time.Millisecond,
		},
		SlackBackoff: time.Millisecond, ShutdownTimeout: 5 * time.Second,
		ReportGap: 5 * time.Millisecond, DigestQuiet: 100 * time.Millisecond, WriterPoll: 50 * time.Millisecond,
		RetryPause: 10 * time.Millisecond,
	}
	deps := Deps{Kandji: h.kandjiClient(1000), Logger: h.logger}
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

// start opens the store under h.dir and runs a bot on it, as a process
// start does.
func (h *harness) start() {
	t := h.t
	var err error
	if h.pgURL != "" {
		h.store, err = postgres.Open(context.Background(), h.pgURL, postgres.Options{Logger: h.logger, PollInterval: 500 * time.Millisecond,
			StopGrace: h.stopGrace, Heartbeat: 100 * time.Millisecond, DeadAfter: time.Second, OrphanCheck: 100 * time.Millisecond,
			LeaseTTL: time.Second, LeaseRenew: 200 * time.Millisecond})
	} else {
		h.store, err = sqlite.Open(context.Background(), h.dir, sqlite.Options{Logger: h.logger, PollInterval: time.Second,
			OrphanCheck: 50 * time.Millisecond, OrphanAfter: time.Second, StopGrace: h.stopGrace})
	}
	require.NoError(t, err)
	deps := h.deps
	deps.Store = h.store
	if h.sharedRate > 0 {
		budget, err := approvals.NewBudget(h.store, "kandji", h.sharedRate*3600, nil)
		require.NoError(t, err)
		deps.Kandji = h.kandjiClient(h.sharedRate, append(slices.Clone(h.sharedOpts), kandji.WithSharedBudget(budget))...)
	}
	h.bot, err = New(h.cfg, deps)
	require.NoError(t, err)
	hook, err := okta.NewHookHandler(okta.HookConfig{Secret: "hook-secret",
		Types: append(append([]string(nil), h.cfg.Flow.AutoLockEvents...), h.cfg.Flow.ApproveEvents...), Admitter: h.bot.Flow(), Logger: h.logger})
	require.NoError(t, err)
	h.hook = hook
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.done = make(chan error, 1)
	go func() { h.done <- h.bot.Run(ctx) }()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	require.NoError(t, h.slack.WaitConnected(wctx))
	// Another replica's connection satisfies WaitConnected: wait for ours.
	require.Eventually(t, h.ready, hang, 5*time.Millisecond, "the bot connected to Slack")
}

// restart stops the bot, closes its store and starts a new one on the
// same directory, Slack and Kandji.
func (h *harness) restart() {
	h.stop()
	h.start()
}

// stop cancels the bot, waits for Run to return and closes the store.
func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		require.NoError(h.t, err)
	case <-time.After(30 * time.Second):
		h.t.Fatal("bot did not stop within 30s of cancel")
	}
	require.NoError(h.t, h.store.Close())
}

func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	h.t.Cleanup(cancel)
	return ctx
}

func (h *harness) command(user, text string) slackfake.Ack {
	h.t.Helper()
	ack, err := h.slack.SlashCommand(h.ctx(), user, general, "/lock", text)
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

// shown matches a message posted or edited into what the condition says.
func shown() func(slackfake.Message) bool {
	return func(m slackfake.Message) bool { return m.Kind == slackfake.KindPost || m.Kind == slackfake.KindUpdate }
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

// current returns the message as it is now, after every update.
func (h *harness) current(m slackfake.Message) slackfake.Message {
	h.t.Helper()
	cur, ok := h.slack.Current(m.Channel, m.TS)
	require.True(h.t, ok)
	return cur
}

// report waits for the automatic lock report about target to say s.
func (h *harness) report(target, s string) slackfake.Message {
	h.t.Helper()
	return h.waitFor(shown(), in(notifyCh), says(target), says(s))
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

// journal reads the audit journal as stored so far.
func (h *harness) journal(f approvals.Filter) []approvals.Record {
	h.t.Helper()
	var recs []approvals.Record
	require.NoError(h.t, h.store.View(context.Background(), func(tx approvals.Tx) error {
		var err error
		recs, err = tx.Records(f, 0)
		return err
	}))
	return recs
}

// storedBytes is every byte of the store's files, for the secret scans.
func (h *harness) storedBytes() []byte {
	h.t.Helper()
	if h.pgURL != "" {
		return postgrestest.Dump(h.t, h.pgURL)
	}
	var all []byte
	for _, f := range []string{sqlite.FileName, sqlite.FileName + "-wal"} {
		b, err := os.ReadFile(filepath.Join(h.dir, f))
		if err == nil {
			all = append(all, b...)
		}
	}
	require.NotEmpty(h.t, all)
	return all
}

// assertPINsOnlyInDMs scans every Slack call, every log line and every
// byte of the store for the PINs of every locked Mac: each may appear only
// in a chat.postMessage to a DM channel opened for one of allowed.
func (h *harness) assertPINsOnlyInDMs(allowed ...string) {
	h.t.Helper()
	var pins []string
	for d, err := range h.kandjiClient(1000).Inventory(h.ctx()) {
		require.NoError(h.t, err)
		if p := h.kandji.PIN(d.ID); p != "" {
			pins = append(pins, p)
		}
	}
	dms := map[string]bool{}
	for _, u := range allowed {
		dms[h.slack.DMChannel(u)] = true
	}
	stored := string(h.storedBytes())
	logs := h.logs.String()
	for _, p := range pins {
		for _, m := range h.slack.Messages() {
			if kandjitest.ContainsPIN(m.AllText(), p) || kandjitest.ContainsPIN(string(m.Blocks), p) {
				require.True(h.t, m.Kind == slackfake.KindPost && dms[m.Channel], "PIN leaked in a %s to %s", m.Kind, m.Channel)
			}
		}
		for _, c := range h.slack.Calls() {
			if c.Method == "chat.postMessage" && dms[c.Params["channel"]] {
				continue
			}
			for k, v := range c.Params {
				require.False(h.t, kandjitest.ContainsPIN(v, p), "PIN leaked in %s param %s: %s", c.Method, k, v)
			}
		}
		require.False(h.t, kandjitest.ContainsPIN(logs, p), "PIN %s leaked in the logs", p)
		require.False(h.t, kandjitest.ContainsPIN(stored, p), "PIN %s leaked into the store", p)
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

// post POSTs a delivery to the real hook handler, as Okta would, and
// returns the status it answered.
func (h *harness) post(evs ...oktaEvent) int {
	h.t.Helper()
	for _, e := range evs {
		h.events = append(h.events, e.UUID)
	}
	req := httptest.NewRequest(http.MethodPost, "/hooks/okta", bytes.NewReader(delivery(evs...)))
	req.Header.Set("Authorization", "hook-secret")
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.hook.ServeHTTP(rec, req)
	return rec.Code
}

// deliver is post, requiring a 200.
func (h *harness) deliver(evs ...oktaEvent) {
	h.t.Helper()
	require.Equal(h.t, http.StatusOK, h.post(evs...))
}

func suspend(uuid, login string) oktaEvent {
	return oktaEvent{UUID: uuid, Type: okta.EventSuspend, UserID: "00u" + uuid, Login: login, Name: "Bob Builder", Actor: "ada.admin@corp.com"}
}

// ready reports whether the bot says it can take work.
func (h *harness) ready() bool {
	ok, _ := h.bot.Readiness()
	return ok
}
