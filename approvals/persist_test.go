package approvals

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// persistedEngine opens a store in dir and an engine over it, both on clock.
func persistedEngine(t *testing.T, dir string, clock *fakeClock, opts ...StoreOption) (*CacheStore, *Engine) {
	t.Helper()
	s, err := OpenStore(dir, append([]StoreOption{WithStoreClock(clock.Now)}, opts...)...)
	require.NoError(t, err)
	return s, NewEngine(s, testApprovers(), WithClock(clock.Now))
}

func TestStoreSurvivesCrash(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := newFakeClock()
	s1, e1 := persistedEngine(t, dir, clock)

	p1, p2 := openRequest(t, e1, 1, 0), openRequest(t, e1, 2, 0)
	soon, approved := openRequest(t, e1, 1, 5*time.Minute), openRequest(t, e1, 1, 0)
	_, err := e1.SetCard(ctx, p1.ID, Card{Channel: "C0APPROVALS", TS: "1700000000.000100"})
	require.NoError(t, err)
	_, err = e1.Approve(ctx, p2.ID, approverA)
	require.NoError(t, err)
	_, err = e1.Approve(ctx, approved.ID, approverA)
	require.NoError(t, err)
	auto, err := e1.OpenAutomatic(ctx, NewRequest{Target: target, Requester: "okta", Devices: sampleDevices(),
		Origin: Origin{EventType: "user.lifecycle.suspend", EventID: "evt-1", Actor: "admin@example.com"}})
	require.NoError(t, err)
	_, err = e1.Finish(ctx, auto.ID, true, "2 of 2 devices locked")
	require.NoError(t, err)
	before, err := e1.List(ctx)
	require.NoError(t, err)
	require.Len(t, before, 5)

	crash(t, s1)
	clock.Advance(10 * time.Minute)
	s2, e2 := persistedEngine(t, dir, clock)
	t.Cleanup(func() { require.NoError(t, s2.Close()) })

	after, err := e2.List(ctx)
	require.NoError(t, err)
	assert.Equal(t, before, after, "every request comes back exactly")

	expired, err := e2.ExpireDue(ctx)
	require.NoError(t, err)
	require.Len(t, expired, 1, "a deadline that passed while down is expired at start")
	assert.Equal(t, soon.ID, expired[0].ID)

	r, err := e2.Approve(ctx, p1.ID, approverB)
	require.NoError(t, err)
	assert.Equal(t, StateApproved, r.State, "pending requests are still approvable")
	r, err = e2.Approve(ctx, p2.ID, approverA)
	require.ErrorIs(t, err, ErrAlreadyApproved, "approvals made before the crash still count")
	r, err = e2.Approve(ctx, p2.ID, approverB)
	require.NoError(t, err)
	assert.Equal(t, StateApproved, r.State)
	r, err = e2.Begin(ctx, approved.ID)
	require.NoError(t, err)
	assert.Equal(t, StateExecuting, r.State)
}

func TestStoreSkipsUnreadableLogLines(t *testing.T) {
	tests := []struct {
		name   string
		damage func(log []byte) []byte
	}{
		{name: "torn last line", damage: func(log []byte) []byte {
			return append(log, `{"seq":99,"until":"2030-01-01T00:00:00Z","request":{"id":"TORN`...)
		}},
		{name: "garbage line in the middle", damage: func(log []byte) []byte {
			first, rest, _ := bytes.Cut(log, []byte("\n"))
			return bytes.Join([][]byte{first, []byte("\x00\x01 garbage"), rest}, []byte("\n"))
		}},
		{name: "JSON that is no change", damage: func(log []byte) []byte {
			return append([]byte(`{"seq":7,"request":{"id":"NOUNTIL","state":"pending"}}`+"\n"), log...)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			clock := newFakeClock()
			s1, e1 := persistedEngine(t, dir, clock)
			for range 3 {
				_, err := e1.Open(ctx, manualRequest())
				require.NoError(t, err)
			}
			before, err := e1.List(ctx)
			require.NoError(t, err)
			crash(t, s1)
			path := filepath.Join(dir, logFile)
			log, err := os.ReadFile(path)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(path, tt.damage(log), 0o600))

			logger, logs := logBuffer()
			s2, e2 := persistedEngine(t, dir, clock, WithStoreLogger(logger))
			assert.Contains(t, logs.String(), "skipped unreadable store log lines")
			after, err := e2.List(ctx)
			require.NoError(t, err)
			assert.Equal(t, before, after)

			// The damage is gone: new changes survive another crash, and the
			// next open has nothing to warn about.
			r, err := e2.Approve(ctx, after[0].ID, approverA)
			require.NoError(t, err)
			crash(t, s2)
			logger, logs = logBuffer()
			s3, e3 := persistedEngine(t, dir, clock, WithStoreLogger(logger))
			t.Cleanup(func() { require.NoError(t, s3.Close()) })
			assert.NotContains(t, logs.String(), "skipped")
			got, err := e3.Get(ctx, r.ID)
			require.NoError(t, err)
			assert.Equal(t, StateApproved, got.State)
		})
	}
}

