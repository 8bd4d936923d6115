package approvals

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
	"slices"
)

// Files of a persisted store, inside its directory.
const (
	snapshotFile   = "requests.json"
	snapshotTmp    = "requests.json.tmp-*"
	logFile        = "requests.log"
	snapshotFormat = 1
)

// minFoldLines keeps a tiny store from rewriting its snapshot every few
// changes; above it the log is folded once it holds 2× the live set.
const minFoldLines = 64

// snapshot is the whole live set as of log sequence Seq.
type snapshot struct {
	Format  int     `json:"format"`
	Seq     uint64  `json:"seq"`
	Entries []entry `json:"entries"`
}

// logLine is one change: the whole request after it. Seq orders lines
// against the snapshot, so lines already folded into it are never replayed
// over it, even if a crash came between the rename and the log truncation.
type logLine struct {
	Seq uint64 `json:"seq"`
	entry
}

// diskLog is the on-disk half of a persisted CacheStore. Its fields are
// guarded by the store's mutex.
type diskLog struct {
	dir   string
	f     *os.File // the log, opened O_APPEND
	seq   uint64   // last sequence number written or loaded
	lines int      // lines in the log since the last snapshot
	size  int64    // bytes of whole lines in the log
	// For tests and benchmarks: what the store cost in disk writes.
	written   int64 // bytes written in total
	snapshots int   // snapshots written
}

// openDisk loads dir's snapshot and log and opens the log for appending.
// Garbage or torn log lines are skipped with a warning: a crash mid-append
// leaves exactly that, and it must not stop the bot from starting. A
// snapshot that does not parse is an error, because renames make it whole
// and anything else means the files were damaged by something other than a
// crash, which an operator must look at.
func openDisk(dir string, log *slog.Logger) ([]entry, *diskLog, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("approvals: state directory: %w", err)
	}
	if err := removeStaleTemps(dir); err != nil {
		return nil, nil, err
	}
	snap, err := readSnapshot(filepath.Join(dir, snapshotFile))
	if err != nil {
		return nil, nil, err
	}
	byID := make(map[string]entry, len(snap.Entries))
	for _, e := range snap.Entries {
		byID[e.Request.ID] = e
	}

	f, err := os.OpenFile(filepath.Join(dir, logFile), os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("approvals: open store log: %w", err)
	}
	rep, err := replayLog(f, snap.Seq, byID)
	if err != nil {
		return nil, nil, joinClose(err, f)
	}
	if len(rep.bad) > 0 {
		log.Warn("approvals: skipped unreadable store log lines (torn by a crash?)",
			"file", filepath.Join(dir, logFile), "lines", rep.bad)
	}
	if err := syncDir(dir); err != nil {
		return nil, nil, joinClose(err, f)
	}
	d := &diskLog{dir: dir, f: f, seq: max(snap.Seq, rep.lastSeq), lines: rep.lines, size: rep.size}
	entries := make([]entry, 0, len(byID))
	for _, e := range byID {
		entries = append(entries, e)
	}
	return entries, d, nil
}

// removeStaleTemps deletes snapshots that a crash left half-written.
func removeStaleTemps(dir string) error {
	stale, err := filepath.Glob(filepath.Join(dir, snapshotTmp))
	if err != nil {
		return fmt.Errorf("approvals: find stale snapshots: %w", err)
	}
	for _, p := range stale {
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("approvals: remove stale snapshot: %w", err)
		}
	}
	return nil
}

// readSnapshot reads the snapshot at path; a missing file is an empty store.
func readSnapshot(path string) (snapshot, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return snapshot{Format: snapshotFormat}, nil
	}
	if err != nil {
		return snapshot{}, fmt.Errorf("approvals: read snapshot: %w", err)
	}
	var s snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return snapshot{}, fmt.Errorf("approvals: snapshot %s is damaged: %w", path, err)
	}
	if s.Format != snapshotFormat {
		return snapshot{}, fmt.Errorf("approvals: snapshot %s has format %d, want %d", path, s.Format, snapshotFormat)
	}
	for _, e := range s.Entries {
		if !e.valid() {
			return snapshot{}, fmt.Errorf("approvals: snapshot %s holds an invalid entry", path)
		}
	}
	return s, nil
}

