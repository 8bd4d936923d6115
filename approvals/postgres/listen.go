package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The notification channels of lockbot's replicas. (River has its own for
// its workers.)
const (
	// changedChannel carries a commit that wrote; the payload is the
	// committing replica, which closed its own Changed already.
	changedChannel = "lockbot_changed"
	// leaseChannel carries the name of a lease just released.
	leaseChannel = "lockbot_lease"
)

// execer is what a pool, a connection and a transaction can do.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// listen passes the other replicas' notifications on to Changed and to
// the replicas waiting for a lease, until Close. It holds a connection of
// its own (LISTEN belongs to a session) and connects again, with backoff,
// when that connection is lost.
func (s *Store) listen() {
	defer s.wg.Done()
	for attempt := 0; ; attempt++ {
		listening, err := s.listenOnce()
		if s.life.Err() != nil {
			return
		}
		if listening {
			attempt = 0
		}
		wait := min(100*time.Millisecond<<min(attempt, 8), 10*time.Second)
		s.log.Warn("lost the notifications of other replicas; listening again", "db", s.name, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-s.life.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// listenOnce listens on one connection until it fails or the store
// closes; listening reports whether it got as far as listening.
func (s *Store) listenOnce() (listening bool, err error) {
	cctx, cancel := context.WithTimeout(s.life, connectTimeout)
	conn, err := pgx.ConnectConfig(cctx, s.live.Config().ConnConfig)
	cancel()
	if err != nil {
		return false, err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
		defer cancel()
		_ = conn.Close(ctx)
	}()
	if _, err := conn.Exec(s.life, `LISTEN `+changedChannel+`; LISTEN `+leaseChannel); err != nil {
		return false, err
	}
	// Whatever was sent while nobody listened is lost: the waiters look
	// again now.
	s.committed()
	s.leaseReleased()
	for {
		n, err := conn.WaitForNotification(s.life)
		if err != nil {
			return true, err
		}
		switch n.Channel {
		case changedChannel:
			if n.Payload != s.id {
				s.committed()
			}
		case leaseChannel:
			s.leaseReleased()
		}
	}
}
