package postgres

import (
	"context"
	"os"
	"time"
)

// beat writes this replica's heartbeat: last_seen is the database's
// clock, so whether a replica is alive is decided by one clock, never by
// comparing those of two machines. The row is created if missing (at Open,
// or after a long outage got it removed).
func (s *Store) beat(ctx context.Context, q execer) error {
	_, err := q.Exec(ctx, `INSERT INTO lockbot_replicas (id, host, pid, started_at, last_seen) VALUES ($1, $2, $3, now(), now())
		ON CONFLICT (id) DO UPDATE SET last_seen = now()`, s.id, s.host, os.Getpid())
	return err
}

// aliveFor is how long after the start of its last heartbeat that was
// written a replica may trust that the others still see it alive. The
// margin (a quarter of DeadAfter, at least one heartbeat) leaves its
// tasks time to stop after they are cancelled, before other replicas may
// start them.
func (o Options) aliveFor() time.Duration {
	return o.DeadAfter - max(o.Heartbeat, o.DeadAfter/4)
}

// heartbeat writes the heartbeat every Options.Heartbeat until Close.
// When none has been written for aliveFor it cancels the tasks this
// replica runs (see aliveCtx): the other replicas will soon think it dead
// and run them, and a task must never run twice at once. last is the
// start of the heartbeat Open wrote.
func (s *Store) heartbeat(last time.Time) {
	defer s.wg.Done()
	tick := time.NewTicker(s.opts.Heartbeat)
	defer tick.Stop()
	fence := time.NewTimer(time.Until(last.Add(s.opts.aliveFor())))
	defer fence.Stop()
	failing := false
	for {
		select {
		case <-s.life.Done():
			return
		case <-fence.C:
			s.setAlive(false)
			s.log.Error("the heartbeat could not be written for too long: this replica's tasks are cancelled, for another replica to run",
				"db", s.name, "replica", s.id)
		case <-tick.C:
			start := time.Now()
			ctx, cancel := context.WithTimeout(s.life, s.opts.Heartbeat)
			err := s.beat(ctx, s.live)
			cancel()
			if err != nil {
				if !failing && s.life.Err() == nil {
					s.log.Warn("cannot write the heartbeat; trying again", "db", s.name, "replica", s.id, "err", err)
				}
				failing = true
				continue
			}
			if failing {
				s.log.Info("the heartbeat is written again", "db", s.name, "replica", s.id)
			}
			failing = false
			fence.Reset(time.Until(start.Add(s.opts.aliveFor())))
			s.setAlive(true)
		}
	}
}

// aliveCtx is a context that ends when this replica may no longer be
// seen alive (or at Close): task handlers run under it.
func (s *Store) aliveCtx() context.Context {
	s.aliveMu.Lock()
	defer s.aliveMu.Unlock()
	return s.alive
}

// setAlive cancels the context of aliveCtx, or makes a new one once the
// heartbeat is written again.
func (s *Store) setAlive(ok bool) {
	s.aliveMu.Lock()
	defer s.aliveMu.Unlock()
	switch {
	case !ok:
		s.fence()
	case s.alive.Err() != nil && s.life.Err() == nil:
		s.alive, s.fence = context.WithCancel(s.life)
	}
}
