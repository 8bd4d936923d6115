package kandji

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Priority lets interactive work (a person waiting in Slack) jump ahead of bulk work (an
// offboarding burst) for the shared rate budget, and bulk work ahead of the background lookups
// that feed it.
type Priority int

const (
	// Interactive is for calls someone is waiting on; it is the default when the context carries
	// no priority.
	Interactive Priority = iota
	// Bulk is for work nobody watches live, such as the locks of an offboarding burst; it waits
	// while interactive calls go first.
	Bulk
	// Background is for lookups that feed bulk work (an inventory sweep): they go last, so the
	// locks they produced are never delayed by the lookups for the next ones.
	Background
)

// String names the priority for logs and metrics.
func (p Priority) String() string {
	switch p {
	case Bulk:
		return "bulk"
	case Background:
		return "background"
	}
	return "interactive"
}

type priorityKey struct{}

// WithPriority returns a context whose Client calls take rate tokens at priority p.
func WithPriority(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, priorityKey{}, p)
}

// priorityFrom reads the call's priority; anything unknown counts as the nearest valid one.
func priorityFrom(ctx context.Context) Priority {
	p, _ := ctx.Value(priorityKey{}).(Priority)
	return min(max(p, Interactive), Background)
}

// limiter is a token bucket behind a priority gate. Only the caller holding the gate waits on the
// bucket, so no caller holds a reservation more than one token's time into the future, and when
// the gate is handed on a waiter of a higher priority always goes first (FIFO within a
// priority).
type limiter struct {
	bucket *rate.Limiter
	shared Budget // when set, the budget of every replica, in place of bucket

	mu      sync.Mutex
	busy    bool               // some caller holds the gate
	waiting [3][]chan struct{} // indexed by Priority; closed when the gate is handed over
}

// newLimiter spends perHour tokens an hour with bursts of at most one second's worth.
func newLimiter(perHour int, shared Budget) *limiter {
	burst := max(1, (perHour+3599)/3600)
	return &limiter{bucket: rate.NewLimiter(rate.Limit(float64(perHour)/3600), burst), shared: shared}
}

// wait takes one token, or returns ctx's error as soon as ctx is done.
func (l *limiter) wait(ctx context.Context, p Priority) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := l.enter(ctx, p); err != nil {
		return err
	}
	defer l.leave()
	if l.shared != nil {
		return l.waitShared(ctx)
	}
	if err := l.bucket.Wait(ctx); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		// The bucket refuses at once when the next token comes after ctx's deadline.
		return fmt.Errorf("kandji: the next rate-limit token comes after the context deadline: %w",
			context.DeadlineExceeded)
	}
	return nil
}

// waitShared takes a token of the shared budget and waits until it may be
// spent. The gate is held meanwhile, so this replica holds at most one
// reservation and its priorities still order who goes next.
func (l *limiter) waitShared(ctx context.Context) error {
	d, err := l.shared.Reserve(ctx)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return fmt.Errorf("kandji: the shared rate budget: %w", err)
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// enter takes the gate, queueing behind the current holder when there is one.
func (l *limiter) enter(ctx context.Context, p Priority) error {
	l.mu.Lock()
	if !l.busy {
		l.busy = true
		l.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	l.waiting[p] = append(l.waiting[p], ch)
	l.mu.Unlock()

	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		i := slices.Index(l.waiting[p], ch)
		if i >= 0 {
			l.waiting[p] = slices.Delete(l.waiting[p], i, i+1)
		}
		l.mu.Unlock()
		if i < 0 {
			// The gate was handed over just as ctx ended: pass it on rather than drop it.
			l.leave()
		}
		return ctx.Err()
	}
}

// leave hands the gate to the first waiter of the highest priority waiting, else frees it.
func (l *limiter) leave() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for p := range l.waiting {
		if q := l.waiting[p]; len(q) > 0 {
			l.waiting[p] = q[1:]
			close(q[0])
			return
		}
	}
	l.busy = false
}
