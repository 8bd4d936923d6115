package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/lockbot/lockbot/approvals/internal/rivertask"
)

// migrations create and change lockbot's tables, in order: the schema
// version of a database is how many of them it has applied. River keeps
// its own tables, migrated by rivermigrate. A migration is never edited
// once released; a change is a new one at the end.
//
// Each record is kept whole as JSON in body (json, not jsonb: it keeps
// the text as written, and accepts every string Go encodes); the other
// columns exist to be searched. Tables carry the lockbot_ prefix because
// the database may hold other things (River's river_ tables at least).
// Keys compare bytewise (COLLATE "C"): they are identifiers, not words.
var migrations = [...]string{
	1: `
CREATE TABLE lockbot_requests (
	id      text COLLATE "C" PRIMARY KEY,
	state   text NOT NULL,
	created timestamptz NOT NULL,
	body    json NOT NULL
);
CREATE INDEX lockbot_requests_state ON lockbot_requests (state, created, id);
CREATE TABLE lockbot_locks (
	id         text COLLATE "C" PRIMARY KEY,
	key        text COLLATE "C" NOT NULL,
	live       boolean NOT NULL,
	looked_up  boolean NOT NULL,
	request_id text COLLATE "C" NOT NULL,
	created    timestamptz NOT NULL,
	body       json NOT NULL
);
CREATE INDEX lockbot_locks_key ON lockbot_locks (key, created);
CREATE INDEX lockbot_locks_live ON lockbot_locks (looked_up, created) WHERE live;
CREATE INDEX lockbot_locks_request ON lockbot_locks (request_id) WHERE request_id <> '';
CREATE TABLE lockbot_triggers (
	id       text COLLATE "C" PRIMARY KEY,
	admitted timestamptz NOT NULL,
	body     json NOT NULL
);
CREATE TABLE lockbot_posts (
	key      text COLLATE "C" PRIMARY KEY,
	channel  text COLLATE "C" NOT NULL,
	kind     text NOT NULL,
	priority integer NOT NULL,
	queued   timestamptz NOT NULL,
	pending  boolean NOT NULL,
	next_try timestamptz NOT NULL,
	digest   text COLLATE "C" NOT NULL,
	body     json NOT NULL
);
CREATE INDEX lockbot_posts_pending ON lockbot_posts (channel, priority, queued, key) WHERE pending;
CREATE INDEX lockbot_posts_digest ON lockbot_posts (digest) WHERE digest <> '';
CREATE TABLE lockbot_seen (
	key   text COLLATE "C" PRIMARY KEY,
	until timestamptz NOT NULL
);
CREATE TABLE lockbot_journal (
	seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	time       timestamptz NOT NULL,
	kind       text NOT NULL,
	id         text COLLATE "C" NOT NULL,
	target_key text COLLATE "C" NOT NULL,
	body       json NOT NULL
);
CREATE INDEX lockbot_journal_time ON lockbot_journal (time);
CREATE INDEX lockbot_journal_id ON lockbot_journal (id);
CREATE INDEX lockbot_journal_target ON lockbot_journal (target_key);
CREATE TABLE lockbot_kv (
	key   text COLLATE "C" PRIMARY KEY,
	value bytea NOT NULL
);
-- One row per open Store: last_seen is the database's clock at its last
-- heartbeat, so liveness never depends on the replicas' clocks.
CREATE TABLE lockbot_replicas (
	id         text COLLATE "C" PRIMARY KEY,
	host       text NOT NULL,
	pid        integer NOT NULL,
	started_at timestamptz NOT NULL,
	last_seen  timestamptz NOT NULL
);
-- One row per lease of Lead; token names one Lead call of one replica.
CREATE TABLE lockbot_leases (
	name        text COLLATE "C" PRIMARY KEY,
	holder      text COLLATE "C" NOT NULL,
	token       text COLLATE "C" NOT NULL,
	acquired_at timestamptz NOT NULL,
	expires_at  timestamptz NOT NULL
);
`,
}

// SchemaVersion is the version of lockbot's own tables this build writes.
// A database of a newer version is refused: an older lockbot would misread
// it.
const SchemaVersion = len(migrations) - 1

// migrateLock is the key of the advisory lock held while migrating, so
// replicas that start at once migrate one after the other: the first
// does the work, the others find nothing left to do. ("lockbot" in
// ASCII.)
const migrateLock int64 = 0x6c6f636b626f74

// migrate brings lockbot's tables and River's up to date, under
// migrateLock held on one connection.
func (s *Store) migrate(ctx context.Context) (err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: connect to %s: %w", s.name, err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLock); err != nil {
		return fmt.Errorf("postgres: wait for other replicas migrating %s: %w", s.name, err)
	}
	defer func() {
		// A lock left behind would stop every later Open: if it cannot
		// be released, the connection (and so the lock) is closed.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlockTimeout)
		defer cancel()
		if _, uerr := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, migrateLock); uerr != nil {
			_ = conn.Hijack().Close(uctx)
		}
	}()
	if err := s.migrateLockbot(ctx, conn.Conn()); err != nil {
		return err
	}
	migrator, err := rivermigrate.New(s.driver, &rivermigrate.Config{Logger: rivertask.Logger(s.log)})
	if err != nil {
		return fmt.Errorf("postgres: task tables: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("postgres: migrate the task tables of %s: %w", s.name, err)
	}
	return nil
}

// migrateLockbot applies the migrations conn's database lacks, in one
// transaction: a failed one leaves the database as it was.
func (s *Store) migrateLockbot(ctx context.Context, conn *pgx.Conn) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", s.name, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS lockbot_meta (
		key   text COLLATE "C" PRIMARY KEY,
		value text NOT NULL
	)`); err != nil {
		return fmt.Errorf("postgres: create the tables of %s: %w", s.name, err)
	}
	have, err := schemaVersionOf(ctx, tx)
	if err != nil {
		return fmt.Errorf("postgres: read the schema version of %s: %w", s.name, err)
	}
	if have > SchemaVersion {
		return fmt.Errorf("postgres: %s was written by a newer lockbot (schema %d; this one knows %d): run that version, or restore a backup",
			s.name, have, SchemaVersion)
	}
	if have == SchemaVersion {
		return nil
	}
	for v := have + 1; v <= SchemaVersion; v++ {
		if _, err := tx.Exec(ctx, migrations[v]); err != nil {
			return fmt.Errorf("postgres: migrate %s to schema %d: %w", s.name, v, err)
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO lockbot_meta (key, value) VALUES ('schema_version', $1)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, strconv.Itoa(SchemaVersion)); err != nil {
		return fmt.Errorf("postgres: record the schema version of %s: %w", s.name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: migrate %s: %w", s.name, err)
	}
	s.log.Info("migrated the database", "db", s.name, "from", have, "to", SchemaVersion)
	return nil
}

// querier is what both a connection and a transaction can do.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// schemaVersionOf reads the schema version (0: none yet).
func schemaVersionOf(ctx context.Context, q querier) (int, error) {
	var v string
	err := q.QueryRow(ctx, `SELECT value FROM lockbot_meta WHERE key = 'schema_version'`).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("schema version %q is not a number", v)
	}
	return n, nil
}
