package rivertask

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals"
)

func job(kind string, attempt int) *river.Job[Args] {
	return &river.Job[Args]{JobRow: &rivertype.JobRow{Attempt: attempt}, Args: Args{TaskKind: kind, TaskKey: "k1"}}
}

// snoozed is the delay of a River snooze, or -1.
func snoozed(err error) time.Duration {
	var s *rivertype.JobSnoozeError
	if errors.As(err, &s) {
		return s.Duration
	}
	return -1
}

func TestWorker(t *testing.T) {
	var logs bytes.Buffer
	boom := errors.New("kandji unreachable")
	var got approvals.TaskRun
	w := &Worker{Log: slog.New(slog.NewTextHandler(&logs, nil)), Handlers: map[string]approvals.Handler{
		"ok":    {Run: func(_ context.Context, r approvals.TaskRun) error { got = r; return nil }},
		"later": {Run: func(context.Context, approvals.TaskRun) error { return approvals.RetryAfter(42*time.Second, nil) }},
		"fails": {Timeout: 3 * time.Minute, Run: func(context.Context, approvals.TaskRun) error { return boom }},
	}}
	ctx := context.Background()

	require.NoError(t, w.Work(ctx, job("ok", 2)))
	assert.Equal(t, approvals.TaskRun{Task: approvals.Task{Kind: "ok", Key: "k1"}, Attempt: 2}, got)
	assert.Equal(t, 42*time.Second, snoozed(w.Work(ctx, job("later", 1))), "RetryAfter snoozes: no attempt is used up")
	assert.Equal(t, time.Minute, snoozed(w.Work(ctx, job("unknown", 1))), "a kind without a handler is left for later, not dropped")

	err := w.Work(ctx, job("fails", 3))
	require.ErrorIs(t, err, boom)
	assert.Contains(t, logs.String(), "task failed; it will be tried again")
	assert.Contains(t, logs.String(), "retry_in=4s")
	assert.Equal(t, 3*time.Minute, w.Timeout(job("fails", 1)))
	assert.Equal(t, DefaultTimeout, w.Timeout(job("ok", 1)))
	assert.WithinDuration(t, time.Now().Add(4*time.Second), w.NextRetry(job("fails", 3)), time.Second)
}

func TestWorkerAround(t *testing.T) {
	ran, done := false, false
	w := &Worker{Log: slog.New(slog.DiscardHandler), Handlers: map[string]approvals.Handler{
		"ok": {Run: func(ctx context.Context, _ approvals.TaskRun) error {
			ran = true
			assert.Equal(t, "marked", ctx.Value(ctxKey{}), "the handler runs in Around's context")
			return nil
		}},
	}}
	w.Around = func(ctx context.Context, _ *river.Job[Args]) (context.Context, func(), bool) {
		return context.WithValue(ctx, ctxKey{}, "marked"), func() { done = true }, true
	}
	require.NoError(t, w.Work(context.Background(), job("ok", 1)))
	assert.True(t, ran)
	assert.True(t, done, "Around's done runs after the handler")

	ran = false
	w.Around = func(context.Context, *river.Job[Args]) (context.Context, func(), bool) { return nil, nil, false }
	assert.Equal(t, time.Second, snoozed(w.Work(context.Background(), job("ok", 1))), "put off when the store cannot vouch for it")
	assert.False(t, ran)
}

type ctxKey struct{}

func TestQueues(t *testing.T) {
	q, longest, err := Queues(map[string]approvals.Handler{
		"lock":    {Workers: 32, Timeout: 5 * time.Minute, Run: func(context.Context, approvals.TaskRun) error { return nil }},
		"trigger": {Run: func(context.Context, approvals.TaskRun) error { return nil }},
	})
	require.NoError(t, err)
	assert.Equal(t, map[string]river.QueueConfig{"lock": {MaxWorkers: 32}, "trigger": {MaxWorkers: 1}}, q)
	assert.Equal(t, 5*time.Minute, longest)
	_, _, err = Queues(map[string]approvals.Handler{"broken": {}})
	assert.ErrorContains(t, err, `the handler of "broken" has no Run`)
}

func TestInsertIsUniquePerKindAndKey(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	p := Insert(approvals.Task{Kind: "lock", Key: "L1", At: at})
	assert.Equal(t, Args{TaskKind: "lock", TaskKey: "L1"}, p.Args)
	assert.Equal(t, "lock", p.InsertOpts.Queue)
	assert.Equal(t, at, p.InsertOpts.ScheduledAt)
	assert.True(t, p.InsertOpts.UniqueOpts.ByArgs && p.InsertOpts.UniqueOpts.ByQueue)
	assert.Equal(t, "lockbot_task", Args{}.Kind(), "the job kind both stores' databases already hold")
}

func TestLoggerKeepsWarningsOnly(t *testing.T) {
	var buf bytes.Buffer
	l := Logger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))).With("a", 1).WithGroup("g")
	l.Info("river machinery")
	l.Warn("river trouble")
	assert.NotContains(t, buf.String(), "machinery")
	assert.Contains(t, buf.String(), "river trouble")
}
