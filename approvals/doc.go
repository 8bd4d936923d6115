// Package approvals holds the rules of lockbot's two-person lock request:
// the request state machine and its refusals, a durable store for requests
// (go-cache in memory, optionally persisted to a directory so that a restart
// loses nothing), and the append-only audit journal.
//
// It knows nothing of Slack, Kandji or Okta. User IDs are opaque strings and
// whether a user may approve is asked, at the moment of each decision, of an
// Authorizer the caller supplies.
//
// A manual request moves pending → approved → executing → done | failed, or
// from pending to denied (an approver said no), cancelled (the requester
// withdrew it) or expired (nobody decided before the deadline). An automatic
// lock, opened from an Okta event, is recorded straight in executing.
package approvals
