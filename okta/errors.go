package okta

import "errors"

// Errors callers branch on. They are wrapped with detail, so test them with
// errors.Is. None of them carries an API token or the hook secret.
var (
	// ErrMalformed means a hook body is not valid JSON.
	ErrMalformed = errors.New("okta: malformed JSON")
	// ErrNotEnvelope means a hook body is JSON but not a
	// com.okta.event_hook delivery with data.events.
	ErrNotEnvelope = errors.New("okta: not an event hook delivery")
	// ErrNotFound means Okta has no such user (or the identifier cannot be
	// looked up at all).
	ErrNotFound = errors.New("okta: not found")
	// ErrUnauthorized means Okta rejected the API token (401) or the token
	// lacks a permission (403).
	ErrUnauthorized = errors.New("okta: unauthorized")
	// ErrUnavailable means Okta could not answer now (network error, 5xx,
	// rate limit); retrying later may succeed.
	ErrUnavailable = errors.New("okta: unavailable")
)
