// Package oktatest is a fake Okta org on an httptest server, for the tests
// of every package that talks to Okta and for local demos.
//
// It serves what lockbot uses, with Okta's own semantics and error bodies:
//
//   - SSWS API-token auth: a missing or wrong token answers 401 with
//     errorCode E0000011, and SetForbidden makes paths answer 403 E0000006.
//   - Users: GET /api/v1/users/{id|login|shortname|me} with status and
//     profile. SetStatus changes a user's status at any time.
//   - Session revocation: DELETE /api/v1/users/{id}/sessions, recorded.
//   - The System Log: GET /api/v1/logs with since, until, after, filter,
//     limit and sortOrder. A polling query (no until, ASCENDING) is ordered
//     by persistence time, not published time, and always has a rel="next"
//     link with an opaque after cursor, even on an empty page. since and
//     after together are a 400, and a since older than the retention window
//     is a 400 with errorCode E0000053.
//
// Events are persisted when Log or LogJSON is called, whatever their
// published time, so an event logged with an old published time is a late
// one: it lands in front of every cursor handed out before it.
//
// Knobs inject 429s (with X-Rate-Limit-Reset and Date), 5xx answers, canned
// replies and a revoked token, and every request is recorded. A Server is
// safe for concurrent use.
package oktatest
