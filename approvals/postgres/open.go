package postgres

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/approvals/internal/news"
	"github.com/lockbot/lockbot/approvals/internal/rivertask"
)

// Options tunes a Store. Zero values take the defaults, which move a
// lease to another replica within about 12 s of its holder dying and a
// task within about 40 s.
type Options struct {
	// Logger receives what the store cannot return: a task that failed,
	// a heartbeat that could not be written, River's own warnings. The
	// default discards.
	Logger *slog.Logger
	// Now is the clock of records the store stamps itself (default
	// time.Now). Liveness (heartbeats, leases) uses the database's clock
	// instead, so replicas whose clocks disagree still agree on who is
	// alive.
	Now func() time.Time
	// PollInterval is how often idle task workers look for tasks whose
	// time came (default 1s); tasks enqueued by any replica start at once,
	// woken by a notification.
	PollInterval time.Duration
	// StopGrace is how long Work waits, once its context ends, for the
	// tasks under way to finish before it cancels them (default 20s, which
	// fits Kubernetes' 30 s grace period). A cancelled task runs again.
	StopGrace time.Duration
	// MaxConns caps the connections of the pool that serves Update, View
	// and the task workers (default 10; pool_max_conns in the URL wins).
	// Heartbeats, leases and notifications have their own three, so a
	// busy pool never makes a replica look dead.
	MaxConns int32

	// Heartbeat is how often the store writes its heartbeat (default 5s),
	// and DeadAfter how old the last one must be before other replicas
	// take this one's running tasks (default 30s). A replica that cannot
	// write its heartbeat for most of DeadAfter cancels its own tasks
	// first. DeadAfter must be at least three heartbeats.
	Heartbeat, DeadAfter time.Duration
	// OrphanCheck is how often a working replica looks for tasks left
	// running by a dead one (default 5s).
	OrphanCheck time.Duration
	// LeaseTTL is how long a lease of Lead lasts unless renewed (default
	// 10s), and LeaseRenew how often its holder renews it and the others
	// try to take it (default 2s). A holder that cannot renew stops its
	// work before the lease can expire. LeaseTTL must be at least three
	// renewals.
	LeaseTTL, LeaseRenew time.Duration
}

// withDefaults fills the zero fields and checks the timings.
func (o Options) withDefaults() (Options, error) {
	o.PollInterval = cmp.Or(o.PollInterval, time.Second)
	o.StopGrace = cmp.Or(o.StopGrace, 20*time.Second)
	o.MaxConns = cmp.Or(o.MaxConns, 10)
	o.Heartbeat = cmp.Or(o.Heartbeat, 5*time.Second)
	o.DeadAfter = cmp.Or(o.DeadAfter, 30*time.Second)
	o.OrphanCheck = cmp.Or(o.OrphanCheck, 5*time.Second)
	o.LeaseTTL = cmp.Or(o.LeaseTTL, 10*time.Second)
	o.LeaseRenew = cmp.Or(o.LeaseRenew, 2*time.Second)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.DeadAfter < 3*o.Heartbeat:
		return o, fmt.Errorf("postgres: DeadAfter (%s) must be at least three heartbeats (%s)", o.DeadAfter, o.Heartbeat)
	case o.LeaseTTL < 3*o.LeaseRenew:
		return o, fmt.Errorf("postgres: LeaseTTL (%s) must be at least three renewals (%s)", o.LeaseTTL, o.LeaseRenew)
	}
	return o, nil
}

// Timeouts of the store's own small writes, which must not hold up a
// shutdown or a lost connection for long.
const (
	connectTimeout = 10 * time.Second
	unlockTimeout  = 5 * time.Second
	closeWait      = 5 * time.Second // for Lead holders to release at Close
	releaseTimeout = 2 * time.Second
)

// Store is the Postgres approvals.Store. Create it with Open.
type Store struct {
	pool *pgxpool.Pool // Update, View, Ping and River
	// live serves heartbeats and leases: a pool of its own, so that work
	// filling pool never delays the writes that keep this replica alive.
	live   *pgxpool.Pool
	driver *riverpgxv5.Driver
	name   string // host:port/database, for messages (never the password)
	id     string // this replica: its heartbeat row and River's attempted_by
	host   string
	log    *slog.Logger
	opts   Options

	// river inserts tasks: an insert-only client until Work starts, then
	// the working one.
	river atomic.Pointer[river.Client[pgx.Tx]]
	works atomic.Int64 // Work calls, naming their River clients

	// life ends at Close: the heartbeat, the listener, Lead and Work
	// watch it.
	life context.Context
	end  context.CancelFunc
	wg   sync.WaitGroup // the heartbeat and the listener

	aliveMu sync.Mutex
	alive   context.Context // cancelled while the heartbeat is failing
	fence   context.CancelFunc

	holdMu  sync.Mutex
	holding map[chan struct{}]struct{} // Lead holds, closed once released

	changed news.News // commits
	leases  news.News // leases released

	closed atomic.Bool
}

