package approvals

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Kind names what a journal record is about. The values are the audit file
// format, read back by `lockbot audit`, so they must never change.
type Kind string

// Journal record kinds.
const (
	KindOpened      Kind = "request.opened"
	KindApproval    Kind = "request.approval" // one approval recorded
	KindApproved    Kind = "request.approved" // quorum reached
	KindRefused     Kind = "request.refused"  // a refused click: Details["reason"] is the refusal's short name
	KindDenied      Kind = "request.denied"
	KindCancelled   Kind = "request.cancelled"
	KindExpired     Kind = "request.expired"
	KindLockResult  Kind = "lock.result" // one per device (written by the bot)
	KindAutoLock    Kind = "lock.automatic"
	KindPINRevealed Kind = "pin.revealed" // to whom; never the PIN
	KindEvent       Kind = "okta.event"   // an Okta event accepted (written by the bot)
)

// Record is one line of the audit journal.
type Record struct {
	Time    time.Time         `json:"time"`
	Kind    Kind              `json:"kind"`
	ID      string            `json:"id,omitempty"` // request or lock ID
	Actor   string            `json:"actor,omitempty"`
	Target  string            `json:"target,omitempty"`
	Details map[string]string `json:"details,omitempty"`
}

// Journal is the append-only audit file. It is safe for concurrent use; the
// zero of a *Journal (nil) and a Journal opened on "" keep nothing, so code
// that journals never needs to check whether auditing is configured.
type Journal struct {
	mu     sync.Mutex
	f      *os.File // nil: keeps nothing
	closed bool
}

// OpenJournal opens (creating with mode 0600) the journal at path for
// appending. An empty path gives a journal that keeps nothing.
//
// If a crash left a partial last line, a newline is written first so that the
// fragment stays a line of its own, which ReadJournal skips, instead of
// corrupting the next record.
func OpenJournal(path string) (*Journal, error) {
	if path == "" {
		return &Journal{}, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("approvals: journal directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("approvals: open journal: %w", err)
	}
	if err := endWithNewline(f); err != nil {
		return nil, joinClose(fmt.Errorf("approvals: repair journal tail: %w", err), f)
	}
	return &Journal{f: f}, nil
}

// endWithNewline appends '\n' to a non-empty file that does not end with one.
func endWithNewline(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() == 0 {
		return nil
	}
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, st.Size()-1); err != nil {
		return err
	}
	if last[0] == '\n' {
		return nil
	}
	if _, err := f.Write([]byte{'\n'}); err != nil {
		return err
	}
	return f.Sync()
}

// Append writes r as one line and flushes it to disk before returning, so a
// record that Append accepted survives a crash. A zero Time is set to now.
//
// It refuses, writing nothing, a record whose Details has a key containing
// "pin" in any case: PINs must never reach the journal, and a key that names
// one is the likeliest way a careless caller would put one there.
func (j *Journal) Append(r Record) error {
	for k := range r.Details {
		if strings.Contains(strings.ToLower(k), "pin") {
			return fmt.Errorf("%w (key %q)", errPINDetail, k)
		}
	}
	if r.Kind == "" {
		return fmt.Errorf("approvals: journal record without a kind")
	}
	if j == nil {
		return nil
	}
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	r.Time = r.Time.UTC()
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("approvals: encode journal record: %w", err)
	}
	line = append(line, '\n')

	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return fmt.Errorf("approvals: journal: %w", errClosed)
	}
	if j.f == nil {
		return nil
	}
	// One Write call per record: with O_APPEND the line lands whole at the
	// end, and Sync makes it durable before the caller acts on it.
	if _, err := j.f.Write(line); err != nil {
		return fmt.Errorf("approvals: write journal: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("approvals: sync journal: %w", err)
	}
	return nil
}

// Close flushes and closes the file. Appending afterwards is an error; a
// second Close is not.
func (j *Journal) Close() error {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	if j.f == nil {
		return nil
	}
	err := j.f.Sync()
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("approvals: close journal: %w", err)
	}
	return nil
}

// joinClose closes c after err and keeps both errors.
func joinClose(err error, c io.Closer) error {
	if cerr := c.Close(); cerr != nil {
		return fmt.Errorf("%w (and close: %v)", err, cerr)
	}
	return err
}
