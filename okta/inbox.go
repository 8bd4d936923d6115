package okta

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
	"unicode/utf8"
)

const (
	defaultSeenTTL = 72 * time.Hour
	// minSeenTTL is the shortest dedupe memory WithSeenTTL accepts: Okta
	// retries and the catch-up overlap both re-send events hours later.
	minSeenTTL        = 24 * time.Hour
	defaultMaxPending = 100_000
	// defaultCompactAt is the log size that triggers a snapshot; the log
	// must also have outgrown the previous snapshot so compaction stays
	// amortised O(1) per event however large the live state is.
	defaultCompactAt = 4 << 20
	// maxUUIDLen bounds the dedupe key; Okta UUIDs are 36 bytes.
	maxUUIDLen = 256
)

// Inbox is the durable queue between the hook and catch-up (producers) and
// the workers (consumers). It dedupes by event UUID and keeps every admitted
// event until a worker says Done, so an event Okta saw answered with 200
// survives a crash and is handed out again after a restart.
//
// Inbox implements Admitter. Storage (when a directory is given) is an append-only JSON-lines log of
// admit and done records plus a snapshot it is compacted into. Only one
// process may use a directory at a time.
type Inbox struct {
	seenTTL    time.Duration
	maxPending int
	compactAt  int64
	logger     *slog.Logger
	now        func() time.Time

	mu        sync.Mutex
	seen      map[string]time.Time // uuid → when admitted
	pending   map[string]*pendingEvent
	queue     []string // admission order of pending events not handed out yet; may hold done ones
	head      int      // queue[:head] has been consumed
	seq       uint64
	wake      chan struct{} // closed and replaced whenever Next may have work
	closed    bool
	lastPrune time.Time
	store     *inboxStore // nil when memory only
}

// pendingEvent is an admitted event that no worker has finished yet.
// Whether it was handed out is implied by its position in the queue.
type pendingEvent struct {
	ev  Event
	seq uint64 // admission order, kept across snapshots
}

// InboxOption configures OpenInbox.
type InboxOption func(*Inbox)

// WithSeenTTL sets how long a UUID is remembered after admission (default
// 72h). Values under 24h are raised to 24h: Okta's retry and the catch-up
// overlap re-send events long after the first delivery.
func WithSeenTTL(d time.Duration) InboxOption {
	return func(in *Inbox) {
		if d > 0 {
			in.seenTTL = max(d, minSeenTTL)
		}
	}
}

// WithMaxPending bounds the events admitted but not Done (default 100,000);
// beyond it Admit returns ErrInboxFull so a stuck worker shows up as 503s
// instead of unbounded memory and disk use. n <= 0 keeps the default.
func WithMaxPending(n int) InboxOption {
	return func(in *Inbox) {
		if n > 0 {
			in.maxPending = n
		}
	}
}

// WithInboxLogger sets where recovery and compaction problems are logged
// (default: discarded).
func WithInboxLogger(l *slog.Logger) InboxOption {
	return func(in *Inbox) {
		if l != nil {
			in.logger = l
		}
	}
}

// OpenInbox opens (creating if needed) the inbox stored in dir, replaying
// what an earlier process left: every admitted-but-not-Done event is handed
// out again and every UUID seen within the TTL is still deduped. A torn last
// log line (a crash mid-write) is ignored; other corruption is an error.
// dir "" keeps everything in memory only.
func OpenInbox(dir string, opts ...InboxOption) (*Inbox, error) {
	in := &Inbox{
		seenTTL:    defaultSeenTTL,
		maxPending: defaultMaxPending,
		compactAt:  defaultCompactAt,
		logger:     slog.New(slog.DiscardHandler),
		now:        time.Now,
		seen:       make(map[string]time.Time),
		pending:    make(map[string]*pendingEvent),
		wake:       make(chan struct{}),
	}
	for _, o := range opts {
		o(in)
	}
	if dir == "" {
		return in, nil
	}
	st, snap, recs, err := openInboxStore(dir, in.logger)
	if err != nil {
		return nil, err
	}
	in.store = st
	now := in.now()
	if snap != nil {
		in.restore(snap, now)
	}
	for _, r := range recs {
		switch r.Op {
		case opAdmit:
			in.apply(in.fresh(r.Events, now), r.At)
		case opDone:
			delete(in.pending, r.UUID)
		}
	}
	// Start every process from a snapshot and an empty log, so a torn
	// tail is gone before the first append lands after it.
	if err := in.compact(now); err != nil {
		_ = st.close()
		return nil, err
	}
	return in, nil
}

