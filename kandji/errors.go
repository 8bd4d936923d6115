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
	// ErrAlreadyLocked: 400 "This device is already locked." Lock reports it as success.
	ErrAlreadyLocked = errors.New("kandji: device already locked")
	// ErrCommandRunning: 400 "Command already running" (or pending). Lock reports it as success,
	// because the device is being locked.
	ErrCommandRunning = errors.New("kandji: command already running")
	// ErrNotAllowed: 400 "Command is not allowed for current device", e.g. a platform that cannot
	// be locked.
	ErrNotAllowed = errors.New("kandji: command not allowed for current device")
	// ErrOutcomeUnknown: the connection failed after a lock request may have reached Kandji, so
	// it was not retried; the device may or may not be locking.
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
	// Message is the server's explanation, parsed tolerantly and trimmed to a sane length.
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
	perm := Permission(e.Route)
	switch {
	case e.StatusCode == http.StatusUnauthorized && perm != "":
		return fmt.Sprintf("the API token is invalid, expired or revoked, or lacks the %q permission", perm)
	case e.StatusCode == http.StatusUnauthorized:
		return "the API token is invalid, expired or revoked"
	case e.StatusCode == http.StatusForbidden && perm != "":
		return fmt.Sprintf("the API token needs the %q permission", perm)
	case e.StatusCode == http.StatusForbidden:
		return "the API token lacks the permission for this endpoint"
	case e.StatusCode == http.StatusTooManyRequests && e.RetryAfter > 0:
		return "retry after " + e.RetryAfter.String()
	}
	return ""
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
	case http.StatusBadRequest:
		msg := strings.ToLower(e.Message)
		switch {
		case strings.Contains(msg, "already locked"):
			return ErrAlreadyLocked
		case strings.Contains(msg, "already running"), strings.Contains(msg, "already pending"):
			return ErrCommandRunning
		case strings.Contains(msg, "not allowed for current device"):
			return ErrNotAllowed
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
)

// Permission names the Kandji API-token permission (as labelled in Kandji's web app) that a route
// needs, so error messages can say what to tick; "" for a route this package does not call.
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
	}
	return ""
}
