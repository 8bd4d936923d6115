package approvals

import "errors"

// Refusals. Every transition returns exactly one of these (unwrapped) when it
// changes nothing because the rules forbid it, so callers can tell the person
// who clicked why with errors.Is.
var (
	// ErrSelfApproval: the requester tried to approve their own request. It is
	// checked before authorisation, so being an approver does not help.
	ErrSelfApproval = errors.New("approvals: the requester cannot approve their own request")
	// ErrNotApprover: the Authorizer said the user may not decide this request.
	ErrNotApprover = errors.New("approvals: user is not an approver")
	// ErrAlreadyApproved: the same approver approved twice; quorum counts
	// distinct people.
	ErrAlreadyApproved = errors.New("approvals: user already approved this request")
	// ErrNotPending: the request was already decided (approved, denied,
	// expired or cancelled).
	ErrNotPending = errors.New("approvals: request is no longer pending")
	// ErrExpired: the request was still pending but past its deadline; the
	// call that returns it has moved the request to expired.
	ErrExpired = errors.New("approvals: request has expired")
	// ErrNotFound: no such record (request, lock job, trigger, post or
	// value), or it is older than the store keeps.
	ErrNotFound = errors.New("approvals: not found")
)

// ErrInvalid wraps a record that cannot be stored: no ID, an unknown
// state. It is a bug in the caller, never a refusal of a person.
var ErrInvalid = errors.New("approvals: invalid record")

// refusalReasons are the short names journaled with a refused click. They are
// part of the audit format, so they must stay stable.
var refusalReasons = []struct {
	err    error
	reason string
}{
	{ErrSelfApproval, "self_approval"},
	{ErrNotApprover, "not_approver"},
	{ErrAlreadyApproved, "already_approved"},
	{ErrNotPending, "not_pending"},
	{ErrExpired, "expired"},
	{ErrNotFound, "not_found"},
}

// refusalReason names err for the journal; anything that is not a refusal
// (an Authorizer or store failure) is "error", because error text may carry
// details that do not belong in the audit trail.
func refusalReason(err error) string {
	for _, r := range refusalReasons {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return "error"
}
