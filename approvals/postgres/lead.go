package postgres

import (
	"context"
	"crypto/rand"
	"log/slog"
	"time"
)

// leadPause is the wait before leader work that returned runs again.
const leadPause = time.Second

// trustFor is how long after the start of a renewal that succeeded the
// holder of a lease may go on: the lease expires LeaseTTL after the
// database received the renewal, so later than that in real time, and
// the margin (a quarter of the TTL, at least one renewal) leaves the work
// time to stop after it is cancelled, before another replica may take
// the lease.
func (o Options) trustFor() time.Duration {
	return o.LeaseTTL - max(o.LeaseRenew, o.LeaseTTL/4)
}

// Lead implements approvals.Store with a lease: a row of lockbot_leases
// whose expiry is in the database's clock. The holder renews it every
// LeaseRenew; the others try to take it as often, and at once when it is
// released. Only an expired lease is taken, and a holder that cannot
// renew cancels fn (and waits for it) before its lease can expire, so two
// replicas never run fn at once, even when one is cut off from the
// database. When ctx ends, fn is cancelled and, once it returned, the
// lease is released, so another replica takes over at once. Lead returns
// when ctx ends, or with an error when the store is closed.
func (s *Store) Lead(ctx context.Context, name string, fn func(context.Context) error) error {
	if s.closed.Load() {
		return errClosed
	}
	// The token names this call: two Lead calls of one replica exclude
	// each other too.
	token := rand.Text()
	failing := false
	for {
		if ctx.Err() != nil {
			return nil
		}
		if s.life.Err() != nil {
			return errClosed
		}
		news := s.leaseNews()
		start := time.Now()
		actx, cancel := context.WithTimeout(ctx, s.opts.LeaseRenew)
		unwatch := context.AfterFunc(s.life, cancel) // Close does not wait for a lease being taken
		won, err := s.acquire(actx, name, token)
		unwatch()
		cancel()
		switch {
		case err != nil && ctx.Err() == nil && s.life.Err() == nil:
			if !failing {
				s.log.Warn("cannot try to take a lease; trying again", "lease", name, "db", s.name, "err", err)
			}
			failing = true
		case err == nil:
			failing = false
		}
		if won {
			s.hold(ctx, name, token, start, fn)
			continue
		}
		t := time.NewTimer(s.opts.LeaseRenew)
		select {
		case <-ctx.Done():
		case <-s.life.Done():
		case <-news:
		case <-t.C:
		}
		t.Stop()
	}
}

// acquire takes the lease name for token if it is free or expired (or
// token has it already: a reply lost after the lease was taken must not
// lock this replica out until it expires).
func (s *Store) acquire(ctx context.Context, name, token string) (bool, error) {
	tag, err := s.live.Exec(ctx, `INSERT INTO lockbot_leases AS l (name, holder, token, acquired_at, expires_at)
		VALUES ($1, $2, $3, now(), now() + make_interval(secs => $4))
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, token = excluded.token,
			acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
		WHERE l.expires_at <= now() OR l.token = excluded.token`, name, s.id, token, s.opts.LeaseTTL.Seconds())
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// renew extends the lease name while token holds it; false without an
// error means the lease is lost (it expired, or another took it).
func (s *Store) renew(ctx context.Context, name, token string) (bool, error) {
	tag, err := s.live.Exec(ctx, `UPDATE lockbot_leases SET expires_at = now() + make_interval(secs => $3)
		WHERE name = $1 AND token = $2 AND expires_at > now()`, name, token, s.opts.LeaseTTL.Seconds())
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// release gives up the lease name if token still holds it, and tells the
// replicas waiting for it.
func (s *Store) release(name, token string) {
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	if _, err := s.live.Exec(ctx, `WITH gone AS (DELETE FROM lockbot_leases WHERE name = $1 AND token = $2 RETURNING name)
		SELECT pg_notify($3, name) FROM gone`, name, token, leaseChannel); err != nil {
		s.log.Warn("could not release a lease; it will expire instead", "lease", name, "db", s.name, "err", err)
	}
	s.leaseReleased()
}

// hold runs fn while token holds the lease name, won by an acquire that
// started at start, and returns once fn has returned: when ctx ends or the
// store closes (the lease is released), or when the lease is lost.
func (s *Store) hold(ctx context.Context, name, token string, start time.Time, fn func(context.Context) error) {
	released := make(chan struct{})
	s.holdMu.Lock()
	s.holding[released] = struct{}{}
	s.holdMu.Unlock()
	defer func() {
		s.holdMu.Lock()
		delete(s.holding, released)
		s.holdMu.Unlock()
		close(released)
	}()
	trustUntil := start.Add(s.opts.trustFor())
	giveUp := time.NewTimer(time.Until(trustUntil))
	defer giveUp.Stop()
	renewals := time.NewTicker(s.opts.LeaseRenew)
	defer renewals.Stop()
	fnCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		s.runLeader(fnCtx, name, fn)
	}()
	// stop ends fn and then, only then, gives the lease up.
	stop := func() {
		cancel()
		<-ran
		s.release(name, token)
	}
	s.log.Info("took the lease", "lease", name, "replica", s.id)
	for {
		select {
		case <-ctx.Done():
			stop()
			return
		case <-s.life.Done():
			stop()
			return
		case <-giveUp.C:
			s.log.Error("could not renew a lease in time; leader work stops", "lease", name, "db", s.name)
			stop()
			return
		case <-renewals.C:
			renewStart := time.Now()
			rctx, rcancel := context.WithDeadline(s.life, trustUntil)
			ok, err := s.renew(rctx, name, token)
			rcancel()
			switch {
			case ok:
				trustUntil = renewStart.Add(s.opts.trustFor())
				giveUp.Reset(time.Until(trustUntil))
			case err == nil:
				s.log.Error("lost a lease; leader work stops", "lease", name, "db", s.name)
				stop()
				return
			case s.life.Err() == nil && ctx.Err() == nil:
				s.log.Warn("could not renew a lease; trying again", "lease", name, "db", s.name, "err", err)
			}
		}
	}
}

// runLeader runs fn until ctx ends, again after a pause when it returns
// earlier.
func (s *Store) runLeader(ctx context.Context, name string, fn func(context.Context) error) {
	for {
		err := fn(ctx)
		if ctx.Err() != nil {
			return
		}
		level := slog.LevelInfo
		if err != nil {
			level = slog.LevelError
		}
		s.log.Log(ctx, level, "leader work ended; starting it again", "work", name, "err", err)
		t := time.NewTimer(leadPause)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
