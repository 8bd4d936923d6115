package kandji

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Sentinel errors for errors.Is. An *Error matches the ones its status and message imply; the
// others come from the Client itself.
var (
	// ErrNotFound: 404, the device (or route) does not exist in the tenant.
	ErrNotFound = errors.New("kandji: not found")
	// ErrUnauthorized: 401, the token is invalid, expired, revoked or lacks the permission.
	ErrUnauthorized = errors.New("kandji: unauthorized")
	// ErrForbidden: 403, the token lacks the permission for the endpoint.
	ErrForbidden = errors.New("kandji: forbidden")
	// ErrRateLimited: 429, the tenant's request budget is spent for now.
	ErrRateLimited = errors.New("kandji: rate limited")
	// ErrAlreadyLocked matches a 400 whose message says "already locked". It records what
	// Kandji's message says, not what happened to the device.
	//
	// Deprecated: Lock no longer returns it; it reads the device's command list instead and
	// reports LockPending or LockAlreadyDone, or ErrBusy.
	ErrAlreadyLocked = errors.New("kandji: device already locked")
	// ErrCommandRunning matches a 400 whose message says a command is "already running" or
	// "already pending", whichever command that is.
	//
	// Deprecated: Lock no longer returns it; see ErrAlreadyLocked.
	ErrCommandRunning = errors.New("kandji: command already running")
	// ErrNotAllowed: 400 (or 409) "Command is not allowed for current device", e.g. a platform
	// that cannot be locked. Repeating the lock cannot help.
	ErrNotAllowed = errors.New("kandji: command not allowed for current device")
	// ErrBusy: Kandji refused the lock because the device is busy with another MDM command (a
	// *BusyError says which when Kandji or its command list shows it). The lock was not queued;
	// sending it again later is safe and may succeed.
	ErrBusy = errors.New("kandji: device busy with another MDM command")
	// ErrUnconfirmed: Kandji refused the lock POST with a 400 or 409 and the device's command
	// list, which would have said whether a lock is on its way, could not be read. Lock returns
	// it together with a LockResult of status LockUnconfirmed.
	ErrUnconfirmed = errors.New("kandji: lock sent but not confirmed")
	// ErrOutcomeUnknown: the connection failed (or the HTTP client's timeout struck) after a
	// lock request may have reached Kandji, so it was not retried; the device may or may not be
	// locking. Sending the lock again is safe: Kandji then answers "already locked" and Lock
	// reads the command list to report LockPending or LockAlreadyDone.
	ErrOutcomeUnknown = errors.New("kandji: outcome unknown, the request may have reached Kandji")
	// ErrInvalidInput: an email or device ID was refused before any request was made.
	ErrInvalidInput = errors.New("kandji: invalid input")
)

// Error is returned for every non-2xx answer. It never holds the token, the query string or a
// response body beyond a trimmed message.
type Error struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Method is the HTTP method of the request.
	Method string
	// Route is the templated path below /api/v1, e.g. "/devices/{id}/action/lock".
	Route string
	// Message is the server's explanation, parsed tolerantly, cleaned of secrets (members whose
	// key names a PIN or another secret are dropped, every run of four or more digits and the
	// API token read "[redacted]") and trimmed to a sane length. The raw body is not kept.
	Message string
	// RetryAfter is the server's Retry-After hint, 0 when it sent none.
	RetryAfter time.Duration
}

// Error reads like `kandji: POST /devices/{id}/action/lock: 403 Forbidden: <msg> (the API token
// needs the "Lock Device" permission)`.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "kandji: %s %s: %d", e.Method, e.Route, e.StatusCode)
	if text := http.StatusText(e.StatusCode); text != "" {
		b.WriteString(" " + text)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if hint := e.hint(); hint != "" {
		b.WriteString(" (" + hint + ")")
	}
	return b.String()
}

// hint tells the operator what to do about an auth failure or throttling.
func (e *Error) hint() string {
	perm := permissionPhrase(e.Route)
	switch {
	case e.StatusCode == http.StatusUnauthorized && perm != "":
		return "the API token is invalid, expired or revoked, or lacks " + perm
	case e.StatusCode == http.StatusUnauthorized:
		return "the API token is invalid, expired or revoked"
	case e.StatusCode == http.StatusForbidden && perm != "":
		return "the API token needs " + perm
	case e.StatusCode == http.StatusForbidden:
		return "the API token lacks the permission for this endpoint"
	case e.StatusCode == http.StatusTooManyRequests && e.RetryAfter > 0:
		return "retry after " + e.RetryAfter.String()
	}
	return ""
}

// permissionPhrase names the permission a route needs, saying so where the label is a guess.
func permissionPhrase(route string) string {
	perm := Permission(route)
	switch {
	case perm == "":
		return ""
	case route == routeCommands:
		return fmt.Sprintf("the permission for GET /devices/{device_id}/commands (probably labelled %q; unverified)", perm)
	}
	return fmt.Sprintf("the %q permission", perm)
}

// Is matches the sentinel that e's status and message imply.
func (e *Error) Is(target error) bool {
	kind := e.kind()
	return kind != nil && target == kind
}

// kind classifies e; nil means no sentinel applies.
func (e *Error) kind() error {
	switch e.StatusCode {
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusUnauthorized:
		return ErrUnauthorized
	case http.StatusForbidden:
		return ErrForbidden
	case http.StatusTooManyRequests:
		return ErrRateLimited
	case http.StatusBadRequest, http.StatusConflict:
		msg := asciiLower(e.Message)
		switch {
		case strings.Contains(msg, "not allowed for current device"):
			return ErrNotAllowed
		case e.StatusCode == http.StatusConflict:
			return nil // Kandji documents no 409 wording to classify
		case strings.Contains(msg, "already locked"):
			return ErrAlreadyLocked
		case strings.Contains(msg, "already running"), strings.Contains(msg, "already pending"):
			return ErrCommandRunning
		}
	}
	return nil
}

// Routes, templated as they appear in errors, logs and metrics.
const (
	routeDevices   = "/devices"
	routeDevice    = "/devices/{id}"
	routeLock      = "/devices/{id}/action/lock"
	routeUnlockPIN = "/devices/{id}/secrets/unlockpin"
	routeCommands  = "/devices/{id}/commands"
)

// Permission names the Kandji API-token permission (as labelled in Kandji's web app) that a route
// needs, so error messages can say what to tick; "" for a route this package does not call.
// Kandji documents the labels of the device list, device, lock and unlock-PIN permissions; the
// label of the command-list permission (GET /devices/{device_id}/commands) is not documented, so
// "Device commands" is a guess from the API's own name for the endpoint.
func Permission(route string) string {
	switch route {
	case routeDevices:
		return "Device list"
	case routeDevice:
		return "Device ID"
	case routeLock:
		return "Lock Device"
	case routeUnlockPIN:
		return "Unlock device pin"
	case routeCommands:
		return "Device commands"
	}
	return ""
}
