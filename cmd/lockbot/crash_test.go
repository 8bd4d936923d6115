package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/approvals/postgres/postgrestest"
	"github.com/lockbot/lockbot/approvals/sqlite/sqlitetest"
	"github.com/lockbot/lockbot/bot/cards"
	"github.com/lockbot/lockbot/bot/slackfake"
	"github.com/lockbot/lockbot/kandji/kandjitest"
)

// childEnv marks the test binary run as `lockbot serve` by a crash test.
const childEnv = "LOCKBOT_TEST_CHILD"

// TestMain lets a crash test run the real lockbot in a process of its own,
// which it can kill -9 at any step.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "serve" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, []string{"serve"}, os.Getenv, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(postgrestest.Main(m))
}

// child is a lockbot serve process started by a crash test.
type child struct {
	t    *testing.T
	cmd  *exec.Cmd
	logs *syncBuffer
	base string
	done chan error
}

// startChild runs `lockbot serve` with w's environment in a new process.
func startChild(t *testing.T, w *world) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = []string{childEnv + "=serve", "PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range w.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	c := &child{t: t, cmd: cmd, logs: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = c.logs, c.logs
	require.NoError(t, cmd.Start())
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(c.kill)
	c.base = listenAddr(t, c.logs)
	return c
}

// kill ends the process as a crash would: SIGKILL, nothing flushed.
func (c *child) kill() {
	if c.cmd.ProcessState != nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-c.done:
	case <-time.After(20 * time.Second):
		c.t.Error("the killed lockbot did not exit")
	}
}

// stop ends the process gracefully.
func (c *child) stop() {
	c.t.Helper()
	require.NoError(c.t, c.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-c.done:
		require.NoError(c.t, err, c.logs.String())
	case <-time.After(40 * time.Second):
		c.t.Fatal("lockbot did not stop after SIGTERM")
	}
}

