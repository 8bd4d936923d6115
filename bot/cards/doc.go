// Package cards builds lockbot's Slack messages: approval cards, lock
// reports, the burst digest, the PIN DM, notices and command replies. The
// builders are pure (a view in, Block Kit out), so every message can be
// checked against golden files and Slack's limits without a workspace.
//
// Outside text (device names chosen by users, reasons, Okta names) is
// escaped so it can never become a mention or a link, and sent with
// verbatim set so Slack does not turn a bare URL into a live link either.
// Every Block Kit limit is budgeted on the escaped text.
package cards
