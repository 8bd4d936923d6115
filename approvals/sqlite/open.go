package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	_ "modernc.org/sqlite" // the pure-Go driver registered as "sqlite"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/approvals/internal/news"
	"github.com/lockbot/lockbot/approvals/internal/rivertask"
)

// FileName is the database inside the state directory.
const FileName = "lockbot.db"

// Options tunes a Store. Zero values take the defaults.
type Options struct {
	// Logger receives what the store cannot return: a task that failed,
	// River's own warnings. The default discards.
	Logger *slog.Logger
	// Now is the clock of records the store stamps itself (default
	// time.Now).
	Now func() time.Time
	// PollInterval is how often idle task workers look for tasks that came
	// from outside this process or whose time came (default 1s); tasks
	// this process enqueues start at once.
	PollInterval time.Duration
	// OrphanCheck is how often the store looks for tasks left running by a
	// process that died, and OrphanAfter how long such a task must have
	// been running before it is taken back (defaults 2s and 10s).
	OrphanCheck, OrphanAfter time.Duration
	// StopGrace is how long Work waits, once its context ends, for the
	// tasks under way to finish before it cancels them (default 20s, which
	// fits Kubernetes' 30 s grace period). A cancelled task runs again at
	// the next start.
	StopGrace time.Duration
}

// readers is how many connections serve View at once.
const readers = 4

// Store is the SQLite approvals.Store. Create it with Open.
type Store struct {
	db *sql.DB
	// rdb serves View: WAL lets readers run beside the one writer, so
	// reads do not queue for db's single connection behind the writes
	// (and the hook's admissions) of a burst. Nil in OpenReadOnly, whose
	// db is read-only already.
	rdb    *sql.DB
	gate   writeGate // orders the writers of Update
	driver *riversqlite.Driver
	lock   *dirLock
	path   string
	log    *slog.Logger
	now    func() time.Time
	opts   Options

	// river inserts tasks: an insert-only client until Work starts, then
	// the working one, whose inserts wake its own workers at once.
	river atomic.Pointer[river.Client[*sql.Tx]]

	working sync.Map // River job ID → when its handler ended (zero while it runs)

	changed  news.News // commits
	closed   atomic.Bool
	readOnly bool
}

var _ approvals.Store = (*Store)(nil)

// Open opens (creating it if needed) the store in dir: lockbot.db and its
// lock. It refuses a directory another process holds (wrapping ErrInUse),
// a damaged database, and one written by a newer lockbot.
func Open(ctx context.Context, dir string, opts Options) (*Store, error) {
	s := &Store{log: opts.Logger, now: opts.Now, opts: opts}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if dir == "" {
		return nil, errors.New("sqlite: no state directory given")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: state directory: %w", err)
	}
	lock, err := lockDir(filepath.Join(dir, LockFileName))
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	s.lock = lock
	s.path = filepath.Join(dir, FileName)
	dsn := "file:" + (&url.URL{Path: s.path}).EscapedPath()
	// WAL with synchronous=FULL: a commit is on disk when Update returns.
	// IMMEDIATE transactions take the write lock at BEGIN, so a
	// transaction never fails half-way because another wanted to write.
	dsn += "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate"
	db, err := openCached(dsn)
	if err != nil {
		return nil, s.fail(fmt.Errorf("sqlite: open %s: %w", s.name(), err))
	}
	// One connection: SQLite has one writer anyway, and River's SQLite
	// driver needs it to avoid SQLITE_BUSY.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	s.db = db
	if err := s.prepare(ctx); err != nil {
		return nil, s.fail(err)
	}
	// Opened after prepare, so the file is in WAL mode already.
	rdb, err := openCached("file:" + (&url.URL{Path: s.path}).EscapedPath() + "?_pragma=query_only(1)&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, s.fail(fmt.Errorf("sqlite: open %s: %w", s.name(), err))
	}
	rdb.SetMaxOpenConns(readers)
	rdb.SetMaxIdleConns(readers)
	rdb.SetConnMaxLifetime(0)
	rdb.SetConnMaxIdleTime(0)
	s.rdb = rdb
	s.driver = riversqlite.New(db)
	migrator, err := rivermigrate.New(s.driver, &rivermigrate.Config{Logger: rivertask.Logger(s.log)})
	if err != nil {
		return nil, s.fail(fmt.Errorf("sqlite: task tables: %w", err))
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, s.fail(fmt.Errorf("sqlite: migrate the task tables of %s: %w", s.name(), err))
	}
	// Nothing else can be running tasks on this file: the lock says so.
	// Any task left running was cut off by a crash and is taken back now.
	if _, err := db.ExecContext(ctx, `UPDATE river_job SET state = 'available', scheduled_at = datetime('now', 'subsec') WHERE state = 'running'`); err != nil {
		return nil, s.fail(fmt.Errorf("sqlite: take back interrupted tasks: %w", err))
	}
	inserter, err := river.NewClient(s.driver, &river.Config{Logger: rivertask.Logger(s.log)})
	if err != nil {
		return nil, s.fail(fmt.Errorf("sqlite: task client: %w", err))
	}
	s.river.Store(inserter)
	return s, nil
}

