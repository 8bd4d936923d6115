package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/bot/lockflow"
	"github.com/lockbot/lockbot/okta"
)

// The state files of lockbot before the embedded database: a request store
// (snapshot and log), the Okta inbox (snapshot and log), the System Log
// checkpoint and the audit journal. importLegacy reads them into the store
// at the first start of this version, in one transaction, and then renames
// them (keeping them beside the database): an upgrade loses no pending
// request, no event seen or still pending, and no journal record.
const (
	legacyRequests   = "requests"
	legacyInbox      = "inbox"
	legacyCatchup    = "catchup"
	legacyJournal    = "audit.jsonl"
	legacyImportedAt = "legacy.imported"
)

// legacyRequest is a request as the old store wrote it.
type legacyRequest struct {
	ID        string               `json:"id"`
	Target    string               `json:"target"`
	Requester string               `json:"requester"`
	Reason    string               `json:"reason"`
	Origin    approvals.Origin     `json:"origin"`
	Devices   []approvals.Device   `json:"devices"`
	Created   time.Time            `json:"created"`
	Expires   time.Time            `json:"expires"`
	Required  int                  `json:"required"`
	Approvals []approvals.Approval `json:"approvals"`
	State     string               `json:"state"`
	DecidedBy string               `json:"decided_by"`
	DecidedAt time.Time            `json:"decided_at"`
	Outcome   string               `json:"outcome"`
	Card      struct {
		Channel string `json:"channel"`
		TS      string `json:"ts"`
	} `json:"card"`
}

// legacyEntry is one request with its retention, in the snapshot and log.
type legacyEntry struct {
	Seq     uint64        `json:"seq"`
	Request legacyRequest `json:"request"`
}

// legacyInboxRecord is one line of the old inbox log.
type legacyInboxRecord struct {
	Op     string       `json:"op"`
	At     time.Time    `json:"at"`
	Events []okta.Event `json:"events"`
	UUID   string       `json:"uuid"`
}

// legacyState is everything read from the old files.
type legacyState struct {
	requests   map[string]legacyRequest
	seen       map[string]time.Time
	pending    []okta.Event
	checkpoint time.Time
	journal    []approvals.Record
	skipped    int // unreadable journal lines
	files      []string
}

// importLegacy imports the old state files of dir, if any, and renames
// them. A damaged file (a bad line that is not a torn last one) stops the
// import with the file and line: guessing could bring a decided request
// back to pending.
func importLegacy(ctx context.Context, s approvals.Store, dir, approvalChannel string, log *slog.Logger) error {
	st, err := readLegacy(dir)
	if err != nil || len(st.files) == 0 {
		return err
	}
	done := false
	if err := s.View(ctx, func(tx approvals.Tx) error {
		_, err := tx.Value(legacyImportedAt)
		done = err == nil
		if errors.Is(err, approvals.ErrNotFound) {
			return nil
		}
		return err
	}); err != nil {
		return err
	}
	if !done {
		if err := s.Update(ctx, func(tx approvals.Tx) error { return st.importInto(tx, approvalChannel) }); err != nil {
			return err
		}
		log.Info("imported the state files of an older lockbot", "requests", len(st.requests), "events_seen", len(st.seen),
			"events_pending", len(st.pending), "journal_records", len(st.journal), "journal_lines_skipped", st.skipped)
	}
	suffix := ".imported-" + time.Now().UTC().Format("20060102T150405Z")
	for _, f := range st.files {
		if err := os.Rename(f, f+suffix); err != nil {
			return fmt.Errorf("keep %s as %s: %w", f, f+suffix, err)
		}
	}
	return nil
}

// readLegacy reads the old files of dir; it finds none in a new directory.
func readLegacy(dir string) (legacyState, error) {
	st := legacyState{requests: map[string]legacyRequest{}, seen: map[string]time.Time{}}
	if err := st.readRequests(filepath.Join(dir, legacyRequests)); err != nil {
		return st, err
	}
	if err := st.readInbox(filepath.Join(dir, legacyInbox)); err != nil {
		return st, err
	}
	if err := st.readCheckpoint(filepath.Join(dir, legacyCatchup)); err != nil {
		return st, err
	}
	if err := st.readJournal(filepath.Join(dir, legacyJournal)); err != nil {
		return st, err
	}
	return st, nil
}

// exists records path as a file to rename once imported.
func (st *legacyState) exists(path string) bool {
	if _, err := os.Stat(path); err != nil {
		return false
	}
	st.files = append(st.files, path)
	return true
}

