package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Info is what `lockbot check` shows of a shared store: which database,
// which replicas are on it, and who leads what.
type Info struct {
	Replica       string    // this Store's replica ID
	SchemaVersion int       // lockbot's schema version of the database
	ServerVersion string    // Postgres's server_version
	Now           time.Time // the database's clock, which liveness uses
	Leases        []Lease   // by name
	Replicas      []Replica // by ID
}

// Lease is one lease of Lead.
type Lease struct {
	Name     string
	Holder   string // the replica ID of the holder
	Acquired time.Time
	Expires  time.Time
	Held     bool // not expired yet: Holder leads
}

// Replica is one Store on the database, by its heartbeat.
type Replica struct {
	ID       string
	Host     string
	PID      int
	Started  time.Time
	LastSeen time.Time
	Alive    bool // its heartbeat is younger than this Store's DeadAfter
}

// Describe reads Info in one snapshot.
func (s *Store) Describe(ctx context.Context) (Info, error) {
	if s.closed.Load() {
		return Info{}, errClosed
	}
	info := Info{Replica: s.id}
	err := func() error {
		tx, err := s.pool.BeginTx(ctx, readSnapshot)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
		if err := tx.QueryRow(ctx, `SELECT current_setting('server_version'), now()`).Scan(&info.ServerVersion, &info.Now); err != nil {
			return err
		}
		if info.SchemaVersion, err = schemaVersionOf(ctx, tx); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT name, holder, acquired_at, expires_at, expires_at > now() FROM lockbot_leases ORDER BY name`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var l Lease
			if err := rows.Scan(&l.Name, &l.Holder, &l.Acquired, &l.Expires, &l.Held); err != nil {
				rows.Close()
				return err
			}
			info.Leases = append(info.Leases, l)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT id, host, pid, started_at, last_seen, last_seen > now() - make_interval(secs => $1)
			FROM lockbot_replicas ORDER BY id`, s.opts.DeadAfter.Seconds())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r Replica
			if err := rows.Scan(&r.ID, &r.Host, &r.PID, &r.Started, &r.LastSeen, &r.Alive); err != nil {
				return err
			}
			info.Replicas = append(info.Replicas, r)
		}
		return rows.Err()
	}()
	if err != nil {
		return Info{}, fmt.Errorf("postgres: describe %s: %w", s.name, err)
	}
	return info, nil
}

// readSnapshot is the transaction of Describe: one consistent state.
var readSnapshot = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
