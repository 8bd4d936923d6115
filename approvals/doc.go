// Package approvals is lockbot's domain: what a lock request, a lock job, a
// trigger and an audit record are, the rules that move them, and the Store
// every piece of work lives in.
//
// One idea carries it: every piece of work is a durable record in one
// store, and a record is finished only when its outcome is final and
// reported. Nothing here keeps work in memory, so a crash, a restart or a
// second replica loses nothing: the next process reads the store and goes
// on.
//
//   - A Request is a two-person lock request: pending until enough distinct
//     approvers other than the requester approve it (then approved, with a
//     LockJob opened in the same transaction), or denied, cancelled by the
//     requester, or expired.
//   - A LockJob is one person's lock: the devices found, each device's
//     outcome and detail, the attempts made, when the next is due and the
//     final state. It is carried out by a task and ends only in a final
//     state.
//   - A Trigger is an admitted event (an Okta event, a slash command, an
//     API call), deduplicated by its ID.
//   - A Record is one line of the append-only audit journal.
//   - A Post is what one Slack message should show: the writer of its
//     channel makes the message match it.
//
// The package knows nothing of Slack, Kandji or Okta; user IDs are opaque
// strings and whether a user may approve is asked, at each decision, of an
// Authorizer the caller supplies. It imports the standard library only;
// stores live in approvals/sqlite and approvals/postgres, and
// approvals/storetest is the suite both pass.
package approvals
