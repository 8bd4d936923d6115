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
// counts as secured; anything that may pass (throttling, an outage, a lost
// answer, a refused token that someone may fix) is retried until the
// deadline, and only a definite refusal of this device ends it.
func judgeLock(res kandji.LockResult, err error) verdict {
	if err == nil {
		if res.AlreadyLocked {
			return verdict{outcome: approvals.OutcomeAlreadyLocked, detail: "Kandji says the device is already locked"}
		}
		// A Mac's PIN in the answer is dropped here: PINs are read fresh
		// from Kandji for the approver's DM, and held nowhere else.
		return verdict{outcome: approvals.OutcomeLocked}
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
	switch {
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
