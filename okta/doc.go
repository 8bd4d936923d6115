// Package okta is everything lockbot gets from Okta: the event hook endpoint
// (verification, shared-secret auth, parsing), a durable inbox that dedupes
// events by UUID and keeps them until a worker has handled them, user
// lookups, and a System Log catch-up that recovers events the hook missed.
//
// Okta delivers hooks at least once, retries a failed delivery only once and
// then forgets it, so the design is: admit every event durably before
// answering 200, dedupe by the event UUID for days, and poll the System Log
// from a persisted checkpoint so nothing dropped while the bot was down is
// lost. This is the only package that imports okta-sdk-golang; none of its
// types appear in the exported API.
package okta
