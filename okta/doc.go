// Package okta is everything lockbot gets from Okta: the event hook endpoint
// (verification, shared-secret auth, streaming parsing), a durable inbox
// that dedupes events by UUID and keeps them until a worker has handled
// them, user lookups, and a System Log catch-up that recovers events the
// hook missed.
//
// Okta delivers hooks at least once, retries a failed delivery only once and
// then forgets it, so the design is: admit every event durably (through an
// Admitter) before answering 200, dedupe by the event UUID for days, and
// follow the System Log's polling cursor from where the last poll stopped,
// so nothing dropped while the bot was down is lost. This is the only
// package that imports okta-sdk-golang; none of its types appear in the
// exported API. Package oktatest is a fake Okta org for tests.
package okta
