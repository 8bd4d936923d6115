package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/approvals/internal/rivertask"
)

// fetchCooldown is the least time between two fetches of a queue: short,
// so a burst's tasks start at once.
const fetchCooldown = 10 * time.Millisecond

// errNotAlive cancels a task whose replica can no longer show it is alive.
var errNotAlive = errors.New("postgres: this replica's heartbeat is failing; another replica will run the task")

// whileAlive runs an attempt only while this replica's heartbeat holds:
// once it can no longer be seen alive, another replica takes its tasks,
// so the handler is stopped first.
func (s *Store) whileAlive(ctx context.Context, _ *river.Job[rivertask.Args]) (context.Context, func(), bool) {
	alive := s.aliveCtx()
	if alive.Err() != nil {
		return nil, nil, false
	}
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(alive, func() { cancel(errNotAlive) })
	return ctx, func() { stop(); cancel(nil) }, true
}

// Work implements approvals.Store. Every replica may work every kind:
// River's fetch (FOR UPDATE SKIP LOCKED) gives each task to one of them,
// and its insert notifications wake the workers of all. A task left
// running by a replica that died is made available again once the
// replica's heartbeat is DeadAfter old (see sweepOrphans). If the store
// is closed under Work, its tasks are cancelled at once and Work returns
// when ctx ends.
func (s *Store) Work(ctx context.Context, handlers map[string]approvals.Handler) error {
	if s.closed.Load() {
		return errClosed
	}
	if len(handlers) == 0 {
		<-ctx.Done()
		return nil
	}
	queues, longest, err := rivertask.Queues(handlers)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	workers := river.NewWorkers()
	w := &rivertask.Worker{Handlers: handlers, Log: s.log, Around: s.whileAlive}
	if err := river.AddWorkerSafely(workers, w); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	// River's client ID is what it records in attempted_by: the replica,
	// then which of its Work calls, which sweepOrphans reads back.
	clientID := s.id + "/" + strconv.FormatInt(s.works.Add(1), 10)
	newClient := func() (*river.Client[pgx.Tx], error) {
		return river.NewClient(s.driver, &river.Config{
			ID:                clientID,
			Queues:            queues,
			Workers:           workers,
			FetchPollInterval: s.opts.PollInterval,
			FetchCooldown:     fetchCooldown,
			JobTimeout:        longest,
			// A backstop only: the heartbeat moves the tasks of dead
			// replicas long before, and an attempt is bounded by its
			// Timeout, so a task rescued here has a live worker that lost
			// the write of its end.
			RescueStuckJobsAfter: 2*longest + time.Minute,
			MaxAttempts:          rivertask.MaxAttempts,
			Logger:               rivertask.Logger(s.log),
		})
	}
	client, err := s.startClient(ctx, newClient)
	if err != nil || client == nil {
		if err == nil && s.life.Err() != nil {
			<-ctx.Done()
		}
		return err
	}
	inserter := s.river.Swap(client)
	sweepCtx, stopSweep := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { s.sweepOrphans(sweepCtx) })
	select {
	case <-ctx.Done():
	case <-s.life.Done():
	}
	stopSweep()
	wg.Wait()
	s.river.CompareAndSwap(client, inserter)
	if s.life.Err() != nil {
		// Closed under Work: its handlers were cancelled with the
		// heartbeat, and its tasks are the other replicas' now. River
		// may still be retrying writes that cannot succeed; it is not
		// waited for long.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		_ = client.StopAndCancel(cctx)
		cancel()
		<-ctx.Done()
		return nil
	}
	// Tasks under way may finish within the grace; then they are cancelled
	// (they record what they got and run again).
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.StopGrace)
	defer cancel()
	err = client.Stop(stopCtx)
	if err != nil {
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer ccancel()
		err = client.StopAndCancel(cctx)
	}
	if err == nil {
		s.takeBackStopped(clientID)
	}
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("postgres: stop the task workers: %w", err)
	}
	return nil
}

