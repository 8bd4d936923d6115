package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/approvals/internal/rivertask"
)

// defaultPollInterval is how often idle workers look for tasks whose time
// came. Tasks this process enqueues start at once whatever it is; each poll
// of each kind's queue is a write that waits for the one connection, so
// polling faster only slows everything else.
const defaultPollInterval = time.Second

// Work implements approvals.Store.
func (s *Store) Work(ctx context.Context, handlers map[string]approvals.Handler) error {
	if s.readOnly {
		return fmt.Errorf("sqlite: %s was opened for reading only", s.name())
	}
	if len(handlers) == 0 {
		<-ctx.Done()
		return nil
	}
	queues, longest, err := rivertask.Queues(handlers)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	workers := river.NewWorkers()
	w := &rivertask.Worker{Handlers: handlers, Log: s.log,
		// takeBackOrphans leaves alone what a handler of this process runs
		// or has just finished.
		Around: func(ctx context.Context, job *river.Job[rivertask.Args]) (context.Context, func(), bool) {
			s.working.Store(job.ID, time.Time{})
			return ctx, func() { s.working.Store(job.ID, time.Now()) }, true
		}}
	if err := river.AddWorkerSafely(workers, w); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	newClient := func() (*river.Client[*sql.Tx], error) {
		return river.NewClient(s.driver, &river.Config{
			Queues:               queues,
			Workers:              workers,
			FetchPollInterval:    cmp.Or(s.opts.PollInterval, defaultPollInterval),
			FetchCooldown:        10 * time.Millisecond,
			JobTimeout:           longest,
			RescueStuckJobsAfter: 2*longest + time.Minute,
			MaxAttempts:          rivertask.MaxAttempts,
			Logger:               rivertask.Logger(s.log),
		})
	}
	client, err := s.startClient(ctx, newClient)
	if err != nil || client == nil {
		return err
	}
	inserter := s.river.Swap(client)
	var wg sync.WaitGroup
	wg.Go(func() { s.takeBackOrphans(ctx) })
	<-ctx.Done()
	s.river.Store(inserter)
	// Tasks under way may finish within the grace; then they are cancelled
	// (they record what they got and run again at the next start).
	grace := cmp.Or(s.opts.StopGrace, 20*time.Second)
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	err = client.Stop(stopCtx)
	if err != nil {
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer ccancel()
		err = client.StopAndCancel(cctx)
	}
	wg.Wait()
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("sqlite: stop the task workers: %w", err)
	}
	return nil
}

// startClient starts the task workers. Starting writes to the database
// (River records its queues), so a full disk can refuse it: then it tries
// again, with backoff, until the disk has room or ctx ends (nil client),
// rather than stop the process over what an operator can fix while it runs.
func (s *Store) startClient(ctx context.Context, newClient func() (*river.Client[*sql.Tx], error)) (*river.Client[*sql.Tx], error) {
	for attempt := 0; ; attempt++ {
		client, err := newClient()
		if err != nil {
			return nil, fmt.Errorf("sqlite: task client: %w", err)
		}
		// River stops abruptly (cancelling every task) when the context of
		// Start ends; the end of ctx is a graceful stop instead, in Work.
		err = client.Start(context.WithoutCancel(ctx))
		if err == nil {
			return client, nil
		}
		wait := min(time.Second<<min(attempt, 5), 30*time.Second)
		s.log.Error("sqlite: cannot start the task workers; trying again", "db", s.name(), "attempt", attempt+1, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil
		case <-t.C:
		}
	}
}

// takeBackOrphans makes tasks that are marked running but that no handler
// of this process runs available again. The directory lock means no other
// process can be running them: such a task was cut off (its handler
// panicked, or the write marking it done failed on a full disk) and would
// otherwise wait for River's stuck-job rescue. A task is only taken back
// once it has been running for OrphanAfter and its handler is not known
// to have ended within the last minute, so one that River has just fetched
// or just finished is never run twice.
func (s *Store) takeBackOrphans(ctx context.Context) {
	every := cmp.Or(s.opts.OrphanCheck, 2*time.Second)
	after := cmp.Or(s.opts.OrphanAfter, 10*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.takeBackOnce(ctx, after); err != nil && ctx.Err() == nil {
			s.log.Warn("could not check for interrupted tasks", "err", err)
		}
	}
}

func (s *Store) takeBackOnce(ctx context.Context, after time.Duration) error {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM river_job WHERE state = 'running' AND attempted_at < datetime('now', ?, 'subsec')`,
		fmt.Sprintf("-%d seconds", int(after.Seconds())))
	if err != nil {
		return err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			_ = rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	_ = rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range ids {
		if v, ok := s.working.Load(id); ok {
			if ended := v.(time.Time); ended.IsZero() || time.Since(ended) < time.Minute {
				continue
			}
		}
		if _, err := s.db.ExecContext(ctx, `UPDATE river_job SET state = 'available', scheduled_at = datetime('now', 'subsec') WHERE id = ? AND state = 'running'`, id); err != nil {
			return err
		}
		s.log.Warn("took back an interrupted task", "river_job", id)
	}
	s.working.Range(func(k, v any) bool {
		if ended := v.(time.Time); !ended.IsZero() && time.Since(ended) > time.Minute {
			s.working.Delete(k)
		}
		return true
	})
	return nil
}

// Lead implements approvals.Store. The directory lock makes this process
// the only one on the store, so it always leads: fn runs at once, and
// again after a pause if it returns before ctx ends.
func (s *Store) Lead(ctx context.Context, name string, fn func(context.Context) error) error {
	for {
		err := fn(ctx)
		if ctx.Err() != nil {
			return nil
		}
		level := slog.LevelInfo
		if err != nil {
			level = slog.LevelError
		}
		s.log.Log(ctx, level, "leader work ended; starting it again", "work", name, "err", err)
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}
