package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/approvals/sqlite"
	"github.com/lockbot/lockbot/bot/lockflow"
	"github.com/lockbot/lockbot/okta"
)

// oldRequest is a request line as the old request store wrote it.
func oldRequest(id, state, requester string, created time.Time) map[string]any {
	return map[string]any{
		"id": id, "target": "jane.doe@acme.example", "requester": requester, "reason": "stolen",
		"origin": map[string]any{"kind": "manual"}, "created": created, "expires": created.Add(30 * time.Minute),
		"required": 1, "state": state, "decided_by": "U0DAVE01", "decided_at": created.Add(time.Minute),
		"devices": []map[string]any{{"id": "jane-mac", "name": "Jane's Mac", "serial": "C02JANE0001", "platform": "Mac"}},
		"card":    map[string]any{"channel": approvalCh, "ts": "1700000000.000100"},
	}
}

func jsonLine(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b) + "\n"
}

// writeOldState writes a state directory as lockbot before the database
// left it: a snapshot and log of requests, an inbox with a done event and a
// pending one, a System Log checkpoint and an audit journal with a torn
// last line.
func writeOldState(t *testing.T, dir string, requestsLog string) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	for _, d := range []string{"requests", "inbox", "catchup"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, d), 0o700))
	}
	snap := map[string]any{"format": 1, "seq": 1, "entries": []any{
		map[string]any{"request": oldRequest("REQPENDING", "pending", "U0ALICE01", now), "until": now.Add(time.Hour)},
	}}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "requests", "requests.json"), []byte(jsonLine(t, snap)), 0o600))
	if requestsLog == "" {
		requestsLog = jsonLine(t, map[string]any{"seq": 2, "request": oldRequest("REQEXEC", "executing", "U0ALICE01", now), "until": now.Add(time.Hour)}) +
			jsonLine(t, map[string]any{"seq": 3, "request": oldRequest("REQDENIED", "denied", "U0ALICE01", now), "until": now.Add(time.Hour)}) +
			`{"seq":4,"request":{"id":"REQTORN"` // a write torn by a crash
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "requests", "requests.log"), []byte(requestsLog), 0o600))
	ev := func(uuid string) okta.Event {
		return okta.Event{UUID: uuid, Type: okta.EventSuspend, Published: now, UserID: "00ujane", Login: "jane.doe@acme.example",
			Email: "jane.doe@acme.example", Source: okta.SourceHook}
	}
	inbox := jsonLine(t, map[string]any{"op": "admit", "at": now, "events": []okta.Event{ev("done-1"), ev("pending-1")}}) +
		jsonLine(t, map[string]any{"op": "done", "uuid": "done-1"})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "inbox", "okta-inbox.jsonl"), []byte(inbox), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "catchup", "okta-catchup.json"), []byte(`{"checkpoint":"2026-11-30T10:00:00Z"}`), 0o600))
	journal := jsonLine(t, approvals.Record{Time: now, Kind: approvals.KindOpened, ID: "REQPENDING", Actor: "U0ALICE01", Target: "jane.doe@acme.example"}) +
		jsonLine(t, approvals.Record{Time: now, Kind: approvals.KindDenied, ID: "REQDENIED", Actor: "U0DAVE01"}) +
		`{"time":"2026-11-30T10:00:00Z","kind":"request.opened","id":"TO` // torn
	require.NoError(t, os.WriteFile(filepath.Join(dir, "audit.jsonl"), []byte(journal), 0o600))
}