var _ approvals.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or a key=value
// connection string), migrates it and registers this replica. It refuses
// a database written by a newer lockbot.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: the database URL: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = opts.MaxConns
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		// Without one, a connection to a host that went away waits for
		// the kernel's TCP timeout, minutes.
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	host, _ := os.Hostname()
	s := &Store{
		name:    fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database),
		host:    host,
		id:      replicaID(host),
		log:     opts.Logger,
		opts:    opts,
		holding: map[chan struct{}]struct{}{},
	}
	s.life, s.end = context.WithCancel(context.Background())
	s.alive, s.fence = context.WithCancel(s.life)
	liveCfg := cfg.Copy()
	liveCfg.MaxConns, liveCfg.MinConns = 2, 0
	if s.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, s.fail(fmt.Errorf("postgres: %s: %w", s.name, err))
	}
	if s.live, err = pgxpool.NewWithConfig(ctx, liveCfg); err != nil {
		return nil, s.fail(fmt.Errorf("postgres: %s: %w", s.name, err))
	}
	s.driver = riverpgxv5.New(s.pool)
	if err := s.migrate(ctx); err != nil {
		return nil, s.fail(err)
	}
	beat := time.Now()
	if err := s.beat(ctx, s.live); err != nil {
		return nil, s.fail(fmt.Errorf("postgres: register this replica in %s: %w", s.name, err))
	}
	inserter, err := river.NewClient(s.driver, &river.Config{Logger: rivertask.Logger(s.log), FetchCooldown: fetchCooldown})
	if err != nil {
		return nil, s.fail(fmt.Errorf("postgres: task client: %w", err))
	}
	s.river.Store(inserter)
	s.wg.Add(2)
	go s.heartbeat(beat)
	go s.listen()
	return s, nil
}

// replicaID names a Store: the host, for people reading `lockbot check`,
// and random letters, because one host may run several. It has no "/",
// which separates it from the number of a Work call in River's client IDs.
func replicaID(host string) string {
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		}
		return '-'
	}, host)
	if len(clean) > 40 {
		clean = clean[:40]
	}
	if clean == "" {
		clean = "lockbot"
	}
	return clean + "-" + strings.ToLower(rand.Text()[:8])
}

// ID is this replica's name in the database: its heartbeat row, the
// holder of its leases, and the prefix of its task workers' River IDs.
func (s *Store) ID() string { return s.id }

// fail releases what a failed Open holds.
func (s *Store) fail(err error) error {
	s.end()
	if s.live != nil {
		s.live.Close()
	}
	if s.pool != nil {
		s.pool.Close()
	}
	return err
}

// Changed implements approvals.Store. Commits of this store close it at
// once; those of other replicas when their notification arrives.
func (s *Store) Changed() <-chan struct{} { return s.changed.Next() }

// committed tells the waiters of Changed.
func (s *Store) committed() { s.changed.Tell() }

// leaseNews returns a channel closed when a lease is next released, so
// the replicas waiting for it try at once instead of at their next poll.
func (s *Store) leaseNews() <-chan struct{} { return s.leases.Next() }

// leaseReleased tells the waiters of leaseNews.
func (s *Store) leaseReleased() { s.leases.Tell() }

// Ping implements approvals.Store: it writes this replica's heartbeat
// through the pool that serves Update, which proves the database answers,
// accepts writes, and has a connection to spare.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return errClosed
	}
	if err := s.beat(ctx, s.pool); err != nil {
		return fmt.Errorf("postgres: %s cannot be written: %w", s.name, err)
	}
	return nil
}

// Close implements approvals.Store. It cancels what still runs under the
// store (Lead's work, Work's tasks), waits a little for Lead holders to
// release their leases, stops the heartbeat and the listener, and removes
// this replica's heartbeat so that other replicas take any task it left
// running at once rather than after DeadAfter.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.end()
	s.holdMu.Lock()
	holds := make([]chan struct{}, 0, len(s.holding))
	for h := range s.holding {
		holds = append(holds, h)
	}
	s.holdMu.Unlock()
	wait := time.NewTimer(closeWait)
	defer wait.Stop()
wait:
	for _, h := range holds {
		select {
		case <-h:
		case <-wait.C:
			// Work that ignores its context keeps its lease until the
			// lease expires, which is safe, only slower.
			s.log.Warn("leader work did not stop in time; its lease will expire instead", "db", s.name)
			break wait
		}
	}
	s.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	if _, err := s.live.Exec(ctx, `DELETE FROM lockbot_replicas WHERE id = $1`, s.id); err != nil {
		s.log.Warn("could not remove this replica's heartbeat; its tasks move once it is old", "db", s.name, "err", err)
	}
	s.live.Close()
	s.pool.Close()
	return nil
}

// errClosed is returned by a store used after Close.
var errClosed = errors.New("postgres: store is closed")
