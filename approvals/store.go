package approvals

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/patrickmn/go-cache"
)

// Store keeps requests. The engine holds the rules; a Store only has to keep
// requests and apply changes atomically, so a shared store (Redis, for
// several replicas) can replace CacheStore without touching the rules.
type Store interface {
	// Get returns the request, or ErrNotFound.
	Get(ctx context.Context, id string) (Request, error)
	// Create stores a new request; an existing ID is an error.
	Create(ctx context.Context, r Request) error
	// Update applies fn to the stored request atomically: no other Update of
	// the same request runs between the read fn sees and the write, so no
	// update is lost. fn is called at most once per Update. If fn returns an
	// error, nothing is written and Update returns that error unchanged; if
	// the request does not exist, Update returns ErrNotFound without calling
	// fn. fn must not call back into the Store.
	Update(ctx context.Context, id string, fn func(*Request) error) (Request, error)
	// List returns every stored request, oldest first.
	List(ctx context.Context) ([]Request, error)
}

// DefaultRetention is how long a request is kept once it can no longer
// change, and how long past its deadline a live request is kept.
const DefaultRetention = 7 * 24 * time.Hour

// sweepInterval bounds how often Create purges expired cache entries; the
// store runs no janitor goroutine, so it does this housekeeping itself.
const sweepInterval = time.Minute

// entry is a request with the instant after which the store may forget it.
// The deadline is stored with the request, not recomputed, so a reopen drops
// exactly what the running store would have dropped.
type entry struct {
	Request Request   `json:"request"`
	Until   time.Time `json:"until"`
}

// CacheStore is the default Store: requests live in a go-cache whose TTL is
// the request's deadline plus the retention period (live requests) or the
// retention period (terminal ones), so it never grows without bound. Opened
// with OpenStore it is also persisted to a directory and survives a crash.
type CacheStore struct {
	c         *cache.Cache
	now       func() time.Time
	retention time.Duration
	log       *slog.Logger
	closed    atomic.Bool

	mu        sync.Mutex // serialises every change, and the disk state
	lastSweep time.Time
	disk      *diskLog // nil when not persisted
}

// StoreOption configures a CacheStore.
type StoreOption func(*CacheStore)

// WithStoreLogger sets where the store reports what it skipped or dropped
// while loading (torn log lines, expired entries) and failed compactions.
// The default discards.
func WithStoreLogger(l *slog.Logger) StoreOption {
	return func(s *CacheStore) {
		if l != nil {
			s.log = l
		}
	}
}

// WithStoreRetention sets how long requests are kept after they can no longer
// change (and after the deadline of live ones). d ≤ 0 keeps DefaultRetention.
// It should be at least the engine's WithRetention.
func WithStoreRetention(d time.Duration) StoreOption {
	return func(s *CacheStore) {
		if d > 0 {
			s.retention = d
		}
	}
}

// WithStoreClock replaces time.Now for retention decisions, so tests can
// reopen a store "a week later". nil keeps time.Now.
func WithStoreClock(now func() time.Time) StoreOption {
	return func(s *CacheStore) {
		if now != nil {
			s.now = now
		}
	}
}

// NewMemoryStore returns a CacheStore that is not persisted: everything is
// lost when the process ends. Meant for tests and the demo.
func NewMemoryStore(opts ...StoreOption) *CacheStore {
	s := &CacheStore{
		// No default TTL and no janitor goroutine: every entry gets its own
		// TTL, and expired entries are swept by Create (see sweepInterval).
		c:         cache.New(cache.NoExpiration, 0),
		now:       time.Now,
		retention: DefaultRetention,
		log:       slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(s)
	}
	s.lastSweep = s.now()
	return s
}

// OpenStore returns a CacheStore persisted under dir (created with mode 0700
// if missing): a snapshot written to a temporary file, fsync'd and renamed
// into place, plus an append-only log of changed requests, fsync'd on every
// change and folded into a new snapshot once it outgrows the live set. A
// crash at any instant loses no change that a Create or Update reported as
// done. Requests past their retention are dropped on open.
func OpenStore(dir string, opts ...StoreOption) (*CacheStore, error) {
	s := NewMemoryStore(opts...)
	entries, d, err := openDisk(dir, s.log)
	if err != nil {
		return nil, err
	}
	now := s.now()
	dropped := 0
	for _, e := range entries {
		if e.Until.Before(now) {
			dropped++
			continue
		}
		s.c.Set(e.Request.ID, e, e.Until.Sub(now))
	}
	if dropped > 0 {
		s.log.Info("approvals: dropped requests past retention", "dropped", dropped)
	}
	s.disk = d
	// Start from a fresh snapshot and an empty log whenever the log holds
	// anything: it removes a torn tail (which the next append would otherwise
	// glue onto a good line) and forgets the dropped requests on disk too.
	if d.lines > 0 || d.size > 0 || dropped > 0 {
		if err := s.compactLocked(); err != nil {
			return nil, joinClose(err, d.f)
		}
	}
	return s, nil
}

