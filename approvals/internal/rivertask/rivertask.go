// Package rivertask is what lockbot's two stores share of River: one job
// kind carrying lockbot's task kind and key, the worker that runs
// lockbot's handlers for it, the insert options that make a task unique,
// and the queue of each kind. Both stores write the same jobs, so a task
// means the same whichever keeps it.
package rivertask

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/lockbot/lockbot/approvals"
)

// MaxAttempts is high enough never to be reached: a task is never given up
// (its handler decides when work is over), and with backoff capped at five
// minutes it is months of attempts.
const MaxAttempts = 25_000

// DefaultTimeout bounds an attempt whose Handler sets none.
const DefaultTimeout = time.Minute

// Args are River's arguments for every task: one River job kind, with
// lockbot's task kind as the queue.
type Args struct {
	TaskKind string `json:"kind"`
	TaskKey  string `json:"key"`
}

// Kind implements river.JobArgs.
func (Args) Kind() string { return "lockbot_task" }

// Insert is the River insert of task: in its kind's queue, at its time,
// once (a task of the same kind and key waiting, running or done is not
// inserted again).
func Insert(task approvals.Task) river.InsertManyParams {
	return river.InsertManyParams{
		Args: Args{TaskKind: task.Kind, TaskKey: task.Key},
		InsertOpts: &river.InsertOpts{Queue: task.Kind, ScheduledAt: task.At, MaxAttempts: MaxAttempts,
			UniqueOpts: river.UniqueOpts{ByArgs: true, ByQueue: true}},
	}
}

// Batch is the tasks one transaction enqueued, inserted together at
// commit: one River insert of many rows costs far less than many of one,
// and a burst's admissions enqueue dozens.
type Batch []river.InsertManyParams

// Add checks task and adds it to the batch.
func (b *Batch) Add(task approvals.Task) error {
	if task.Kind == "" || task.Key == "" {
		return fmt.Errorf("%w: a task needs a kind and a key", approvals.ErrInvalid)
	}
	*b = append(*b, Insert(task))
	return nil
}

// Queues is one River queue per handled kind, with as many workers as the
// handler asks, and the longest attempt timeout among them.
func Queues(handlers map[string]approvals.Handler) (map[string]river.QueueConfig, time.Duration, error) {
	queues := make(map[string]river.QueueConfig, len(handlers))
	longest := DefaultTimeout
	for kind, h := range handlers {
		if h.Run == nil {
			return nil, 0, fmt.Errorf("the handler of %q has no Run", kind)
		}
		queues[kind] = river.QueueConfig{MaxWorkers: max(h.Workers, 1)}
		longest = max(longest, h.Timeout)
	}
	return queues, longest, nil
}

// Worker runs River jobs with lockbot's handlers.
type Worker struct {
	river.WorkerDefaults[Args]
	Handlers map[string]approvals.Handler
	Log      *slog.Logger
	// Around, when set, is called before each attempt: it returns the
	// context to run the handler in and a function called when the handler
	// has returned, or ok false to put the attempt off a second (the
	// store cannot vouch for it now).
	Around func(ctx context.Context, job *river.Job[Args]) (run context.Context, done func(), ok bool)
}

// Work implements river.Worker.
func (w *Worker) Work(ctx context.Context, job *river.Job[Args]) error {
	h, ok := w.Handlers[job.Args.TaskKind]
	if !ok {
		// Only queues with a handler are worked, so this is a task moved
		// between queues by hand; leave it for later rather than drop it.
		return river.JobSnooze(time.Minute)
	}
	if w.Around != nil {
		run, done, ok := w.Around(ctx, job)
		if !ok {
			return river.JobSnooze(time.Second)
		}
		defer done()
		ctx = run
	}
	err := h.Run(ctx, approvals.TaskRun{
		Task:    approvals.Task{Kind: job.Args.TaskKind, Key: job.Args.TaskKey, At: job.ScheduledAt},
		Attempt: job.Attempt,
	})
	if err == nil {
		return nil
	}
	if d, ok := approvals.RetryDelay(err); ok {
		return river.JobSnooze(d)
	}
	if ctx.Err() == nil {
		w.Log.Warn("task failed; it will be tried again", "kind", job.Args.TaskKind, "key", job.Args.TaskKey,
			"attempt", job.Attempt, "retry_in", approvals.TaskBackoff(job.Attempt), "err", err)
	}
	return err
}

// Timeout implements river.Worker: each kind's own bound.
func (w *Worker) Timeout(job *river.Job[Args]) time.Duration {
	return cmp.Or(w.Handlers[job.Args.TaskKind].Timeout, DefaultTimeout)
}

// NextRetry implements river.Worker.
func (w *Worker) NextRetry(job *river.Job[Args]) time.Time {
	return time.Now().Add(approvals.TaskBackoff(job.Attempt))
}

// Logger is l for River: its warnings and errors only, as its information
// lines describe its own machinery, not lockbot's work.
func Logger(l *slog.Logger) *slog.Logger {
	return slog.New(levelAtLeast{l.Handler(), slog.LevelWarn})
}

// levelAtLeast passes on records of at least min.
type levelAtLeast struct {
	slog.Handler
	min slog.Level
}

func (h levelAtLeast) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelAtLeast) WithAttrs(as []slog.Attr) slog.Handler {
	return levelAtLeast{h.Handler.WithAttrs(as), h.min}
}

func (h levelAtLeast) WithGroup(name string) slog.Handler {
	return levelAtLeast{h.Handler.WithGroup(name), h.min}
}
