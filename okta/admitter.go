package okta

import "context"

// Admitter is where the hook and the catch-up hand events over: a durable
// store that dedupes by event UUID. *Inbox is one; a database-backed store
// can be another.
type Admitter interface {
	// Admit durably records the events whose UUID it has not seen and
	// returns those, in input order. An error means nothing from this call
	// was admitted, so the caller may retry the whole call (the hook
	// answers 503 and Okta retries once).
	Admit(ctx context.Context, evs []Event) (admitted []Event, err error)
}
