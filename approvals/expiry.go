package approvals

import (
	"context"
	"errors"
	"time"
)

// Waits of Run when there is no deadline to wait for.
const (
	// idleWait bounds a wait with no pending request; Open wakes Run sooner.
	idleWait = time.Hour
	// retryWait follows a failed store read or expiry, so that a broken
	// store is retried without spinning.
	retryWait = 30 * time.Second
)

// ExpireDue moves every pending request past its deadline to expired,
// journals each, calls OnExpire for each and returns them. A request decided
// meanwhile is left alone. Failures for some requests do not stop the
// others; they are returned joined.
func (e *Engine) ExpireDue(ctx context.Context) ([]Request, error) {
	all, err := e.store.List(ctx)
	if err != nil {
		return nil, err
	}
	now := e.now()
	var out []Request
	var errs []error
	for _, r := range all {
		if !r.overdue(now) {
			continue
		}
		// The step only runs if the request is no longer overdue inside the
		// atomic update, i.e. someone decided it since List.
		got, expired, err := e.apply(ctx, r.ID, true, func(*Request, time.Time) ([]Record, error) {
			return nil, ErrNotPending
		})
		switch {
		case errors.Is(err, ErrNotPending), errors.Is(err, ErrNotFound):
		case err != nil:
			errs = append(errs, err)
		case expired:
			out = append(out, got)
		}
	}
	return out, errors.Join(errs...)
}

// Run expires requests at their deadlines until ctx is done, then returns
// nil. It expires overdue requests at once (those that passed while the
// process was down), then sleeps until the next deadline, waking early when
// Open adds a request. Run one Run per Engine.
func (e *Engine) Run(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		failed := false
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := e.ExpireDue(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				e.log.ErrorContext(ctx, "approvals: expiring requests failed", "err", err)
				failed = true
			}
		case <-e.wake:
		}
		wait := e.untilNextDeadline(ctx)
		if failed {
			wait = max(wait, retryWait)
		}
		t.Reset(wait)
	}
}

// untilNextDeadline is how long until the earliest pending deadline (0 when
// one has passed).
func (e *Engine) untilNextDeadline(ctx context.Context) time.Duration {
	all, err := e.store.List(ctx)
	if err != nil {
		if ctx.Err() == nil {
			e.log.ErrorContext(ctx, "approvals: listing requests failed", "err", err)
		}
		return retryWait
	}
	wait := idleWait
	now := e.now()
	for _, r := range all {
		if r.State == StatePending {
			wait = min(wait, max(r.Expires.Sub(now), 0))
		}
	}
	return wait
}
