// Package okta is everything lockbot gets from Okta: the event hook endpoint
// (verification, shared-secret auth, streaming parsing), user lookups, and a
// System Log catch-up that recovers events the hook missed. Both the hook
// and the catch-up hand the events they keep to an Admitter, the durable
// store that dedupes them by UUID and keeps them until they are handled;
// this package does not store events itself.
//
// Okta delivers hooks at least once, retries a failed delivery only once and
// then forgets it, so the design is: admit every event durably (through the
// Admitter) before answering 200, let the Admitter dedupe by the event UUID,
// and follow the System Log's polling cursor from where the last poll
// stopped, so nothing dropped while the bot was down is lost. This is the
// only package that imports okta-sdk-golang; none of its types appear in the
// exported API. Package oktatest is a fake Okta org for tests.
package okta