// Admit records every event whose UUID was not seen before (within this call
// or earlier, pending or done, within the TTL) as seen and pending, durably:
// one log append and one fsync per call, not per event. It returns the newly
// admitted events in input order. Events without a usable UUID (empty, over
// 256 bytes, not UTF-8) are skipped. If the events would exceed the pending
// limit, nothing is admitted and the error wraps ErrInboxFull; on a storage
// error nothing is admitted either, so the caller may retry the whole call.
// A ctx that has ended admits nothing and returns its error. Admit
// implements Admitter.
func (in *Inbox) Admit(ctx context.Context, evs []Event) (admitted []Event, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return nil, ErrInboxClosed
	}
	now := in.now()
	fresh := in.fresh(evs, now)
	if len(fresh) == 0 {
		return nil, nil
	}
	if len(in.pending)+len(fresh) > in.maxPending {
		return nil, fmt.Errorf("%w: %d pending, limit %d", ErrInboxFull, len(in.pending), in.maxPending)
	}
	if in.store != nil {
		line, err := json.Marshal(inboxRecord{Op: opAdmit, At: now, Events: fresh})
		if err != nil {
			return nil, fmt.Errorf("okta: inbox: encode: %w", err)
		}
		if err := in.store.append(line, true); err != nil {
			return nil, err
		}
	}
	in.apply(fresh, now)
	return slices.Clone(fresh), nil
}

// Next blocks until a pending event that has not been handed out in this
// process is available and returns it, oldest admission first. It returns
// ctx.Err() when ctx ends and ErrInboxClosed after Close.
func (in *Inbox) Next(ctx context.Context) (Event, error) {
	for {
		if err := ctx.Err(); err != nil {
			return Event{}, err
		}
		in.mu.Lock()
		if in.closed {
			in.mu.Unlock()
			return Event{}, ErrInboxClosed
		}
		if p := in.pop(); p != nil {
			in.mu.Unlock()
			return p.ev, nil
		}
		wake := in.wake
		in.mu.Unlock()
		select {
		case <-ctx.Done():
			return Event{}, ctx.Err()
		case <-wake:
		}
	}
}

// Done tells the inbox a worker has finished uuid: it is no longer pending
// (and will not be handed out after a restart) but is still remembered as
// seen. Done of an unknown or already-done UUID is a no-op, so workers may
// retry it. The done record is written without an fsync: losing it in a
// power cut only makes the event run once more, while an fsync per event
// would slow the hook's admissions that share the log.
func (in *Inbox) Done(uuid string) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return ErrInboxClosed
	}
	if _, ok := in.pending[uuid]; !ok {
		return nil
	}
	if in.store != nil {
		line, err := json.Marshal(inboxRecord{Op: opDone, UUID: uuid})
		if err != nil {
			return fmt.Errorf("okta: inbox: encode: %w", err)
		}
		if err := in.store.append(line, false); err != nil {
			return err
		}
	}
	delete(in.pending, uuid)
	now := in.now()
	in.maybePrune(now)
	in.maybeCompact(now)
	return nil
}

// Len returns the number of pending events, handed out or not.
func (in *Inbox) Len() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.pending)
}

// Close flushes and closes the storage and makes blocked and future Next
// calls return ErrInboxClosed. It is safe to call more than once.
func (in *Inbox) Close() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return nil
	}
	in.closed = true
	close(in.wake)
	if in.store != nil {
		return in.store.close()
	}
	return nil
}

// usableUUID reports whether id can be a dedupe key that survives the JSON
// round trip through the log unchanged.
func usableUUID(id string) bool {
	return id != "" && len(id) <= maxUUIDLen && utf8.ValidString(id)
}

// known reports whether uuid is pending or was admitted within the TTL.
func (in *Inbox) known(uuid string, now time.Time) bool {
	if _, ok := in.pending[uuid]; ok {
		return true
	}
	at, ok := in.seen[uuid]
	return ok && now.Sub(at) < in.seenTTL
}

// fresh returns the events of evs that are not known, deduped within evs,
// in input order. It changes nothing.
func (in *Inbox) fresh(evs []Event, now time.Time) []Event {
	var out []Event
	var batch map[string]struct{}
	for _, ev := range evs {
		if !usableUUID(ev.UUID) || in.known(ev.UUID, now) {
			continue
		}
		if _, dup := batch[ev.UUID]; dup {
			continue
		}
		if batch == nil {
			batch = make(map[string]struct{}, len(evs))
		}
		batch[ev.UUID] = struct{}{}
		out = append(out, ev)
	}
	return out
}

