package lockflow

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/kandji"
)

// verdict is what one answer from Kandji means for one device.
type verdict struct {
	outcome approvals.Outcome // a final outcome, or OutcomeRetrying
	detail  string            // for the card; never a PIN
}

// passing reports a failure that may pass by itself, worth another try.
func (v verdict) passing() bool { return v.outcome == approvals.OutcomeRetrying }

// judgeLock reads a lock answer. Only what Kandji says about the lock
// counts as secured: the lock accepted now, a lock command queued or
// running, a lock Kandji confirms completed. A lock Kandji could not
// confirm is never ✅. Anything that may pass (throttling, an outage, a
// lost answer, another MDM command running on the device, a refused token
// that someone may fix) is retried until the deadline, and only a definite
// refusal of this device ends it.
func judgeLock(res kandji.LockResult, err error) verdict {
	if err == nil {
		// A Mac's PIN in the answer is dropped here: PINs are read fresh
		// from Kandji for the approver's DM, and held nowhere else.
		switch res.Status {
		case kandji.LockPending:
			return verdict{outcome: approvals.OutcomeLockPending, detail: cmpOr(res.Detail, "Kandji has the lock queued for the device")}
		case kandji.LockAlreadyDone:
			return verdict{outcome: approvals.OutcomeAlreadyLocked, detail: cmpOr(res.Detail, "Kandji confirms an earlier lock completed")}
		}
		return verdict{outcome: approvals.OutcomeLocked, detail: res.Detail}
	}
	if errors.Is(err, kandji.ErrUnconfirmed) {
		// Kandji refused the POST and its command list, which would say
		// whether a lock is on its way, could not be read. An outage may
		// pass; a token that may not read the list will not.
		cause := errors.Unwrap(err)
		refused := errors.Is(cause, kandji.ErrUnauthorized) || errors.Is(cause, kandji.ErrForbidden)
		if why, ok := passingFailure(cause); ok && cause != nil && !refused {
			return verdict{outcome: approvals.OutcomeRetrying, detail: "lock sent, not confirmed yet (" + why + ")"}
		}
		return verdict{outcome: approvals.OutcomeUnconfirmed, detail: "lock sent, not confirmed: " + cmpOr(res.Detail, kandjiMessage(err)) + "; check the device in Kandji"}
	}
	if why, ok := passingFailure(err); ok {
		return verdict{outcome: approvals.OutcomeRetrying, detail: why}
	}
	switch {
	case errors.Is(err, kandji.ErrNotAllowed):
		return verdict{outcome: approvals.OutcomeNotLockable, detail: "Kandji says this device cannot be locked (" + kandjiMessage(err) + ")"}
	case errors.Is(err, kandji.ErrNotFound):
		return verdict{outcome: approvals.OutcomeGone, detail: "Kandji no longer has this device"}
	}
	return verdict{outcome: approvals.OutcomeFailed, detail: "Kandji refused the lock: " + kandjiMessage(err)}
}

// passingFailure says why a Kandji failure is worth another try, in words
// for the card, or reports false for a definite refusal.
func passingFailure(err error) (string, bool) {
	var ke *kandji.Error
	var busy *kandji.BusyError
	switch {
	case errors.As(err, &busy):
		what := "another MDM command"
		if busy.Command != "" {
			what = busy.Command
		}
		return "Kandji is running " + what + " on the device; the lock is sent again once it is done", true
	case errors.Is(err, kandji.ErrUnauthorized), errors.Is(err, kandji.ErrForbidden):
		status := http.StatusUnauthorized
		if errors.As(err, &ke) {
			status = ke.StatusCode
		}
		return fmt.Sprintf("Kandji refused lockbot's token (%d): give KANDJI_API_TOKEN a valid token with the Device list, Lock Device and Unlock device pin permissions; lockbot keeps trying", status), true
	case errors.Is(err, kandji.ErrRateLimited):
		return "Kandji 429: rate limited", true
	case errors.Is(err, kandji.ErrOutcomeUnknown):
		return "Kandji's answer was lost; sending the lock again is safe", true
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "stopped before Kandji answered; trying again", true
	case errors.As(err, &ke):
		if ke.StatusCode >= 500 {
			return fmt.Sprintf("Kandji %d", ke.StatusCode), true
		}
		return "", false
	case errors.Is(err, kandji.ErrInvalidInput):
		return "", false
	}
	return "Kandji could not be reached: " + clip(err.Error(), 120), true
}

// kandjiMessage is the cleaned server message of a Kandji error.
func kandjiMessage(err error) string {
	var ke *kandji.Error
	if errors.As(err, &ke) {
		if ke.Message != "" {
			return fmt.Sprintf("%d: %s", ke.StatusCode, clip(ke.Message, 160))
		}
		return fmt.Sprint(ke.StatusCode)
	}
	return clip(err.Error(), 160)
}

// clip shortens s to at most n runes.
func clip(s string, n int) string {
	s = strings.TrimSpace(strings.ToValidUTF8(s, "\uFFFD"))
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