func TestStoreDropsRequestsPastRetention(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := newFakeClock()
	s1, e1 := persistedEngine(t, dir, clock, WithStoreRetention(time.Hour))
	auto, err := e1.OpenAutomatic(ctx, NewRequest{Target: target, Requester: "okta"})
	require.NoError(t, err)
	_, err = e1.Finish(ctx, auto.ID, true, "")
	require.NoError(t, err)
	short, err := e1.Open(ctx, manualRequest()) // deadline in 30 minutes
	require.NoError(t, err)
	nr := manualRequest()
	nr.TTL = 3 * time.Hour
	long, err := e1.Open(ctx, nr)
	require.NoError(t, err)
	require.NoError(t, s1.Close())

	clock.Advance(2 * time.Hour)
	logger, logs := logBuffer()
	s2, e2 := persistedEngine(t, dir, clock, WithStoreRetention(time.Hour), WithStoreLogger(logger))
	t.Cleanup(func() { require.NoError(t, s2.Close()) })
	list, err := e2.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, long.ID, list[0].ID)
	assert.Contains(t, logs.String(), "dropped=2")

	snap, err := os.ReadFile(filepath.Join(dir, snapshotFile))
	require.NoError(t, err)
	assert.NotContains(t, string(snap), auto.ID, "dropped requests are gone from disk too")
	assert.NotContains(t, string(snap), short.ID)
}

// TestStoreReopensAfterCrashAtAnyByte cuts the log at every line boundary
// and inside every line, as kill -9 during a write would, and checks that
// the store opens with exactly the changes whose lines are whole.
func TestStoreReopensAfterCrashAtAnyByte(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := newFakeClock()
	s, e := persistedEngine(t, dir, clock)
	var states [][]Request // states[i]: what List returns after i changes
	snap := func() {
		list, err := e.List(ctx)
		require.NoError(t, err)
		states = append(states, list)
	}
	snap()
	a, err := e.Open(ctx, manualRequest())
	require.NoError(t, err)
	snap()
	b, err := e.Open(ctx, manualRequest())
	require.NoError(t, err)
	snap()
	for _, step := range []func() (Request, error){
		func() (Request, error) { return e.SetCard(ctx, a.ID, Card{Channel: "C1", TS: "1.2"}) },
		func() (Request, error) { return e.Approve(ctx, a.ID, approverA) },
		func() (Request, error) { return e.Deny(ctx, b.ID, requester, "mistake") },
		func() (Request, error) { return e.Begin(ctx, a.ID) },
		func() (Request, error) { return e.Finish(ctx, a.ID, true, "locked") },
	} {
		_, err := step()
		require.NoError(t, err)
		snap()
	}
	crash(t, s)
	log, err := os.ReadFile(filepath.Join(dir, logFile))
	require.NoError(t, err)
	require.Equal(t, len(states)-1, bytes.Count(log, []byte("\n")), "one line per change")

	var cuts []int
	start := 0
	for _, line := range bytes.SplitAfter(log, []byte("\n")) {
		end := start + len(line)
		cuts = append(cuts, start, start+1, (start+end)/2, end-1)
		start = end
	}
	cuts = append(cuts, len(log))
	for _, cut := range cuts {
		if cut > len(log) {
			continue
		}
		crashed := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(crashed, logFile), log[:cut], 0o600))
		s, err := OpenStore(crashed, WithStoreClock(clock.Now))
		require.NoError(t, err, "cut at %d", cut)
		got, err := s.List(ctx)
		require.NoError(t, err)
		whole := bytes.Count(log[:cut], []byte("\n"))
		assert.Equal(t, states[whole], got, "cut at byte %d of %d (%d whole lines)", cut, len(log), whole)
		require.NoError(t, s.Close())
	}
}