// Close folds the log into the snapshot (persisted store) and releases the
// files. Later calls fail; a second Close does nothing.
func (s *CacheStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Swap(true) || s.disk == nil {
		return nil
	}
	err := s.compactLocked()
	if cerr := s.disk.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("approvals: close store log: %w", cerr)
	}
	return err
}

// usable fails once the store is closed or ctx is done, before any work.
func (s *CacheStore) usable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return fmt.Errorf("approvals: store: %w", errClosed)
	}
	return nil
}

// Get implements Store.
func (s *CacheStore) Get(ctx context.Context, id string) (Request, error) {
	if err := s.usable(ctx); err != nil {
		return Request{}, err
	}
	e, ok := s.lookup(id)
	if !ok {
		return Request{}, ErrNotFound
	}
	return e.Request.clone(), nil
}

// lookup reads the cache; stored entries are never modified in place, so a
// read needs no lock.
func (s *CacheStore) lookup(id string) (entry, bool) {
	v, ok := s.c.Get(id)
	if !ok {
		return entry{}, false
	}
	e, ok := v.(entry)
	return e, ok
}

// Create implements Store.
func (s *CacheStore) Create(ctx context.Context, r Request) error {
	if r.ID == "" || !r.State.valid() {
		return fmt.Errorf("%w: an ID and a known state are required", errInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return err
	}
	if now := s.now(); now.Sub(s.lastSweep) >= sweepInterval {
		s.c.DeleteExpired()
		s.lastSweep = now
	}
	if _, ok := s.lookup(r.ID); ok {
		return errDuplicate
	}
	return s.putLocked(r.clone())
}

// Update implements Store.
func (s *CacheStore) Update(ctx context.Context, id string, fn func(*Request) error) (Request, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return Request{}, err
	}
	e, ok := s.lookup(id)
	if !ok {
		return Request{}, ErrNotFound
	}
	r := e.Request.clone()
	if err := fn(&r); err != nil {
		return Request{}, err
	}
	if r.ID != id {
		return Request{}, errIDChanged
	}
	if !r.State.valid() {
		return Request{}, fmt.Errorf("%w: unknown state %q", errInvalid, r.State)
	}
	r = r.clone() // fn may keep pointers into r's slices
	if err := s.putLocked(r); err != nil {
		return Request{}, err
	}
	return r.clone(), nil
}

// List implements Store.
func (s *CacheStore) List(ctx context.Context) ([]Request, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	items := s.c.Items()
	out := make([]Request, 0, len(items))
	for _, it := range items {
		if e, ok := it.Object.(entry); ok {
			out = append(out, e.Request.clone())
		}
	}
	sortOldestFirst(out)
	return out, nil
}

// sortOldestFirst orders requests by creation.
func sortOldestFirst(rs []Request) { slices.SortFunc(rs, compareOldestFirst) }

// compareOldestFirst orders by creation, then ID so that equal times still
// give one stable order.
func compareOldestFirst(a, b Request) int {
	if c := a.Created.Compare(b.Created); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// keepUntil is when the store may forget r: retention after it can no longer
// change, or retention after its deadline while it still can.
func (s *CacheStore) keepUntil(r Request, now time.Time) time.Time {
	from := now
	if !r.State.Terminal() && r.Expires.After(now) {
		from = r.Expires
	}
	return from.Add(s.retention)
}

// putLocked writes r to the log (when persisted) and only then to the cache,
// so what readers see is always on disk. s.mu must be held.
func (s *CacheStore) putLocked(r Request) error {
	now := s.now()
	e := entry{Request: r, Until: s.keepUntil(r, now)}
	if s.disk != nil {
		if err := s.disk.append(e); err != nil {
			return err
		}
	}
	s.c.Set(r.ID, e, e.Until.Sub(now))
	if s.disk != nil && s.disk.lines > max(2*s.c.ItemCount(), minFoldLines) {
		if err := s.compactLocked(); err != nil {
			// The change itself is durable in the log; folding is retried
			// at the next change, so this is worth a warning, not a failure.
			s.log.Warn("approvals: compacting the store failed", "err", err)
		}
	}
	return nil
}

// compactLocked writes every live entry to a new snapshot and empties the
// log. s.mu must be held.
func (s *CacheStore) compactLocked() error {
	items := s.c.Items()
	entries := make([]entry, 0, len(items))
	for _, it := range items {
		if e, ok := it.Object.(entry); ok {
			entries = append(entries, e)
		}
	}
	return s.disk.compact(entries)
}
