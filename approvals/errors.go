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
	// expired, cancelled, executing, done or failed).
	ErrNotPending = errors.New("approvals: request is no longer pending")
	// ErrExpired: the request was still pending but past its deadline; the
	// call that returns it has moved the request to expired.
	ErrExpired = errors.New("approvals: request has expired")
	// ErrNotFound: no such request, or it is older than the retention period.
	ErrNotFound = errors.New("approvals: request not found")
)

// Errors that are not refusals of a click but misuse or a broken store.
var (
	errInvalid   = errors.New("approvals: invalid request")
	errDuplicate = errors.New("approvals: request ID already exists")
	errClosed    = errors.New("approvals: closed")
	errIDChanged = errors.New("approvals: update must not change the request ID")
	errPINDetail = errors.New("approvals: journal record refused: a details key names a PIN")
)

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