// ready waits until the process says it can take work.
func (c *child) ready() {
	c.t.Helper()
	require.Eventually(c.t, func() bool {
		resp, err := http.Get(c.base + "/readyz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 10*time.Millisecond, c.logs.String())
}

// hook posts a suspend of login to the process.
func (c *child) hook(uuid, login string) {
	c.t.Helper()
	body := strings.NewReplacer("{uuid}", uuid, "{login}", login).Replace(`{"eventType":"com.okta.event_hook","eventTypeVersion":"1.0","cloudEventsVersion":"0.1","eventId":"d-{uuid}","data":{"events":[{"uuid":"{uuid}","published":"2026-11-23T10:00:00.000Z","eventType":"user.lifecycle.suspend","displayMessage":"Suspend Okta user","actor":{"id":"00uadmin","type":"User","alternateId":"ada.admin@acme.example","displayName":"Ada Admin"},"target":[{"id":"00u{uuid}","type":"User","alternateId":"{login}","displayName":"Jane Doe"}]}]}}`)
	req, err := http.NewRequest(http.MethodPost, c.base+"/hooks/okta", strings.NewReader(body))
	require.NoError(c.t, err)
	req.Header.Set("Authorization", hookSecret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	_ = resp.Body.Close()
	require.Equal(c.t, http.StatusOK, resp.StatusCode)
}

// crashWorld is a world whose tenant holds Jane's three devices, with the
// lock answers of Kandji slowed so a crash can land between a lock sent and
// its answer.
func crashWorld(t *testing.T) *world {
	w := newWorld(t)
	w.tenant.AddDevices(
		kandjitest.Device{ID: "jane-mini", Name: "Jane's Mac mini", Platform: "Mac", Serial: "C02JANE0002", UserEmail: "jane.doe@acme.example"},
		kandjitest.Device{ID: "jane-phone", Name: "Jane's iPhone", Platform: "iPhone", Serial: "F17JANE0003", UserEmail: "jane.doe@acme.example"},
	)
	w.env["LOCKBOT_STATE_DIR"] = sqlitetest.Dir(t)
	w.env["LOG_LEVEL"] = "info"
	return w
}

var janeDevices = []string{"jane-mac", "jane-mini", "jane-phone"}

// assertLockedOnce checks that every device of Jane was locked by exactly
// one accepted lock (a repeat after a crash is answered "already locked"),
// nobody else's was, and the journal records each device's result once.
func assertLockedOnce(t *testing.T, w *world) {
	t.Helper()
	for _, id := range janeDevices {
		a := w.tenant.LockAnswers(id)
		assert.Equal(t, 1, a.Accepted, "%s: one lock accepted; repeats answered already locked (%+v)", id, a)
		assert.True(t, w.tenant.Locked(id), id)
	}
	assert.Zero(t, w.tenant.LockPosts("xjane-mac"), "never a look-alike")
	s, err := openJournal(t.Context(), w.getenv)
	require.NoError(t, err)
	defer s.Close()
	var recs []approvals.Record
	require.NoError(t, s.View(t.Context(), func(tx approvals.Tx) error {
		var err error
		recs, err = tx.Records(approvals.Filter{Kinds: []approvals.Kind{approvals.KindLockResult}}, 0)
		return err
	}))
	per := map[string]int{}
	for _, r := range recs {
		if id := r.Details["device_id"]; !slices.Contains(janeDevices, id) && id != "xjane-mac" {
			continue // someone else's
		}
		per[r.Details["device_id"]]++
		assert.True(t, approvals.Outcome(r.Details["outcome"]).Secured(), "the journal records only locks Kandji confirmed: %v", r.Details)
	}
	assert.Equal(t, map[string]int{"jane-mac": 1, "jane-mini": 1, "jane-phone": 1}, per, "one result per device, no record of a lock that did not happen")
}

// waitSlack waits for a message matching every condition.
func waitSlack(t *testing.T, w *world, conds ...func(slackfake.Message) bool) slackfake.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	m, err := w.slack.WaitMessage(ctx, func(m slackfake.Message) bool {
		for _, c := range conds {
			if !c(m) {
				return false
			}
		}
		return true
	})
	require.NoError(t, err)
	return m
}

func shownIn(channel string) func(slackfake.Message) bool {
	return func(m slackfake.Message) bool {
		return m.Channel == channel && (m.Kind == slackfake.KindPost || m.Kind == slackfake.KindUpdate)
	}
}

func saying(s string) func(slackfake.Message) bool {
	return func(m slackfake.Message) bool { return strings.Contains(m.AllText(), s) }
}

// kandjiSaw waits until the tenant received a request matching match.
func kandjiSaw(t *testing.T, w *world, what string, match func(kandjitest.Request) bool) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, r := range w.tenant.Requests() {
			if match(r) {
				return true
			}
		}
		return false
	}, 30*time.Second, time.Millisecond, "Kandji never saw %s", what)
}

func isLock(r kandjitest.Request) bool {
	return r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/action/lock")
}

func isLookup(r kandjitest.Request) bool {
	return r.Method == http.MethodGet && r.Path == "/api/v1/devices"
}

// TestCrashDuringAutomaticLock kills lockbot at each step of an automatic
// lock and restarts it: every device ends locked exactly once, the report
// shows the final state, and the journal has no record of a lock that did
// not happen.
func TestCrashDuringAutomaticLock(t *testing.T) {
	steps := []struct {
		name  string
		setup func(w *world)
		crash func(t *testing.T, w *world)
	}{
		{"after the hook answered", func(w *world) { w.tenant.SetLatency(300 * time.Millisecond) },
			func(*testing.T, *world) {}},
		{"during the lookup", func(w *world) { w.tenant.SetLatency(300 * time.Millisecond) },
			func(t *testing.T, w *world) { kandjiSaw(t, w, "a lookup", isLookup) }},
		{"with a lock sent and its answer not back", func(w *world) { w.tenant.SetLockAnswerDelay(2 * time.Second) },
			func(t *testing.T, w *world) { kandjiSaw(t, w, "a lock", isLock) }},
		{"after the locks, before the report", func(w *world) { w.slack.FailNext("chat.update", 1000, "service_unavailable") },
			func(t *testing.T, w *world) {
				require.Eventually(t, func() bool {
					for _, id := range janeDevices {
						if !w.tenant.Locked(id) {
							return false
						}
					}
					return true
				}, 30*time.Second, time.Millisecond)
			}},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			w := crashWorld(t)
			step.setup(w)
			c := startChild(t, w)
			c.ready()
			c.hook("c0ffee00-0000-4000-8000-000000000001", "jane.doe@acme.example")
			step.crash(t, w)
			c.kill()

			w.tenant.SetLatency(0)
			w.tenant.SetLockAnswerDelay(0)
			w.slack.FailNext("chat.update", 0, "")
			c = startChild(t, w)
			report := waitSlack(t, w, shownIn(alerts), saying("jane.doe@acme.example"), saying("Locked automatically"))
			assert.Contains(t, report.AllText(), "3 of 3 devices secured")
			c.stop()
			assertLockedOnce(t, w)
		})
	}
}

