package okta

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// File names inside the inbox directory, prefixed because the directory is
// lockbot's shared state directory.
const (
	inboxLogName      = "okta-inbox.jsonl"
	inboxSnapshotName = "okta-inbox.snapshot.json"
	snapshotVersion   = 1
)

// Log record operations.
const (
	opAdmit = "admit"
	opDone  = "done"
)

// inboxRecord is one line of the log: one Admit call (all its events, so a
// torn line loses exactly one unacknowledged call) or one Done.
type inboxRecord struct {
	Op     string    `json:"op"`
	At     time.Time `json:"at,omitzero"`
	Events []Event   `json:"events,omitempty"`
	UUID   string    `json:"uuid,omitempty"`
}

// inboxSnapshot is the compacted state the log is replayed on top of.
// Replaying a log over a newer snapshot is harmless (admits of known UUIDs
// are skipped, done of absent ones is a no-op), which is what makes the
// snapshot-then-truncate order crash safe.
type inboxSnapshot struct {
	Version int          `json:"version"`
	Seen    []seenRecord `json:"seen"` // a list, not a map: encoding a map sorts its keys
	Pending []Event      `json:"pending"`
}

// seenRecord remembers when a UUID was admitted.
type seenRecord struct {
	UUID string    `json:"uuid"`
	At   time.Time `json:"at"`
}

// inboxStore owns the inbox files. The Inbox's mutex serialises every call.
type inboxStore struct {
	logPath  string
	snapPath string
	f        *os.File
	size     int64 // bytes in the log
	snapSize int64 // bytes in the last snapshot
	// broken is set when the log's state on disk is unknown (a failed
	// fsync, or a partial write that could not be cut off); appending
	// after it could bury acknowledged records behind garbage.
	broken error
}

// openInboxStore opens the files in dir and reads back their content.
func openInboxStore(dir string, logger *slog.Logger) (*inboxStore, *inboxSnapshot, []inboxRecord, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, nil, fmt.Errorf("okta: inbox: %w", err)
	}
	s := &inboxStore{
		logPath:  filepath.Join(dir, inboxLogName),
		snapPath: filepath.Join(dir, inboxSnapshotName),
	}
	snap, err := s.readSnapshot()
	if err != nil {
		return nil, nil, nil, err
	}
	f, err := os.OpenFile(s.logPath, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("okta: inbox: %w", err)
	}
	recs, size, err := readRecords(f, s.logPath, logger)
	if err != nil {
		_ = f.Close()
		return nil, nil, nil, err
	}
	s.f, s.size = f, size
	return s, snap, recs, nil
}

func (s *inboxStore) readSnapshot() (*inboxSnapshot, error) {
	data, err := os.ReadFile(s.snapPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("okta: inbox: %w", err)
	}
	var snap inboxSnapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return nil, fmt.Errorf("okta: inbox: corrupt snapshot %s: %w", s.snapPath, err)
	}
	if snap.Version != snapshotVersion {
		return nil, fmt.Errorf("okta: inbox: snapshot %s has version %d, want %d", s.snapPath, snap.Version, snapshotVersion)
	}
	s.snapSize = int64(len(data))
	return &snap, nil
}

// readRecords parses the log. An unparsable last line is a write torn by a
// crash: that Admit never returned, so Okta got no 200 and dropping it is
// correct. An unparsable line followed by good ones is real corruption and
// an error, because silently skipping it could lose acknowledged events.
func readRecords(r io.Reader, name string, logger *slog.Logger) ([]inboxRecord, int64, error) {
	var (
		recs    []inboxRecord
		size    int64
		badLine int
		badErr  error
	)
	br := bufio.NewReader(r)
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			size += int64(len(line))
			if badErr != nil {
				return nil, 0, fmt.Errorf("okta: inbox: corrupt log %s line %d: %w", name, badLine, badErr)
			}
			var rec inboxRecord
			switch perr := json.Unmarshal(bytes.TrimSpace(line), &rec); {
			case perr != nil:
				badLine, badErr = lineNo, perr
			case line[len(line)-1] != '\n':
				badLine, badErr = lineNo, errors.New("no line end")
			default:
				recs = append(recs, rec)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("okta: inbox: read %s: %w", name, err)
		}
	}
	if badErr != nil {
		logger.Warn("okta inbox: ignoring torn last log line", "file", name, "line", badLine, "err", badErr)
	}
	return recs, size, nil
}

// append writes one record line, fsyncing when durable. On failure the log
// is cut back to its previous end so later appends stay parsable.
func (s *inboxStore) append(rec []byte, durable bool) error {
	if s.broken != nil {
		return s.broken
	}
	line := append(rec, '\n')
	n, err := s.f.Write(line)
	if err != nil {
		if n > 0 {
			if terr := s.f.Truncate(s.size); terr != nil {
				s.broken = fmt.Errorf("okta: inbox: log %s unusable after failed write: %w", s.logPath, terr)
			}
		}
		return fmt.Errorf("okta: inbox: append: %w", err)
	}
	s.size += int64(n)
	if durable {
		if err := s.f.Sync(); err != nil {
			// After a failed fsync the kernel may have dropped the dirty
			// pages; nothing written since can be trusted.
			s.broken = fmt.Errorf("okta: inbox: log %s unusable after failed fsync: %w", s.logPath, err)
			return s.broken
		}
	}
	return nil
}

// replace installs snap as the new snapshot and empties the log.
func (s *inboxStore) replace(snap []byte) error {
	if s.broken != nil {
		return s.broken
	}
	if err := writeFileAtomic(s.snapPath, snap); err != nil {
		return fmt.Errorf("okta: inbox: %w", err)
	}
	s.snapSize = int64(len(snap))
	if err := s.f.Truncate(0); err != nil {
		return fmt.Errorf("okta: inbox: truncate log: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		s.broken = fmt.Errorf("okta: inbox: log %s unusable after failed fsync: %w", s.logPath, err)
		return s.broken
	}
	s.size = 0
	return nil
}

func (s *inboxStore) close() error {
	err := s.f.Sync()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("okta: inbox: close: %w", err)
	}
	return nil
}