func (st *legacyState) readRequests(dir string) error {
	if !st.exists(dir) {
		return nil
	}
	var snap struct {
		Seq     uint64        `json:"seq"`
		Entries []legacyEntry `json:"entries"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "requests.json"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		if err := json.Unmarshal(data, &snap); err != nil {
			return fmt.Errorf("%s is damaged: %w; restore it from a backup", filepath.Join(dir, "requests.json"), err)
		}
	}
	for _, e := range snap.Entries {
		st.requests[e.Request.ID] = e.Request
	}
	return eachLine(filepath.Join(dir, "requests.log"), func(line []byte) error {
		var e legacyEntry
		if err := strictJSON(line, &e); err != nil || e.Request.ID == "" || e.Seq == 0 {
			return errBadLine
		}
		if e.Seq > snap.Seq {
			st.requests[e.Request.ID] = e.Request
		}
		return nil
	})
}

func (st *legacyState) readInbox(dir string) error {
	if !st.exists(dir) {
		return nil
	}
	var snap struct {
		Seen []struct {
			UUID string    `json:"uuid"`
			At   time.Time `json:"at"`
		} `json:"seen"`
		Pending []okta.Event `json:"pending"`
	}
	path := filepath.Join(dir, "okta-inbox.snapshot.json")
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		if err := json.Unmarshal(data, &snap); err != nil {
			return fmt.Errorf("%s is damaged: %w; restore it from a backup", path, err)
		}
	}
	pending := map[string]okta.Event{}
	var order []string
	admit := func(ev okta.Event, at time.Time) {
		if _, dup := pending[ev.UUID]; dup || ev.UUID == "" {
			return
		}
		if _, seen := st.seen[ev.UUID]; seen {
			return
		}
		st.seen[ev.UUID] = at
		pending[ev.UUID] = ev
		order = append(order, ev.UUID)
	}
	for _, s := range snap.Seen {
		st.seen[s.UUID] = s.At
	}
	for _, ev := range snap.Pending {
		delete(st.seen, ev.UUID)
		admit(ev, time.Now())
	}
	err = eachLine(filepath.Join(dir, "okta-inbox.jsonl"), func(line []byte) error {
		var r legacyInboxRecord
		if err := strictJSON(line, &r); err != nil {
			return errBadLine
		}
		switch r.Op {
		case "admit":
			for _, ev := range r.Events {
				admit(ev, r.At)
			}
		case "done":
			delete(pending, r.UUID)
		default:
			return errBadLine
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range order {
		if ev, ok := pending[id]; ok {
			st.pending = append(st.pending, ev)
		}
	}
	return nil
}

func (st *legacyState) readCheckpoint(dir string) error {
	if !st.exists(dir) {
		return nil
	}
	path := filepath.Join(dir, "okta-catchup.json")
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var cp struct {
		Checkpoint time.Time `json:"checkpoint"`
	}
	if err := json.Unmarshal(data, &cp); err != nil {
		return fmt.Errorf("%s is damaged: %w; delete it to start from LOCKBOT_CATCHUP_LOOKBACK", path, err)
	}
	st.checkpoint = cp.Checkpoint
	return nil
}

// readJournal reads the old audit journal. Unlike the other files, a bad
// line is skipped and counted, as the old `lockbot audit` did: one bad
// line must not hide the rest of an audit trail.
func (st *legacyState) readJournal(path string) error {
	if !st.exists(path) {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	for {
		line, err := br.ReadBytes('\n')
		if t := bytes.TrimSpace(line); len(t) > 0 {
			var r approvals.Record
			if strictJSON(t, &r) != nil || r.Kind == "" || r.Time.IsZero() || r.Check() != nil {
				st.skipped++
			} else {
				st.journal = append(st.journal, r)
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// errBadLine marks a log line that does not decode.
var errBadLine = errors.New("bad line")

// eachLine calls fn with every line of the log at path. A last line torn by
// a crash (no newline, or unreadable) is ignored, as the old stores did:
// its write was never acknowledged. A bad line with good ones after it is
// damage, and an error naming the file and line.
func eachLine(path string, fn func([]byte) error) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	for i, line := range lines {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		last := i == len(lines)-1 || (i == len(lines)-2 && len(lines[len(lines)-1]) == 0)
		whole := bytes.HasSuffix(line, []byte("\n"))
		if err := fn(bytes.TrimSpace(line)); err != nil || !whole {
			if last {
				return nil
			}
			return fmt.Errorf("%s is damaged at line %d; lockbot will not guess what it said (a decided request could come back pending). Restore it from a backup, or remove the line if you know what it held", path, i+1)
		}
	}
	return nil
}

// strictJSON decodes one JSON object and nothing after it.
func strictJSON(line []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errBadLine
	}
	return nil
}

// importInto writes the old state into tx.
func (st legacyState) importInto(tx approvals.Tx, approvalChannel string) error {
	now := time.Now()
	ids := make([]string, 0, len(st.requests))
	for id := range st.requests {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if err := importRequest(tx, st.requests[id], approvalChannel, now); err != nil {
			return err
		}
	}
	pending := map[string]bool{}
	for _, ev := range st.pending {
		pending[ev.UUID] = true
	}
	for uuid, at := range st.seen {
		if pending[uuid] {
			continue
		}
		if _, err := tx.AdmitTrigger(approvals.Trigger{ID: "okta:" + uuid, Source: approvals.SourceHook, Admitted: at, Handled: true}); err != nil {
			return err
		}
	}
	for _, ev := range st.pending {
		t := lockflow.TriggerOf(ev, now)
		fresh, err := tx.AdmitTrigger(t)
		if err != nil {
			return err
		}
		if fresh {
			if err := tx.Enqueue(approvals.Task{Kind: approvals.TaskTrigger, Key: t.ID}); err != nil {
				return err
			}
		}
	}
	if !st.checkpoint.IsZero() {
		raw, err := json.Marshal(okta.Cursor{Newest: st.checkpoint})
		if err != nil {
			return err
		}
		if err := tx.SetValue(lockflow.CursorKey, raw); err != nil {
			return err
		}
	}
	for _, r := range st.journal {
		if err := tx.Append(r); err != nil {
			return err
		}
	}
	return tx.SetValue(legacyImportedAt, []byte(now.UTC().Format(time.RFC3339)))
}

// importRequest carries one old request over. An automatic lock was a
// request of its own in the old store; its event is still in the inbox
// until it was reported, so it is redone from there and the old record is
// kept only in the journal. A manual request that was approved but whose
// lock never finished (a crash) gets its lock job now, so it resumes.
func importRequest(tx approvals.Tx, old legacyRequest, approvalChannel string, now time.Time) error {
	if old.Requester == lockflow.OktaRequester && old.State != string(approvals.StatePending) {
		return nil
	}
	r := approvals.Request{
		ID: old.ID, Person: approvals.Person{Email: old.Target}, Requester: old.Requester, Reason: old.Reason,
		Origin: old.Origin, Devices: old.Devices, Created: old.Created, Expires: old.Expires, Required: max(old.Required, 1),
		Approvals: old.Approvals, State: approvals.State(old.State), DecidedBy: old.DecidedBy, DecidedAt: old.DecidedAt,
		Outcome: old.Outcome,
	}
	resume := false
	switch old.State {
	case "pending", "denied", "expired", "cancelled":
	case "approved", "executing":
		r.State, resume = approvals.StateApproved, true
	case "done", "failed":
		r.State = approvals.StateApproved
	default:
		return fmt.Errorf("request %s has the unknown state %q", old.ID, old.State)
	}
	key := approvals.PostKey(approvals.PostRequest, r.ID)
	card := approvals.Post{Key: key, Kind: approvals.PostRequest, Ref: r.ID, Channel: old.Card.Channel, TS: old.Card.TS,
		Priority: approvals.PriorityInteractive, Created: old.Created, Rev: 1, PostedRev: 1}
	if card.Channel == "" {
		card.Channel, card.PostedRev = approvalChannel, 0 // its card was never posted
	}
	if resume {
		j := approvals.NewLock(r.Person, r.Origin, r.Reason, key, now, approvals.DefaultLockDeadline, false)
		j.RequestID, j.Approver, j.Shown = r.ID, r.DecidedBy, r.Devices
		r.LockID = j.ID
		card.Rev = 2 // the card said "Locking now…" forever: it follows the lock again
		if err := tx.PutLock(j); err != nil {
			return err
		}
		if err := tx.Enqueue(approvals.Task{Kind: approvals.TaskLock, Key: j.ID}); err != nil {
			return err
		}
	}
	if err := tx.PutRequest(r); err != nil {
		return err
	}
	if r.State == approvals.StatePending {
		card.Rev = 2 // edited once more, so it expires on time even if its deadline passed while down
		if err := tx.Enqueue(approvals.Task{Kind: approvals.TaskExpire, Key: r.ID, At: r.Expires}); err != nil {
			return err
		}
	}
	if !resume && r.State != approvals.StatePending {
		return nil
	}
	return tx.PutPost(card)
}