// startClient starts the task workers. Starting writes to the database
// (River records its queues), so an outage can refuse it: then it tries
// again, with backoff, until ctx ends or the store closes (nil client),
// rather than stop the process over what may pass by itself.
func (s *Store) startClient(ctx context.Context, newClient func() (*river.Client[pgx.Tx], error)) (*river.Client[pgx.Tx], error) {
	for attempt := 0; ; attempt++ {
		client, err := newClient()
		if err != nil {
			return nil, fmt.Errorf("postgres: task client: %w", err)
		}
		// River stops abruptly (cancelling every task) when the context of
		// Start ends; the end of ctx is a graceful stop instead, in Work.
		err = client.Start(context.WithoutCancel(ctx))
		if err == nil {
			return client, nil
		}
		wait := min(time.Second<<min(attempt, 5), 30*time.Second)
		s.log.Error("postgres: cannot start the task workers; trying again", "db", s.name, "attempt", attempt+1, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil
		case <-s.life.Done():
			t.Stop()
			return nil, nil
		case <-t.C:
		}
	}
}

// sweepOrphans makes available again, every OrphanCheck, the tasks left
// running by replicas that are no longer alive: the last entry of a
// task's attempted_by names the River client that has it, whose replica
// part must have a heartbeat younger than DeadAfter, in the database's
// clock. A replica whose heartbeat fails cancels its own tasks before that
// (see heartbeat), so a task whose worker is alive is never taken.
// Every working replica sweeps: the statement is cheap, and the sweep
// must not depend on which replica survived.
func (s *Store) sweepOrphans(ctx context.Context) {
	t := time.NewTicker(s.opts.OrphanCheck)
	defer t.Stop()
	failing := false
	for {
		err := s.sweepOnce(ctx)
		if err != nil && !failing && ctx.Err() == nil {
			// Once per outage: the heartbeat's warnings tell the rest.
			s.log.Warn("could not check for tasks of dead replicas", "db", s.name, "err", err)
		}
		failing = err != nil
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// forgetReplicasAfter is how long the row of a replica that stopped
// beating is kept: a task it left is taken long before, and `lockbot
// check` shows recent deaths.
const forgetReplicasAfter = 24 * time.Hour

func (s *Store) sweepOnce(ctx context.Context) error {
	rows, err := s.pool.Query(ctx, `UPDATE river_job AS j SET state = 'available', scheduled_at = now()
		WHERE j.state = 'running'
		  AND j.attempted_by[array_upper(j.attempted_by, 1)] IS NOT NULL
		  AND NOT EXISTS (
			SELECT 1 FROM lockbot_replicas AS r
			WHERE r.id = split_part(j.attempted_by[array_upper(j.attempted_by, 1)], '/', 1)
			  AND r.last_seen > now() - make_interval(secs => $1))
		RETURNING j.id, coalesce(j.args->>'kind', ''), coalesce(j.args->>'key', ''), j.attempted_by[array_upper(j.attempted_by, 1)]`,
		s.opts.DeadAfter.Seconds())
	if err != nil {
		return err
	}
	for rows.Next() {
		var id int64
		var kind, key, by string
		if err := rows.Scan(&id, &kind, &key, &by); err != nil {
			rows.Close()
			return err
		}
		s.log.Warn("took back a task cut off by a replica that stopped", "kind", kind, "key", key, "river_job", id, "worker", by)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `DELETE FROM lockbot_replicas WHERE last_seen < now() - make_interval(secs => $1)`, forgetReplicasAfter.Seconds())
	return err
}

// takeBackStopped makes available again the tasks still marked running by
// a River client that stopped cleanly: every handler of it has returned,
// so such a task is one whose end could not be written (River gives up
// after a few tries) and would otherwise wait for the stuck-job rescue.
func (s *Store) takeBackStopped(clientID string) {
	ctx, cancel := context.WithTimeout(s.life, releaseTimeout)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `UPDATE river_job SET state = 'available', scheduled_at = now()
		WHERE state = 'running' AND attempted_by[array_upper(attempted_by, 1)] = $1`, clientID)
	switch {
	case err != nil:
		s.log.Warn("could not take back the tasks of the stopped workers", "db", s.name, "err", err)
	case tag.RowsAffected() > 0:
		s.log.Log(ctx, slog.LevelWarn, "took back tasks whose end was not recorded", "tasks", tag.RowsAffected())
	}
}
