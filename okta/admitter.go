package okta

import "context"

// Admitter is where the hook and the catch-up hand events over: a durable
// store that dedupes by event UUID, so the hook's retries and the
// catch-up's re-reads of events the hook already delivered are admitted
// once. This package only produces events; what stores and handles them
// (in lockbot, a database-backed store) lives outside it.
type Admitter interface {
	// Admit durably records the events whose UUID it has not seen and
	// returns those, in input order. An error means nothing from this call
	// was admitted, so the caller may retry the whole call (the hook
	// answers 503 and Okta retries once; the catch-up keeps its cursor
	// and re-reads the page).
	Admit(ctx context.Context, evs []Event) (admitted []Event, err error)
}