// apply makes evs (already filtered by fresh) seen as of at and pending, and
// wakes Next.
func (in *Inbox) apply(evs []Event, at time.Time) {
	if len(evs) == 0 {
		return
	}
	for _, ev := range evs {
		in.seen[ev.UUID] = at
		in.seq++
		in.pending[ev.UUID] = &pendingEvent{ev: ev, seq: in.seq}
		in.queue = append(in.queue, ev.UUID)
	}
	close(in.wake)
	in.wake = make(chan struct{})
}

// pop hands out the oldest pending event not handed out yet, or nil.
func (in *Inbox) pop() *pendingEvent {
	for in.head < len(in.queue) {
		id := in.queue[in.head]
		in.queue[in.head] = ""
		in.head++
		p, ok := in.pending[id]
		if !ok {
			continue
		}
		in.shrinkQueue()
		return p
	}
	in.queue, in.head = in.queue[:0], 0
	return nil
}

// shrinkQueue drops the consumed prefix once it dominates the slice, so the
// queue's memory follows the number of waiting events.
func (in *Inbox) shrinkQueue() {
	if in.head >= 1024 && in.head*2 >= len(in.queue) {
		in.queue = append(in.queue[:0], in.queue[in.head:]...)
		in.head = 0
	}
}

// maybePrune forgets expired UUIDs every so often; the cost is O(seen) but
// runs at most a few times per TTL, and only from Done: only done UUIDs can
// be forgotten, so Admit stays O(events in the call).
func (in *Inbox) maybePrune(now time.Time) {
	if now.Sub(in.lastPrune) < in.seenTTL/8 {
		return
	}
	in.lastPrune = now
	in.prune(now)
}

// prune forgets UUIDs admitted longer than the TTL ago; pending ones stay
// so a slow event is never admitted twice.
func (in *Inbox) prune(now time.Time) {
	for id, at := range in.seen {
		if now.Sub(at) >= in.seenTTL {
			if _, ok := in.pending[id]; !ok {
				delete(in.seen, id)
			}
		}
	}
}

// snapshot captures the live state: seen UUIDs and pending events in
// admission order.
func (in *Inbox) snapshot() inboxSnapshot {
	ps := make([]*pendingEvent, 0, len(in.pending))
	for _, p := range in.pending {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b *pendingEvent) int { return cmp.Compare(a.seq, b.seq) })
	snap := inboxSnapshot{
		Version: snapshotVersion,
		Seen:    make([]seenRecord, 0, len(in.seen)),
		Pending: make([]Event, len(ps)),
	}
	for id, at := range in.seen {
		snap.Seen = append(snap.Seen, seenRecord{UUID: id, At: at})
	}
	for i, p := range ps {
		snap.Pending[i] = p.ev
	}
	return snap
}

// restore loads a snapshot into an empty inbox.
func (in *Inbox) restore(snap *inboxSnapshot, now time.Time) {
	for _, r := range snap.Seen {
		in.seen[r.UUID] = r.At
	}
	for _, ev := range snap.Pending {
		if !usableUUID(ev.UUID) {
			continue
		}
		if _, dup := in.pending[ev.UUID]; dup {
			continue
		}
		if _, ok := in.seen[ev.UUID]; !ok {
			in.seen[ev.UUID] = now
		}
		in.seq++
		in.pending[ev.UUID] = &pendingEvent{ev: ev, seq: in.seq}
		in.queue = append(in.queue, ev.UUID)
	}
}

// maybeCompact folds the log into a snapshot once it is big enough. Only
// Done calls it, so the hook's Admit never pays for a snapshot; without
// Done calls the log grows only by admissions, which maxPending bounds. A
// failure is only logged: the log is still complete, just longer.
func (in *Inbox) maybeCompact(now time.Time) {
	if in.store == nil || in.store.size < in.compactAt || in.store.size < in.store.snapSize {
		return
	}
	if err := in.compact(now); err != nil {
		in.logger.Warn("okta inbox compaction failed; log keeps growing", "err", err)
	}
}

// compact writes a snapshot of the current state and empties the log.
func (in *Inbox) compact(now time.Time) error {
	in.prune(now)
	data, err := json.Marshal(in.snapshot())
	if err != nil {
		return fmt.Errorf("okta: inbox: encode snapshot: %w", err)
	}
	return in.store.replace(data)
}

var _ Admitter = (*Inbox)(nil)