func TestReplayLogSkipsLinesInSnapshot(t *testing.T) {
	approved := storedRequest("X", StateApproved, testEpoch)
	pending := storedRequest("X", StatePending, testEpoch)
	newer := storedRequest("Y", StatePending, testEpoch)
	until := testEpoch.Add(DefaultRetention)
	var log bytes.Buffer
	for i, r := range []Request{pending, newer} {
		b, err := json.Marshal(logLine{Seq: uint64(i + 1), entry: entry{Request: r, Until: until}})
		require.NoError(t, err)
		log.Write(append(b, '\n'))
	}

	into := map[string]entry{"X": {Request: approved, Until: until}} // snapshot as of seq 1
	size := int64(log.Len())
	rep, err := replayLog(&log, 1, into)
	require.NoError(t, err)
	assert.Equal(t, replayed{lastSeq: 2, lines: 2, size: size}, rep)
	assert.Equal(t, StateApproved, into["X"].Request.State, "a line already in the snapshot is not replayed over it")
	assert.Equal(t, newer, into["Y"].Request)
	assert.Empty(t, rep.bad)
}

func TestOpenStoreErrors(t *testing.T) {
	valid := `{"format":1,"seq":0,"entries":[]}`
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string) string // returns the dir to open
		wantErr string
	}{
		{name: "damaged snapshot", wantErr: "damaged", prepare: func(t *testing.T, dir string) string {
			require.NoError(t, os.WriteFile(filepath.Join(dir, snapshotFile), []byte(valid[:10]), 0o600))
			return dir
		}},
		{name: "snapshot of another format", wantErr: "format 2", prepare: func(t *testing.T, dir string) string {
			require.NoError(t, os.WriteFile(filepath.Join(dir, snapshotFile), []byte(strings.Replace(valid, "1", "2", 1)), 0o600))
			return dir
		}},
		{name: "snapshot with an invalid entry", wantErr: "invalid entry", prepare: func(t *testing.T, dir string) string {
			bad := `{"format":1,"seq":1,"entries":[{"request":{"id":"","state":"pending"},"until":"2030-01-01T00:00:00Z"}]}`
			require.NoError(t, os.WriteFile(filepath.Join(dir, snapshotFile), []byte(bad), 0o600))
			return dir
		}},
		{name: "state directory is a file", wantErr: "state directory", prepare: func(t *testing.T, dir string) string {
			path := filepath.Join(dir, "file")
			require.NoError(t, os.WriteFile(path, nil, 0o600))
			return path
		}},
		{name: "log is a directory", wantErr: "open store log", prepare: func(t *testing.T, dir string) string {
			require.NoError(t, os.Mkdir(filepath.Join(dir, logFile), 0o700))
			return dir
		}},
		{name: "snapshot is a directory", wantErr: "read snapshot", prepare: func(t *testing.T, dir string) string {
			require.NoError(t, os.Mkdir(filepath.Join(dir, snapshotFile), 0o700))
			return dir
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.prepare(t, t.TempDir())
			s, err := OpenStore(dir)
			require.ErrorContains(t, err, tt.wantErr)
			assert.Nil(t, s)
		})
	}
}

func TestOpenStoreRemovesHalfWrittenSnapshots(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "requests.json.tmp-12345")
	require.NoError(t, os.WriteFile(stale, []byte(`{"format":1,"seq":3,"entr`), 0o600))
	s, err := OpenStore(dir)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	assert.NoFileExists(t, stale)
	st, err := os.Stat(dir)
	require.NoError(t, err)
	assert.True(t, st.IsDir())
}

func TestStoreFilesArePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, err := OpenStore(dir)
	require.NoError(t, err)
	require.NoError(t, s.Create(context.Background(), storedRequest("A", StatePending, testEpoch)))
	require.NoError(t, s.Close())
	for _, name := range []string{".", snapshotFile, logFile} {
		st, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Zero(t, st.Mode().Perm()&0o077, "%s is %v", name, st.Mode().Perm())
	}
}