// OpenReadOnly opens the store of dir for reading only, without taking
// its lock, so `lockbot audit` can read the journal beside a running bot.
func OpenReadOnly(ctx context.Context, dir string, opts Options) (*Store, error) {
	s := &Store{log: opts.Logger, now: opts.Now, opts: opts, readOnly: true, path: filepath.Join(dir, FileName)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if _, err := os.Stat(s.path); err != nil {
		return nil, fmt.Errorf("sqlite: no %s in %s (is LOCKBOT_STATE_DIR right?): %w", FileName, dir, err)
	}
	db, err := openCached("file:" + (&url.URL{Path: s.path}).EscapedPath() + "?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", s.path, err)
	}
	db.SetMaxOpenConns(1)
	s.db = db
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", s.path, err)
	}
	return s, nil
}

// name is the database for messages.
func (s *Store) name() string { return s.path }

// fail releases what a failed Open holds.
func (s *Store) fail(err error) error {
	if s.db != nil {
		_ = s.db.Close()
	}
	if s.rdb != nil {
		_ = s.rdb.Close()
	}
	_ = s.lock.release()
	return err
}

// prepare checks the database and creates or checks lockbot's tables.
func (s *Store) prepare(ctx context.Context) error {
	var check string
	if err := s.db.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&check); err != nil {
		return fmt.Errorf("sqlite: %s cannot be read (%w); if it is damaged, restore it from a backup", s.name(), err)
	}
	if check != "ok" {
		return fmt.Errorf("sqlite: %s is damaged (%s); restore it from a backup, or move it away to start empty", s.name(), check)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", s.name(), err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("sqlite: create the tables of %s: %w", s.name(), err)
	}
	var v string
	err = tx.QueryRowContext(ctx, `SELECT value FROM lockbot_meta WHERE key = 'schema_version'`).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return fmt.Errorf("sqlite: read the schema version of %s: %w", s.name(), err)
	default:
		n, _ := strconv.Atoi(v)
		if n > schemaVersion {
			return fmt.Errorf("sqlite: %s was written by a newer lockbot (schema %d; this one knows %d): run that version, or restore a backup", s.name(), n, schemaVersion)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO lockbot_meta(key, value) VALUES('schema_version', ?)
		ON CONFLICT(key) DO UPDATE SET value = excluded.value`, strconv.Itoa(schemaVersion)); err != nil {
		return fmt.Errorf("sqlite: record the schema version of %s: %w", s.name(), err)
	}
	return tx.Commit()
}

// Changed implements approvals.Store.
func (s *Store) Changed() <-chan struct{} { return s.changed.Next() }

// committed tells the waiters of Changed.
func (s *Store) committed() { s.changed.Tell() }

// Ping implements approvals.Store: it proves the database can be written.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return errClosed
	}
	if s.readOnly {
		return s.db.PingContext(ctx)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO lockbot_meta(key, value) VALUES('ping', ?)
		ON CONFLICT(key) DO UPDATE SET value = excluded.value`, stamp(s.now()))
	if err != nil {
		return fmt.Errorf("sqlite: %s cannot be written: %w", s.name(), err)
	}
	return nil
}

// Close implements approvals.Store.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	err := s.db.Close()
	if s.rdb != nil {
		err = errors.Join(err, s.rdb.Close())
	}
	if lerr := s.lock.release(); err == nil {
		err = lerr
	}
	return err
}

// errClosed is returned by a store used after Close.
var errClosed = errors.New("sqlite: store is closed")
