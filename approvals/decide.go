package approvals

import (
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
//     it to expired);
//   - ErrAlreadyApproved when userID already counts toward the quorum.
//
// Exactly one successful call sees State == StateApproved, the one that
// reached the quorum: in the same transaction it opens the request's lock
// job (Request.LockID), whose approver is userID. Earlier ones see
// StatePending with one more approval.
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
	// Asked outside the transaction: the Authorizer may call Slack, and a
	// transaction must never wait on the network.
	if err := e.mayDecide(ctx, userID); err != nil {
		return Request{}, err
	}
	return e.decide(ctx, id, func(tx Tx, r *Request, now time.Time) ([]Record, error) {
		if r.State != StatePending {
			return nil, ErrNotPending
		}
		if r.ApprovedBy(userID) {
			return nil, ErrAlreadyApproved
		}
		r.Approvals = append(r.Approvals, Approval{By: userID, At: now})
		recs := []Record{{Kind: KindApproval, Actor: userID, Details: details(
			"approvals", strconv.Itoa(len(r.Approvals)), "required", strconv.Itoa(r.Required))}}
		if len(r.Approvals) < r.Required {
			return recs, nil
		}
		r.State, r.DecidedBy, r.DecidedAt = StateApproved, userID, now
		job := NewLock(r.Person, r.Origin, r.Reason, PostKey(PostRequest, r.ID), now, e.deadline, r.DryRun)
		job.RequestID, job.Approver, job.Shown = r.ID, userID, r.Devices
		r.LockID = job.ID
		if err := OpenLock(tx, job, "", e.cardChannel, PriorityInteractive); err != nil {
			return nil, err
		}
		approvers := make([]string, len(r.Approvals))
		for i, a := range r.Approvals {
			approvers[i] = a.By
		}
		return append(recs, Record{Kind: KindApproved, Actor: userID,
			Details: details("approvers", strings.Join(approvers, ","), "lock_id", job.ID)}), nil
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
	return e.decide(ctx, id, func(_ Tx, r *Request, now time.Time) ([]Record, error) {
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

// Withdraw cancels a pending request on the system's behalf (its card
// could not be posted, say), so nothing waits unseen. A request that is no
// longer pending is left alone.
func (e *Engine) Withdraw(ctx context.Context, id, reason string) error {
	_, err := e.decide(ctx, id, func(_ Tx, r *Request, now time.Time) ([]Record, error) {
		if r.State != StatePending {
			return nil, nil
		}
		r.State, r.DecidedBy, r.DecidedAt, r.Outcome = StateCancelled, SystemActor, now, "withdrawn: "+reason
		return []Record{{Kind: KindCancelled, Actor: SystemActor, Details: details("reason", reason)}}, nil
	})
	if err == ErrExpired {
		return nil
	}
	return err
}

// Expire moves the request to expired when it is still pending past its
// deadline, journals it and refreshes its card. Before the deadline it
// asks to be run again then (RetryAfter); a decided request is left alone.
// It is the handler of TaskExpire.
func (e *Engine) Expire(ctx context.Context, id string) error {
	var early time.Duration
	_, err := e.decide(ctx, id, func(_ Tx, r *Request, now time.Time) ([]Record, error) {
		if r.State == StatePending {
			early = r.Expires.Sub(now)
		}
		return nil, nil
	})
	switch {
	case err == ErrExpired, isNotFound(err):
		return nil
	case err != nil:
		return err
	case early > 0:
		return RetryAfter(early, nil)
	}
	return nil
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
// records describing the change, or a refusal that leaves r unchanged. It
// may make other changes in tx (opening the lock job).
type step func(tx Tx, r *Request, now time.Time) ([]Record, error)

// decide applies s to the request inside one Update, so the check and the
// change are atomic, with the journal records and the card refresh in the
// same transaction: a decision that cannot be journaled is not made. A
// pending request past its deadline is expired instead, and ErrExpired
// returned once that is stored.
func (e *Engine) decide(ctx context.Context, id string, s step) (Request, error) {
	var out Request
	var expired bool
	err := e.store.Update(ctx, func(tx Tx) error {
		expired = false
		r, err := tx.Request(id)
		if err != nil {
			return err
		}
		before := r.Clone()
		now := e.now()
		var recs []Record
		if r.Overdue(now) {
			expired = true
			r.State, r.DecidedBy, r.DecidedAt = StateExpired, SystemActor, now
			r.Outcome = "expired, nothing was locked"
			recs = []Record{{Kind: KindExpired, Actor: SystemActor,
				Details: details("deadline", r.Expires.UTC().Format(time.RFC3339))}}
		} else if recs, err = s(tx, &r, now); err != nil {
			return err
		}
		if len(recs) == 0 && r.State == before.State && len(r.Approvals) == len(before.Approvals) {
			out = r
			return nil
		}
		if err := tx.PutRequest(r.Clone()); err != nil {
			return err
		}
		for _, rec := range recs {
			rec.Time, rec.ID, rec.Target = now, r.ID, r.Target()
			if err := tx.Append(rec); err != nil {
				return fmt.Errorf("approvals: journal: %w", err)
			}
		}
		out = r
		return Touch(tx, PostKey(PostRequest, r.ID), e.cardChannel, PriorityInteractive, now)
	})
	if err != nil {
		return Request{}, err
	}
	if expired {
		return Request{}, ErrExpired
	}
	return out, nil
}

// journalRefusal records a refused click; the journal keeps who and why (as
// a short name, never error text). A failure here changes no decision, so
// it is logged rather than returned.
func (e *Engine) journalRefusal(ctx context.Context, op, id, userID string, refusal error) {
	err := e.store.Update(ctx, func(tx Tx) error {
		rec := Record{Time: e.now(), Kind: KindRefused, ID: id, Actor: userID,
			Details: details("op", op, "reason", refusalReason(refusal))}
		if r, err := tx.Request(id); err == nil {
			rec.Target = r.Target()
		}
		return tx.Append(rec)
	})
	if err != nil {
		e.log.ErrorContext(ctx, "approvals: journaling a refusal failed", "request_id", id, "err", err)
	}
}

// IsRefusal reports whether err is one of the refusals of a click (rather
// than a failure of the store or the Authorizer).
func IsRefusal(err error) bool { return refusalReason(err) != "error" }
