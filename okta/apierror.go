package okta

import (
	"errors"
	"time"
)

// codeInvalidParam is Okta's errorCode for an invalid query parameter,
// which the System Log answers for a since too far back (and for a bad
// filter).
const codeInvalidParam = "E0000053"

// apiError is an Okta API call that got an HTTP answer other than success.
// It unwraps to ErrNotFound, ErrUnauthorized or ErrUnavailable and keeps
// what the catch-up needs to react: the status, Okta's errorCode, the
// server's clock and, after a 429, how long to wait.
type apiError struct {
	kind   error
	status int
	code   string        // Okta's errorCode, "" when the body had none
	date   time.Time     // the response's Date header, zero when absent
	wait   time.Duration // for 429: until the rate-limit reset, 0 when unknown
	msg    string
}

func (e *apiError) Error() string { return e.msg }

// Unwrap makes errors.Is(err, ErrUnavailable) and the like hold.
func (e *apiError) Unwrap() error { return e.kind }

// asAPIError returns the apiError in err's chain, or nil.
func asAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	return nil
}