// TestCrashDuringManualLock kills lockbot while an approved lock is under
// way (it used to leave the request "executing" and the card saying
// "Locking now…" forever) and at the PIN DM: after a restart every device
// is locked exactly once and the card shows the final state.
func TestCrashDuringManualLock(t *testing.T) {
	steps := []struct {
		name  string
		setup func(w *world)
		crash func(t *testing.T, w *world)
	}{
		{"with a lock sent and its answer not back", func(w *world) { w.tenant.SetLockAnswerDelay(2 * time.Second) },
			func(t *testing.T, w *world) { kandjiSaw(t, w, "a lock", isLock) }},
		{"while the PINs are read", func(w *world) { w.tenant.SetLatency(0) },
			func(t *testing.T, w *world) {
				kandjiSaw(t, w, "a PIN read", func(r kandjitest.Request) bool { return strings.HasSuffix(r.Path, "/secrets/unlockpin") })
			}},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			w := crashWorld(t)
			step.setup(w)
			c := startChild(t, w)
			c.ready()
			_, err := w.slack.SlashCommand(t.Context(), approver2, helpdesk, "/lock", "jane.doe@acme.example laptop stolen")
			require.NoError(t, err)
			card := waitSlack(t, w, shownIn(approvalCh), saying("Lock request: jane.doe@acme.example"))
			_, err = w.slack.Click(t.Context(), approver, card, cards.ActionApprove)
			require.NoError(t, err)
			step.crash(t, w)
			c.kill()

			w.tenant.SetLockAnswerDelay(0)
			c = startChild(t, w)
			done := waitSlack(t, w, shownIn(approvalCh), func(m slackfake.Message) bool { return m.TS == card.TS }, saying("Done"), saying("3 of 3 devices secured"))
			assert.Empty(t, done.Buttons())
			waitSlack(t, w, func(m slackfake.Message) bool {
				return m.Kind == slackfake.KindPost && m.Channel == w.slack.DMChannel(approver) && strings.Contains(m.AllText(), "Unlock PINs")
			})
			c.stop()
			assertLockedOnce(t, w)
			for _, m := range w.slack.Messages() {
				for _, id := range []string{"jane-mac", "jane-mini"} {
					if p := w.tenant.PIN(id); p != "" && strings.Contains(m.AllText(), p) {
						assert.Equal(t, w.slack.DMChannel(approver), m.Channel, "a PIN only in the approver's DM")
					}
				}
			}
		})
	}
}

// TestSecondServeOnOneDirectoryIsRefused: a second lockbot on a state
// directory in use refuses to start, naming the process that holds it,
// instead of locking and reporting every event twice.
func TestSecondServeOnOneDirectoryIsRefused(t *testing.T) {
	w := crashWorld(t)
	first := startChild(t, w)
	first.ready()
	second := newWorld(t)
	second.env["LOCKBOT_STATE_DIR"] = w.env["LOCKBOT_STATE_DIR"]
	var logs bytes.Buffer
	assert.Equal(t, exitFailed, run(t.Context(), nil, second.getenv, &logs, &logs))
	assert.Contains(t, logs.String(), "in use by another lockbot")
	assert.Contains(t, logs.String(), "pid "+strconv.Itoa(first.cmd.Process.Pid))
	first.stop()
}