// valid rejects decoded entries that cannot be a request the store wrote.
func (e entry) valid() bool {
	return e.Request.ID != "" && e.Request.State.valid() && !e.Until.IsZero()
}

// replayed is what replayLog found.
type replayed struct {
	lastSeq uint64
	lines   int   // lines read, good or bad
	size    int64 // bytes up to the end of the last complete line
	bad     []int // 1-based numbers of lines skipped as unreadable
}

// replayLog applies to into every log line of r with a sequence number above
// after, in file order. Unreadable lines are recorded in bad and skipped.
// err is only an error reading r.
func replayLog(r io.Reader, after uint64, into map[string]entry) (replayed, error) {
	var rep replayed
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return rep, fmt.Errorf("approvals: read store log: %w", err)
		}
		if len(line) == 0 {
			return rep, nil
		}
		rep.lines++
		whole := line[len(line)-1] == '\n'
		if whole {
			rep.size += int64(len(line))
		}
		// A line without its newline is torn even if its JSON happens to be
		// complete: its write was never acknowledged.
		var l logLine
		dec := json.NewDecoder(bytes.NewReader(line))
		if derr := dec.Decode(&l); !whole || derr != nil || dec.More() || l.Seq == 0 || !l.entry.valid() {
			rep.bad = append(rep.bad, n)
		} else {
			rep.lastSeq = max(rep.lastSeq, l.Seq)
			if l.Seq > after {
				into[l.Request.ID] = l.entry
			}
		}
		if err != nil {
			return rep, nil
		}
	}
}

// append writes e as the next log line and makes it durable. On failure the
// log is cut back to its last whole line, so a half-written line cannot glue
// itself to the next one.
func (d *diskLog) append(e entry) error {
	b, err := json.Marshal(logLine{Seq: d.seq + 1, entry: e})
	if err != nil {
		return fmt.Errorf("approvals: encode store log line: %w", err)
	}
	b = append(b, '\n')
	n, err := d.f.Write(b)
	d.written += int64(n)
	if err == nil {
		err = d.f.Sync()
	}
	if err != nil {
		if terr := d.f.Truncate(d.size); terr != nil {
			err = fmt.Errorf("%w (and cutting back: %v)", err, terr)
		}
		return fmt.Errorf("approvals: write store log: %w", err)
	}
	d.seq++
	d.lines++
	d.size += int64(len(b))
	return nil
}

// compact replaces the snapshot with entries (write to a temporary file,
// fsync, rename, fsync the directory) and then empties the log. A crash
// before the rename keeps the old snapshot and the whole log; a crash after
// it keeps the new snapshot, and the log lines it already holds are skipped
// by their sequence numbers.
func (d *diskLog) compact(entries []entry) error {
	slices.SortFunc(entries, func(a, b entry) int { return compareOldestFirst(a.Request, b.Request) })
	b, err := json.Marshal(snapshot{Format: snapshotFormat, Seq: d.seq, Entries: entries})
	if err != nil {
		return fmt.Errorf("approvals: encode snapshot: %w", err)
	}
	if err := writeFileAtomic(d.dir, snapshotFile, snapshotTmp, b); err != nil {
		return err
	}
	d.written += int64(len(b))
	d.snapshots++
	if err := d.f.Truncate(0); err != nil {
		return fmt.Errorf("approvals: empty store log: %w", err)
	}
	if err := d.f.Sync(); err != nil {
		return fmt.Errorf("approvals: sync store log: %w", err)
	}
	d.lines, d.size = 0, 0
	return nil
}

// writeFileAtomic replaces dir/name with b so that a reader, even after a
// crash, sees the old content or the new, never a mix.
func writeFileAtomic(dir, name, tmpPattern string, b []byte) error {
	tmp, err := os.CreateTemp(dir, tmpPattern)
	if err != nil {
		return fmt.Errorf("approvals: create snapshot: %w", err)
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, name))
	}
	if err != nil {
		if rerr := os.Remove(tmp.Name()); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = fmt.Errorf("%w (and removing the temporary file: %v)", err, rerr)
		}
		return fmt.Errorf("approvals: write snapshot: %w", err)
	}
	return syncDir(dir)
}

// syncDir makes renames and new files in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("approvals: open state directory: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("approvals: sync state directory: %w", err)
	}
	return nil
}
