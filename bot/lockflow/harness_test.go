package lockflow_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/approvals/sqlite"
	"github.com/lockbot/lockbot/approvals/sqlite/sqlitetest"
	"github.com/lockbot/lockbot/bot/lockflow"
	"github.com/lockbot/lockbot/kandji"
	"github.com/lockbot/lockbot/kandji/kandjitest"
	"github.com/lockbot/lockbot/okta"
	"github.com/lockbot/lockbot/okta/oktatest"
)

// hang bounds every wait: a flow that never gets there fails the test
// instead of hanging it. It is not a speed requirement.
const hang = 60 * time.Second

// logBuffer collects the log lines, for the secret scans.
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

// world is a lock flow on an in-memory store against a fake Kandji tenant
// and, when asked, a fake Okta org, with its tasks running.
type world struct {
	t      *testing.T
	store  approvals.Store
	engine *approvals.Engine
	flow   *lockflow.Flow
	kandji *kandjitest.Server
	okta   *oktatest.Server
	logs   *logBuffer
	pins   chan string // keys of the PIN tasks the flow scheduled
	clock  *clock      // the flow's clock, when a test moves it
}

type worldOption func(*world, *lockflow.Config, *[]kandji.Option)

// clock is a settable clock for the flow's own timestamps.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// withOkta gives the flow a fake Okta org to read users from.
func withOkta(users ...oktatest.User) worldOption {
	return func(w *world, _ *lockflow.Config, _ *[]kandji.Option) {
		w.okta = oktatest.NewServer(oktatest.WithUsers(users...))
		w.t.Cleanup(w.okta.Close)
	}
}

// withClock runs the flow on a clock the test moves.
func withClock() worldOption {
	return func(w *world, _ *lockflow.Config, _ *[]kandji.Option) { w.clock = &clock{t: time.Now()} }
}

func withConfig(fn func(*lockflow.Config)) worldOption {
	return func(_ *world, c *lockflow.Config, _ *[]kandji.Option) { fn(c) }
}

func newWorld(t *testing.T, devices []kandjitest.Device, opts ...worldOption) *world {
	t.Helper()
	w := &world{t: t, logs: &logBuffer{}, pins: make(chan string, 16)}
	w.kandji = kandjitest.NewServer(kandjitest.WithDevices(devices...))
	t.Cleanup(w.kandji.Close)
	cfg := lockflow.Config{
		NotifyChannel: "CNOTIFY", ApprovalChannel: "CAPPROVE",
		AutoLockEvents: okta.DefaultAutoLockTypes(), ApproveEvents: []string{okta.EventRiskDetect},
		LockMessage: "Locked by IT", FirstRetry: 20 * time.Millisecond, Deadline: time.Hour,
	}
	kopts := []kandji.Option{kandji.WithRatePerHour(3600 * 1000), kandji.WithRetries(2, time.Millisecond, 5*time.Millisecond)}
	for _, o := range opts {
		o(w, &cfg, &kopts)
	}
	log := slog.New(slog.NewJSONHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var err error
	w.store, err = sqlite.Open(t.Context(), sqlitetest.Dir(t), sqlite.Options{PollInterval: 50 * time.Millisecond, Logger: log})
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.store.Close() })
	kc, err := kandji.New(w.kandji.URL(), w.kandji.Token(), append(kopts, kandji.WithLogger(log))...)
	require.NoError(t, err)
	w.engine = approvals.NewEngine(w.store, approvals.AuthorizerFunc(func(context.Context, string) (bool, error) { return true, nil }),
		approvals.WithCardChannel("CAPPROVE"), approvals.WithLockDeadline(cfg.Deadline))
	deps := lockflow.Deps{Store: w.store, Engine: w.engine, Kandji: kc, Logger: log}
	if w.clock != nil {
		deps.Now = w.clock.Now
	}
	if w.okta != nil {
		dir, err := okta.NewDirectory(t.Context(), w.okta.URL(), w.okta.Token())
		require.NoError(t, err)
		deps.Directory = dir
	}
	w.flow, err = lockflow.New(cfg, deps)
	require.NoError(t, err)
	handlers := w.flow.Handlers()
	handlers[approvals.TaskPINs] = approvals.Handler{Workers: 1, Run: func(_ context.Context, r approvals.TaskRun) error {
		w.pins <- r.Key
		return nil
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.store.Work(ctx, handlers) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done)
	})
	return w
}

// event is a suspend (or other) event about login.
func event(uuid, typ, userID, login string) okta.Event {
	return okta.Event{UUID: uuid, Type: typ, Published: time.Now().UTC(), UserID: userID, Login: login, Email: login,
		Actor: okta.Actor{AlternateID: "ada.admin@corp.com", DisplayName: "Ada Admin"}, Source: okta.SourceHook}
}

// admit admits evs as the hook would and returns the newly admitted ones.
func (w *world) admit(evs ...okta.Event) []okta.Event {
	w.t.Helper()
	got, err := w.flow.Admit(w.t.Context(), evs)
	require.NoError(w.t, err)
	return got
}

// lockOf waits for the lock job an event joined and returns it once cond
// holds.
func (w *world) lockOf(uuid string, cond func(approvals.LockJob) bool) approvals.LockJob {
	w.t.Helper()
	var j approvals.LockJob
	require.Eventually(w.t, func() bool {
		err := w.store.View(context.Background(), func(tx approvals.Tx) error {
			t, err := tx.Trigger("okta:" + uuid)
			if err != nil || t.LockID == "" {
				return approvals.ErrNotFound
			}
			j, err = tx.Lock(t.LockID)
			return err
		})
		return err == nil && cond(j)
	}, hang, 5*time.Millisecond, "lock of %s never got there; last seen %+v", uuid, j)
	return j
}

// final is the condition "the job is over".
func final(j approvals.LockJob) bool { return j.State.Final() }

// records returns the journal records f selects.
func (w *world) records(f approvals.Filter) []approvals.Record {
	w.t.Helper()
	var recs []approvals.Record
	require.NoError(w.t, w.store.View(w.t.Context(), func(tx approvals.Tx) error {
		var err error
		recs, err = tx.Records(f, 0)
		return err
	}))
	return recs
}

// outcomes maps each device of j to its outcome.
func outcomes(j approvals.LockJob) map[string]approvals.Outcome {
	out := map[string]approvals.Outcome{}
	for _, d := range j.Devices {
		out[d.ID] = d.Outcome
	}
	return out
}
