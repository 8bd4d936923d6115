package approvals

import (
	"slices"
	"strings"
	"time"
)

// Post kinds: what a Slack message shows, and so how its writer renders it.
const (
	PostRequest = "request" // a request's approval card (Ref: request ID)
	PostLock    = "lock"    // an automatic lock's report (Ref: lock ID)
	PostNotice  = "notice"  // a one-off notice (Text)
	PostDigest  = "digest"  // a burst digest standing for many reports (Ref: digest ID)
)

// Priorities of posts within a channel: a person waiting goes first.
const (
	PriorityInteractive = 0
	PriorityNormal      = 1
	PriorityBulk        = 2
)

// Post is what one Slack message should show. Its channel's writer posts
// it, or edits the message, until PostedRev catches up with Rev: a change
// to what the message shows bumps Rev (see Touch), and a write that fails
// is tried again later. So a report is never lost to a Slack outage and a
// card never keeps buttons after a decision.
type Post struct {
	Key      string `json:"key"` // Kind + ":" + Ref, or "notice:" + an ID
	Kind     string `json:"kind"`
	Ref      string `json:"ref,omitempty"`
	Channel  string `json:"channel"`
	Thread   string `json:"thread,omitempty"` // post as a reply in this thread
	Text     string `json:"text,omitempty"`   // a notice's plain text (its writer escapes it); never a PIN
	User     string `json:"user,omitempty"`   // a Slack user the notice names where its text says {user}
	Priority int    `json:"priority"`
	// TS is the message once posted; Copies are other messages showing the
	// same (a post that Slack made although it answered with an error, and
	// that a click revealed), edited along with it.
	TS        string    `json:"ts,omitempty"`
	Copies    []string  `json:"copies,omitempty"`
	Rev       int       `json:"rev"`
	PostedRev int       `json:"posted_rev"`
	Created   time.Time `json:"created"`
	// Queued is when the post last began to wait for its writer, who takes
	// waiting posts oldest first within a priority: a report edited again
	// and again (a lock retrying) goes to the back each time, instead of
	// keeping every other post of the channel waiting. Zero: Created.
	Queued    time.Time `json:"queued,omitzero"`
	NextTry   time.Time `json:"next_try,omitzero"`
	Attempts  int       `json:"attempts,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	// Digest is the key of the digest post that stands for this one while
	// a burst lasts; the digest is then edited instead.
	Digest string `json:"digest,omitempty"`
	// Done marks a post whose writer gave up for good (the channel is
	// gone, say); a person was told otherwise.
	Done bool `json:"done,omitempty"`
}

// Due reports whether the writer has something to do for p at now.
func (p Post) Due(now time.Time) bool {
	return !p.Done && p.Digest == "" && p.Rev > p.PostedRev && !now.Before(p.NextTry)
}

// QueuedAt is p's place in its writer's queue: Queued, or Created for a
// post that has not waited yet.
func (p Post) QueuedAt() time.Time {
	if p.Queued.IsZero() {
		return p.Created
	}
	return p.Queued
}

// Clone returns a copy that shares no memory with p.
func (p Post) Clone() Post {
	p.Copies = slices.Clone(p.Copies)
	return p
}

// AddCopy records ts as another message showing p, once.
func (p *Post) AddCopy(ts string) bool {
	if ts == "" || ts == p.TS || slices.Contains(p.Copies, ts) {
		return false
	}
	p.Copies = append(p.Copies, ts)
	return true
}

// PostKey is the key of the post of kind for ref.
func PostKey(kind, ref string) string { return kind + ":" + ref }

// SplitPostKey is PostKey's inverse.
func SplitPostKey(key string) (kind, ref string) {
	kind, ref, _ = strings.Cut(key, ":")
	return kind, ref
}