// TestUpgradeImportsTheOldStateFiles: the first start of this version
// carries every pending request, seen and pending event, journal record
// and the System Log checkpoint into the store, resumes the lock an old
// crash left "executing", and keeps the old files, renamed, beside it.
func TestUpgradeImportsTheOldStateFiles(t *testing.T) {
	dir := t.TempDir()
	writeOldState(t, dir, "")
	cfg := config{StateDir: dir, ApprovalChannel: approvalCh}
	s, err := openStore(t.Context(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)

	require.NoError(t, s.View(t.Context(), func(tx approvals.Tx) error {
		p, err := tx.Request("REQPENDING")
		require.NoError(t, err)
		assert.Equal(t, approvals.StatePending, p.State)
		assert.Equal(t, "jane.doe@acme.example", p.Target())
		card, err := tx.Post(approvals.PostKey(approvals.PostRequest, "REQPENDING"))
		require.NoError(t, err)
		assert.Equal(t, "1700000000.000100", card.TS, "the old card is edited, not posted again")

		ex, err := tx.Request("REQEXEC")
		require.NoError(t, err)
		assert.Equal(t, approvals.StateApproved, ex.State)
		require.NotEmpty(t, ex.LockID, "a lock an old crash left executing resumes")
		j, err := tx.Lock(ex.LockID)
		require.NoError(t, err)
		assert.Equal(t, approvals.JobQueued, j.State)
		assert.Equal(t, "U0DAVE01", j.Approver)

		d, err := tx.Request("REQDENIED")
		require.NoError(t, err)
		assert.Equal(t, approvals.StateDenied, d.State, "a decided request stays decided")
		_, err = tx.Request("REQTORN")
		assert.ErrorIs(t, err, approvals.ErrNotFound, "a torn last line was never acknowledged")

		done, err := tx.Trigger("okta:done-1")
		require.NoError(t, err)
		assert.True(t, done.Handled, "an event handled before the upgrade stays handled")
		pending, err := tx.Trigger("okta:pending-1")
		require.NoError(t, err)
		assert.False(t, pending.Handled, "an event still pending is handled after the upgrade")

		raw, err := tx.Value(lockflow.CursorKey)
		require.NoError(t, err)
		var cur okta.Cursor
		require.NoError(t, json.Unmarshal(raw, &cur))
		assert.Equal(t, time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC), cur.Newest.UTC())

		recs, err := tx.Records(approvals.Filter{}, 0)
		require.NoError(t, err)
		require.Len(t, recs, 2, "every whole journal record, none of the torn one")
		assert.Equal(t, approvals.KindOpened, recs[0].Kind)
		return nil
	}))
	require.NoError(t, s.Close())

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	for _, old := range []string{"requests", "inbox", "catchup", "audit.jsonl"} {
		assert.NotContains(t, names, old, "%s is renamed once imported", old)
		found := false
		for _, n := range names {
			found = found || strings.HasPrefix(n, old+".imported-")
		}
		assert.True(t, found, "%s is kept beside the database", old)
	}

	// A second start imports nothing twice.
	s, err = openStore(t.Context(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.View(context.Background(), func(tx approvals.Tx) error {
		recs, err := tx.Records(approvals.Filter{}, 0)
		assert.Len(t, recs, 2)
		return err
	}))
}

// TestUpgradeRefusesADamagedRequestLog: one byte damaged in a middle line
// of the old requests.log used to bring a denied request back as pending,
// and approving it locked three devices. The import refuses instead,
// naming the file and the line, and imports nothing.
func TestUpgradeRefusesADamagedRequestLog(t *testing.T) {
	now := time.Now().UTC()
	denied := jsonLine(t, map[string]any{"seq": 2, "request": oldRequest("REQX", "pending", "U0ALICE01", now), "until": now.Add(time.Hour)}) +
		strings.Replace(jsonLine(t, map[string]any{"seq": 3, "request": oldRequest("REQX", "denied", "U0ALICE01", now), "until": now.Add(time.Hour)}), `"state":"denied"`, `"state":"denied"}`, 1) +
		jsonLine(t, map[string]any{"seq": 4, "request": oldRequest("REQY", "pending", "U0ALICE01", now), "until": now.Add(time.Hour)})
	dir := t.TempDir()
	writeOldState(t, dir, denied)
	_, err := openStore(t.Context(), config{StateDir: dir, ApprovalChannel: approvalCh}, slog.New(slog.DiscardHandler))
	require.Error(t, err)
	assert.Contains(t, err.Error(), filepath.Join(dir, "requests", "requests.log"))
	assert.Contains(t, err.Error(), "line 2")
	assert.Contains(t, err.Error(), "backup")
	s, err := sqlite.OpenReadOnly(t.Context(), dir, sqlite.Options{})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.View(t.Context(), func(tx approvals.Tx) error {
		_, err := tx.Request("REQX")
		assert.ErrorIs(t, err, approvals.ErrNotFound, "nothing was imported")
		return nil
	}))
	_, err = os.Stat(filepath.Join(dir, "requests", "requests.log"))
	assert.NoError(t, err, "the damaged file is left where it is, for the operator")
}
