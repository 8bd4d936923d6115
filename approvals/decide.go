package approvals

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Operation names journaled with a refusal.
const (
	opApprove = "approve"
	opDeny    = "deny"
)

// Approve records userID's approval. Refusals change nothing (except an
// expiry) and are journaled as KindRefused; they are checked in this order:
//   - ErrNotFound;
//   - ErrSelfApproval, before authorisation: being an approver does not let
//     anyone approve their own request;
//   - ErrNotApprover, or the Authorizer's error wrapped;
//   - ErrNotPending once the request is decided, whoever clicks;
//   - ErrExpired when it is still pending past its deadline (this call moves
//     it to expired and calls OnExpire);
//   - ErrAlreadyApproved when userID already counts toward the quorum.
//
// On success it returns the updated request. Exactly one successful call
// sees State == StateApproved, the one that reached the quorum; earlier ones
// see StatePending with one more approval.
func (e *Engine) Approve(ctx context.Context, id, userID string) (Request, error) {
	r, err := e.approve(ctx, id, userID)
	if err != nil {
		e.journalRefusal(ctx, opApprove, id, userID, err)
		return Request{}, err
	}
	return r, nil
}

// approve is Approve without the refusal journaling.
func (e *Engine) approve(ctx context.Context, id, userID string) (Request, error) {
	cur, err := e.Get(ctx, id)
	if err != nil {
		return Request{}, err
	}
	if userID == cur.Requester {
		return Request{}, ErrSelfApproval
	}
	if err := e.mayDecide(ctx, userID); err != nil {
		return Request{}, err
	}
	return e.decide(ctx, id, func(r *Request, now time.Time) ([]Record, error) {
		if r.State != StatePending {
			return nil, ErrNotPending
		}
		if r.approvedBy(userID) {
			return nil, ErrAlreadyApproved
		}
		r.Approvals = append(r.Approvals, Approval{By: userID, At: now})
		recs := []Record{{Kind: KindApproval, Actor: userID, Details: details(
			"approvals", strconv.Itoa(len(r.Approvals)), "required", strconv.Itoa(r.Required))}}
		if len(r.Approvals) < r.Required {
			return recs, nil
		}
		r.State, r.DecidedBy, r.DecidedAt = StateApproved, userID, now
		approvers := make([]string, len(r.Approvals))
		for i, a := range r.Approvals {
			approvers[i] = a.By
		}
		return append(recs, Record{Kind: KindApproved, Actor: userID,
			Details: details("approvers", strings.Join(approvers, ","))}), nil
	})
}

// Deny ends a pending request without locking anything. The requester
// withdrawing their own request moves it to cancelled; an approver moves it
// to denied. Anyone else gets ErrNotApprover (or the Authorizer's error,
// wrapped). ErrNotFound, ErrNotPending and ErrExpired are as for Approve.
// reason is kept in the outcome and the journal. Refusals are journaled.
func (e *Engine) Deny(ctx context.Context, id, userID, reason string) (Request, error) {
	r, err := e.deny(ctx, id, userID, reason)
	if err != nil {
		e.journalRefusal(ctx, opDeny, id, userID, err)
		return Request{}, err
	}
	return r, nil
}

// deny is Deny without the refusal journaling.
func (e *Engine) deny(ctx context.Context, id, userID, reason string) (Request, error) {
	cur, err := e.Get(ctx, id)
	if err != nil {
		return Request{}, err
	}
	if userID != cur.Requester {
		if err := e.mayDecide(ctx, userID); err != nil {
			return Request{}, err
		}
	}
	return e.decide(ctx, id, func(r *Request, now time.Time) ([]Record, error) {
		if r.State != StatePending {
			return nil, ErrNotPending
		}
		state, kind, outcome := StateDenied, KindDenied, "denied"
		if userID == r.Requester {
			state, kind, outcome = StateCancelled, KindCancelled, "cancelled by the requester"
		}
		if reason != "" {
			outcome += ": " + reason
		}
		r.State, r.DecidedBy, r.DecidedAt, r.Outcome = state, userID, now, outcome
		return []Record{{Kind: kind, Actor: userID, Details: details("reason", reason)}}, nil
	})
}

// Begin marks an approved request as being carried out, so that only one
// caller locks: a second Begin gets ErrNotPending, as does a request in any
// other state than approved.
func (e *Engine) Begin(ctx context.Context, id string) (Request, error) {
	return e.change(ctx, id, func(r *Request, _ time.Time) ([]Record, error) {
		if r.State != StateApproved {
			return nil, ErrNotPending
		}
		r.State = StateExecuting
		return nil, nil
	})
}

