package approvals

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Kind names what a journal record is about. The values are the audit
// format, read back by `lockbot audit`, so they must never change.
type Kind string

// Journal record kinds.
const (
	KindOpened      Kind = "request.opened"
	KindApproval    Kind = "request.approval" // one approval recorded
	KindApproved    Kind = "request.approved" // quorum reached; the lock job is opened with it
	KindRefused     Kind = "request.refused"  // a refused click or command: Details["reason"] is its short name
	KindDenied      Kind = "request.denied"
	KindCancelled   Kind = "request.cancelled"
	KindExpired     Kind = "request.expired"
	KindAutoLock    Kind = "lock.automatic" // an automatic lock job was opened
	KindLockResult  Kind = "lock.result"    // one device reached a final outcome, as Kandji said it
	KindLockDone    Kind = "lock.finished"  // a lock job reached its final state
	KindLockSkipped Kind = "lock.skipped"   // a lock job was not carried out on purpose
	KindPINRevealed Kind = "pin.revealed"   // to whom; never the PIN
	KindEvent       Kind = "okta.event"     // an Okta event was handled
	KindCommand     Kind = "slack.command"  // a slash command was handled
)

// Record is one entry of the audit journal.
type Record struct {
	Time    time.Time         `json:"time"`
	Kind    Kind              `json:"kind"`
	ID      string            `json:"id,omitempty"` // request, lock or event ID
	Actor   string            `json:"actor,omitempty"`
	Target  string            `json:"target,omitempty"`
	Details map[string]string `json:"details,omitempty"`
}

// errPINDetail refuses a record whose Details names a PIN.
var errPINDetail = errors.New("approvals: journal record refused: a details key names a PIN")

// Check refuses a record that must not be journaled: one without a kind or
// a time, and one whose Details has a key containing "pin" in any case.
// PINs must never reach the journal, and a key that names one is the
// likeliest way a careless caller would put one there. Stores call it on
// every Append.
func (r Record) Check() error {
	for k := range r.Details {
		if strings.Contains(strings.ToLower(k), "pin") {
			return fmt.Errorf("%w (key %q)", errPINDetail, k)
		}
	}
	switch {
	case r.Kind == "":
		return errors.New("approvals: journal record without a kind")
	case r.Time.IsZero():
		return errors.New("approvals: journal record without a time")
	}
	return nil
}

// Filter selects journal records. Zero fields select everything.
type Filter struct {
	Since  time.Time // records at or after Since
	Until  time.Time // records strictly before Until
	Kinds  []Kind    // any of these kinds
	Target string    // this target email, compared as EmailKey does
	ID     string    // this request, lock or event ID
}

// Match reports whether rec passes every set field of f.
func (f Filter) Match(rec Record) bool {
	switch {
	case !f.Since.IsZero() && rec.Time.Before(f.Since),
		!f.Until.IsZero() && !rec.Time.Before(f.Until),
		len(f.Kinds) > 0 && !slices.Contains(f.Kinds, rec.Kind),
		f.Target != "" && !SameEmail(f.Target, rec.Target),
		f.ID != "" && f.ID != rec.ID:
		return false
	}
	return true
}

// details builds a Details map from key, value pairs, leaving out empty
// values so records stay short.
func details(kv ...string) map[string]string {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			m[kv[i]] = kv[i+1]
		}
	}
	return m
}

// Details is details for other packages: pairs of key and value, empty
// values left out.
func Details(kv ...string) map[string]string { return details(kv...) }