// TestStoreFoldsLogRarely is the cost rule: a burst of locks must not
// rewrite the whole store per change, yet the log must not outgrow the live
// set by more than 2×.
func TestStoreFoldsLogRarely(t *testing.T) {
	const locks = 150
	ctx := context.Background()
	dir := t.TempDir()
	clock := newFakeClock()
	s, e := persistedEngine(t, dir, clock)
	var oneLine int64
	for i := range locks {
		r, err := e.Open(ctx, manualRequest())
		require.NoError(t, err)
		if i == 0 {
			oneLine = s.disk.written
		}
		for _, step := range []func() (Request, error){
			func() (Request, error) { return e.Approve(ctx, r.ID, approverA) },
			func() (Request, error) { return e.Begin(ctx, r.ID) },
			func() (Request, error) { return e.Finish(ctx, r.ID, true, "2 of 2 devices locked") },
		} {
			_, err := step()
			require.NoError(t, err)
			require.LessOrEqual(t, s.disk.lines, max(2*s.c.ItemCount(), minFoldLines))
		}
	}
	changes := int64(4 * locks)
	// Each fold happens once the live set has doubled: about log2(150/16).
	assert.InDelta(t, 4, s.disk.snapshots, 1, "snapshots are rewritten geometrically rarely")
	assert.Less(t, s.disk.written/changes, 2*oneLine, "bytes written per change stay O(one request)")

	require.NoError(t, s.Close())
	st, err := os.Stat(filepath.Join(dir, logFile))
	require.NoError(t, err)
	assert.Zero(t, st.Size(), "Close folds the log into the snapshot")
	s2, err := OpenStore(dir)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s2.Close()) })
	list, err := s2.List(ctx)
	require.NoError(t, err)
	assert.Len(t, list, locks)
	for _, r := range list {
		assert.Equal(t, StateDone, r.State)
	}
}

func TestStoreWriteFailureChangesNothing(t *testing.T) {
	ctx := context.Background()
	s, err := OpenStore(t.TempDir())
	require.NoError(t, err)
	require.NoError(t, s.Create(ctx, storedRequest("A", StatePending, testEpoch)))
	require.NoError(t, s.disk.f.Close()) // every write now fails

	err = s.Create(ctx, storedRequest("B", StatePending, testEpoch))
	require.ErrorContains(t, err, "write store log")
	_, err = s.Get(ctx, "B")
	require.ErrorIs(t, err, ErrNotFound)

	_, err = s.Update(ctx, "A", func(r *Request) error { r.State = StateDenied; return nil })
	require.ErrorContains(t, err, "write store log")
	got, err := s.Get(ctx, "A")
	require.NoError(t, err)
	assert.Equal(t, StatePending, got.State)
}

func TestStoreCompactionFailureIsNotFatal(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	logger, logs := logBuffer()
	s, err := OpenStore(dir, WithStoreLogger(logger))
	require.NoError(t, err)
	// A directory where the snapshot goes makes every rename fail.
	require.NoError(t, os.MkdirAll(filepath.Join(dir, snapshotFile, "blocker"), 0o700))

	require.NoError(t, s.Create(ctx, storedRequest("A", StatePending, testEpoch)))
	for i := range minFoldLines + 1 {
		_, err := s.Update(ctx, "A", func(r *Request) error { r.Card.TS = string(rune('a' + i%26)); return nil })
		require.NoError(t, err, "the change is durable in the log even when folding fails")
	}
	assert.Contains(t, logs.String(), "compacting the store failed")
	require.ErrorContains(t, s.Close(), "write snapshot")
	matches, err := filepath.Glob(filepath.Join(dir, snapshotTmp))
	require.NoError(t, err)
	assert.Empty(t, matches, "failed snapshots are cleaned up")

	require.NoError(t, os.RemoveAll(filepath.Join(dir, snapshotFile)))
	s2, err := OpenStore(dir)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s2.Close()) })
	got, err := s2.Get(ctx, "A")
	require.NoError(t, err)
	assert.Equal(t, string(rune('a'+minFoldLines%26)), got.Card.TS)
}