// Finish records the result of an executing request: done when ok, failed
// otherwise, with outcome as its short summary (never a PIN). Any other state
// is ErrNotPending. Per-device results are the caller's to journal.
func (e *Engine) Finish(ctx context.Context, id string, ok bool, outcome string) (Request, error) {
	return e.change(ctx, id, func(r *Request, _ time.Time) ([]Record, error) {
		if r.State != StateExecuting {
			return nil, ErrNotPending
		}
		r.State = StateFailed
		if ok {
			r.State = StateDone
		}
		r.Outcome = cmp.Or(outcome, string(r.State))
		return nil, nil
	})
}

// SetCard records where the request's Slack card lives, in any state.
func (e *Engine) SetCard(ctx context.Context, id string, c Card) (Request, error) {
	return e.change(ctx, id, func(r *Request, _ time.Time) ([]Record, error) {
		r.Card = c
		return nil, nil
	})
}

// mayDecide asks the Authorizer about userID at the moment of the click.
func (e *Engine) mayDecide(ctx context.Context, userID string) error {
	if e.auth == nil {
		return ErrNotApprover
	}
	ok, err := e.auth.IsApprover(ctx, userID)
	if err != nil {
		return fmt.Errorf("approvals: asking whether %s may approve: %w", userID, err)
	}
	if !ok {
		return ErrNotApprover
	}
	return nil
}

// step is one transition: it changes r as of now and returns the journal
// records describing the change, or a refusal that leaves r unchanged.
type step func(r *Request, now time.Time) ([]Record, error)

// decide applies a click: a pending request past its deadline is expired
// instead of being decided, and ErrExpired returned.
func (e *Engine) decide(ctx context.Context, id string, s step) (Request, error) {
	r, expired, err := e.apply(ctx, id, true, s)
	if err != nil {
		return Request{}, err
	}
	if expired {
		return Request{}, ErrExpired
	}
	return r, nil
}

// change applies a transition that deadlines do not affect.
func (e *Engine) change(ctx context.Context, id string, s step) (Request, error) {
	r, _, err := e.apply(ctx, id, false, s)
	return r, err
}

// apply runs s inside one Store.Update, so that the check and the change are
// atomic, and journals its records before the store writes: a decision that
// cannot be journaled is not made. With expiring, an overdue pending request
// is moved to expired instead and OnExpire is called once it is stored.
func (e *Engine) apply(ctx context.Context, id string, expiring bool, s step) (Request, bool, error) {
	var expired, journaled bool
	r, err := e.store.Update(ctx, id, func(r *Request) error {
		now := e.now()
		if e.forgotten(*r, now) {
			return ErrNotFound
		}
		var recs []Record
		if expiring && r.overdue(now) {
			expired = true
			r.State, r.DecidedBy, r.DecidedAt = StateExpired, SystemActor, now
			r.Outcome = "expired, nothing was locked"
			recs = []Record{{Kind: KindExpired, Actor: SystemActor,
				Details: details("deadline", r.Expires.UTC().Format(time.RFC3339))}}
		} else {
			var err error
			if recs, err = s(r, now); err != nil {
				return err
			}
		}
		for _, rec := range recs {
			rec.Time, rec.ID, rec.Target = now, r.ID, r.Target
			if err := e.journal.Append(rec); err != nil {
				return fmt.Errorf("approvals: journal: %w", err)
			}
			journaled = true
		}
		return nil
	})
	if err != nil {
		if journaled {
			e.log.ErrorContext(ctx, "approvals: journaled change was not stored", "request_id", id, "err", err)
		}
		return Request{}, false, err
	}
	if expired && e.onExpire != nil {
		e.onExpire(r.clone())
	}
	return r, expired, nil
}

// journalRefusal records a refused click; the journal keeps who and why (as
// a short name, never error text). A failure here changes no decision, so it
// is logged rather than returned.
func (e *Engine) journalRefusal(ctx context.Context, op, id, userID string, refusal error) {
	rec := Record{Time: e.now(), Kind: KindRefused, ID: id, Actor: userID,
		Details: details("op", op, "reason", refusalReason(refusal))}
	if r, err := e.store.Get(ctx, id); err == nil {
		rec.Target = r.Target
	}
	if err := e.journal.Append(rec); err != nil {
		e.log.ErrorContext(ctx, "approvals: journaling a refusal failed", "request_id", id, "err", err)
	}
}
