package okta

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Test-only options reaching unexported knobs.
func withClock(c *fakeClock) InboxOption { return func(in *Inbox) { in.now = c.Now } }
func withExactTTL(d time.Duration) InboxOption {
	return func(in *Inbox) { in.seenTTL = d }
}
func withCompactAt(n int64) InboxOption { return func(in *Inbox) { in.compactAt = n } }

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: ts("2024-05-06T12:00:00Z")} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func openTestInbox(t *testing.T, dir string, opts ...InboxOption) *Inbox {
	t.Helper()
	in, err := OpenInbox(dir, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = in.Close() })
	return in
}

func ev(uuid string) Event {
	return Event{UUID: uuid, Type: EventSuspend, UserID: "00u" + uuid, Login: uuid + "@acme.example", Source: SourceHook}
}

func evs(uuids ...string) []Event {
	out := make([]Event, len(uuids))
	for i, u := range uuids {
		out[i] = ev(u)
	}
	return out
}

func uuidsOf(evs []Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.UUID
	}
	return out
}

// takeN reads exactly n events with Next and then checks that no further
// event is available.
func takeN(t *testing.T, in *Inbox, n int) []Event {
	t.Helper()
	out := make([]Event, 0, n)
	for range n {
		out = append(out, mustNext(t, in))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	extra, err := in.Next(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded, "unexpected extra event %+v", extra)
	return out
}

func TestInboxAdmitDedupes(t *testing.T) {
	for _, dir := range []string{"", "disk"} {
		t.Run("dir="+dir, func(t *testing.T) {
			if dir != "" {
				dir = t.TempDir()
			}
			in := openTestInbox(t, dir)

			got, err := in.Admit(context.Background(), evs("a", "b", "a", "", "c"))
			require.NoError(t, err)
			assert.Equal(t, []string{"a", "b", "c"}, uuidsOf(got), "input order, duplicates and empty UUIDs skipped")

			got, err = in.Admit(context.Background(), evs("c", "d", "b"))
			require.NoError(t, err)
			assert.Equal(t, []string{"d"}, uuidsOf(got))

			got, err = in.Admit(context.Background(), evs("a", "d"))
			require.NoError(t, err)
			assert.Empty(t, got)

			got, err = in.Admit(context.Background(), nil)
			require.NoError(t, err)
			assert.Empty(t, got)

			assert.Equal(t, 4, in.Len())
			assert.Equal(t, []string{"a", "b", "c", "d"}, uuidsOf(takeN(t, in, 4)), "FIFO by admission")
			assert.Equal(t, 4, in.Len(), "handed out is still pending")
		})
	}
}

func TestInboxRejectsUnusableUUIDs(t *testing.T) {
	in := openTestInbox(t, t.TempDir())
	got, err := in.Admit(context.Background(), evs("", strings.Repeat("x", maxUUIDLen+1), "bad\xffutf8", strings.Repeat("y", maxUUIDLen)))
	require.NoError(t, err)
	assert.Equal(t, []string{strings.Repeat("y", maxUUIDLen)}, uuidsOf(got))
}

func TestInboxAdmitReturnsCopy(t *testing.T) {
	in := openTestInbox(t, "")
	got, err := in.Admit(context.Background(), evs("a"))
	require.NoError(t, err)
	got[0].UUID = "mutated"
	assert.Equal(t, "a", takeN(t, in, 1)[0].UUID)
}

func TestInboxDone(t *testing.T) {
	in := openTestInbox(t, t.TempDir())
	_, err := in.Admit(context.Background(), evs("a", "b", "c"))
	require.NoError(t, err)

	first := takeN(t, in, 3)
	assert.Equal(t, []string{"a", "b", "c"}, uuidsOf(first))

	require.NoError(t, in.Done("b"))
	assert.Equal(t, 2, in.Len())
	require.NoError(t, in.Done("b"), "Done is idempotent")
	require.NoError(t, in.Done("never-admitted"))
	assert.Equal(t, 2, in.Len())

	got, err := in.Admit(context.Background(), evs("b"))
	require.NoError(t, err)
	assert.Empty(t, got, "done events are still remembered as seen")
}

func TestInboxDoneBeforeNextSkipsEvent(t *testing.T) {
	in := openTestInbox(t, "")
	_, err := in.Admit(context.Background(), evs("a", "b"))
	require.NoError(t, err)
	require.NoError(t, in.Done("a"))
	assert.Equal(t, []string{"b"}, uuidsOf(takeN(t, in, 1)))
}

func TestInboxNextBlocksUntilAdmit(t *testing.T) {
	in := openTestInbox(t, "")
	got := make(chan Event, 1)
	errc := make(chan error, 1)
	go func() {
		e, err := in.Next(context.Background())
		got <- e
		errc <- err
	}()
	_, err := in.Admit(context.Background(), evs("late"))
	require.NoError(t, err)
	require.NoError(t, <-errc)
	assert.Equal(t, "late", (<-got).UUID)
}

func TestInboxNextContextAndClose(t *testing.T) {
	in := openTestInbox(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := in.Next(ctx)
	require.ErrorIs(t, err, context.Canceled)

	errc := make(chan error, 1)
	go func() {
		_, err := in.Next(context.Background())
		errc <- err
	}()
	require.NoError(t, in.Close())
	require.ErrorIs(t, <-errc, ErrInboxClosed)

	require.NoError(t, in.Close(), "Close twice is fine")
	_, err = in.Admit(context.Background(), evs("x"))
	require.ErrorIs(t, err, ErrInboxClosed)
	require.ErrorIs(t, in.Done("x"), ErrInboxClosed)
	_, err = in.Next(context.Background())
	require.ErrorIs(t, err, ErrInboxClosed)
}

func TestInboxFullIsAllOrNothing(t *testing.T) {
	in := openTestInbox(t, t.TempDir(), WithMaxPending(3))
	_, err := in.Admit(context.Background(), evs("a", "b"))
	require.NoError(t, err)

	got, err := in.Admit(context.Background(), evs("a", "c", "d"))
	require.ErrorIs(t, err, ErrInboxFull)
	assert.Empty(t, got)
	assert.Equal(t, 2, in.Len())

	got, err = in.Admit(context.Background(), evs("a", "c"))
	require.NoError(t, err, "duplicates do not count against the limit")
	assert.Equal(t, []string{"c"}, uuidsOf(got))

	require.NoError(t, in.Done("a"))
	got, err = in.Admit(context.Background(), evs("d"))
	require.NoError(t, err)
	assert.Equal(t, []string{"d"}, uuidsOf(got))
}

func TestInboxOptions(t *testing.T) {
	tests := []struct {
		name        string
		opts        []InboxOption
		wantTTL     time.Duration
		wantPending int
	}{
		{name: "defaults", wantTTL: 72 * time.Hour, wantPending: 100_000},
		{name: "ttl raised to 24h", opts: []InboxOption{WithSeenTTL(time.Hour)}, wantTTL: 24 * time.Hour, wantPending: 100_000},
		{name: "longer ttl kept", opts: []InboxOption{WithSeenTTL(96 * time.Hour)}, wantTTL: 96 * time.Hour, wantPending: 100_000},
		{name: "non-positive ignored", opts: []InboxOption{WithSeenTTL(-1), WithMaxPending(0), WithInboxLogger(nil)}, wantTTL: 72 * time.Hour, wantPending: 100_000},
		{name: "max pending", opts: []InboxOption{WithMaxPending(7)}, wantTTL: 72 * time.Hour, wantPending: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := openTestInbox(t, "", tt.opts...)
			assert.Equal(t, tt.wantTTL, in.seenTTL)
			assert.Equal(t, tt.wantPending, in.maxPending)
			assert.NotNil(t, in.logger)
		})
	}
}

func TestInboxSeenTTL(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	opts := []InboxOption{withClock(clock), withExactTTL(time.Hour)}
	in := openTestInbox(t, dir, opts...)

	_, err := in.Admit(context.Background(), evs("done", "slow"))
	require.NoError(t, err)
	takeN(t, in, 2)
	require.NoError(t, in.Done("done"))

	clock.Advance(59 * time.Minute)
	got, err := in.Admit(context.Background(), evs("done", "slow"))
	require.NoError(t, err)
	assert.Empty(t, got, "within the TTL")

	clock.Advance(2 * time.Minute)
	got, err = in.Admit(context.Background(), evs("done", "slow"))
	require.NoError(t, err)
	assert.Equal(t, []string{"done"}, uuidsOf(got), "expired done UUID is forgotten; a pending one never is")

	// The restart keeps the new admission time, not the expired one.
	require.NoError(t, in.Close())
	in2 := openTestInbox(t, dir, opts...)
	clock.Advance(30 * time.Minute)
	got, err = in2.Admit(context.Background(), evs("done"))
	require.NoError(t, err)
	assert.Empty(t, got)
}

func TestInboxPruneForgetsExpired(t *testing.T) {
	clock := newFakeClock()
	in := openTestInbox(t, "", withClock(clock), withExactTTL(time.Hour))
	_, err := in.Admit(context.Background(), evs("a", "b", "c"))
	require.NoError(t, err)
	require.NoError(t, in.Done("a"))
	clock.Advance(2 * time.Hour)
	_, err = in.Admit(context.Background(), evs("d"))
	require.NoError(t, err)
	require.NoError(t, in.Done("c"))
	in.mu.Lock()
	defer in.mu.Unlock()
	assert.NotContains(t, in.seen, "a", "expired and done: pruned")
	assert.NotContains(t, in.seen, "c", "expired and done: pruned")
	assert.Contains(t, in.seen, "b", "expired but pending: kept")
	assert.Contains(t, in.seen, "d")
}

func TestInboxRestart(t *testing.T) {
	dir := t.TempDir()
	in, err := OpenInbox(dir)
	require.NoError(t, err)
	_, err = in.Admit(context.Background(), evs("a", "b"))
	require.NoError(t, err)
	_, err = in.Admit(context.Background(), evs("c"))
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, uuidsOf([]Event{mustNext(t, in), mustNext(t, in)}))
	require.NoError(t, in.Done("a"))
	require.NoError(t, in.Close())

	in2 := openTestInbox(t, dir)
	assert.Equal(t, 2, in2.Len())
	got := takeN(t, in2, 2)
	assert.Equal(t, []string{"b", "c"}, uuidsOf(got), "admitted but not done comes back, in order; done does not")
	assert.Equal(t, ev("b"), got[0], "events survive the round trip intact")

	admitted, err := in2.Admit(context.Background(), evs("a", "b", "c", "d"))
	require.NoError(t, err)
	assert.Equal(t, []string{"d"}, uuidsOf(admitted), "seen UUIDs are still deduped after the restart")
}

func mustNext(t *testing.T, in *Inbox) Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e, err := in.Next(ctx)
	require.NoError(t, err)
	return e
}

func TestInboxRestartWithoutClose(t *testing.T) {
	// A crash: the file is never closed, yet every acknowledged admit and
	// every done is on disk.
	dir := t.TempDir()
	in, err := OpenInbox(dir)
	require.NoError(t, err)
	_, err = in.Admit(context.Background(), evs("a", "b"))
	require.NoError(t, err)
	require.NoError(t, in.Done("a"))

	in2 := openTestInbox(t, dir)
	assert.Equal(t, []string{"b"}, uuidsOf(takeN(t, in2, 1)))
	require.NoError(t, in.Close())
}

func TestInboxTornLastLine(t *testing.T) {
	tests := map[string]string{
		"partial record":                  `{"op":"admit","at":"2024-05-06T12:00:00Z","events":[{"uuid":"lost"`,
		"complete record without newline": `{"op":"admit","at":"2024-05-06T12:00:00Z","events":[{"uuid":"lost","type":"x","published":"0001-01-01T00:00:00Z","actor":{},"source":"hook"}]}`,
		"zero bytes":                      "\x00\x00\x00\x00",
		"garbage line with newline":       "{\"op\":\n",
	}
	for name, tail := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			in, err := OpenInbox(dir)
			require.NoError(t, err)
			_, err = in.Admit(context.Background(), evs("a", "b"))
			require.NoError(t, err)
			require.NoError(t, in.Done("a"))
			require.NoError(t, in.Close())
			appendFile(t, filepath.Join(dir, inboxLogName), tail)

			in2, err := OpenInbox(dir)
			require.NoError(t, err)
			assert.Equal(t, []string{"b"}, uuidsOf(takeN(t, in2, 1)))
			got, err := in2.Admit(context.Background(), evs("a", "c"))
			require.NoError(t, err)
			assert.Equal(t, []string{"c"}, uuidsOf(got))
			require.NoError(t, in2.Close())

			in3 := openTestInbox(t, dir)
			assert.Equal(t, []string{"b", "c"}, uuidsOf(takeN(t, in3, 2)), "appends after the torn line stay readable")
		})
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o600)
	require.NoError(t, err)
	_, err = f.WriteString(s)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func TestInboxCorruption(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		content string
		wantErr string
	}{
		{name: "bad line before a good one", file: inboxLogName, content: "{bad\n{\"op\":\"done\",\"uuid\":\"x\"}\n", wantErr: "corrupt log"},
		{name: "bad snapshot", file: inboxSnapshotName, content: "{", wantErr: "corrupt snapshot"},
		{name: "future snapshot version", file: inboxSnapshotName, content: `{"version":99}`, wantErr: "version 99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, tt.file), []byte(tt.content), 0o600))
			_, err := OpenInbox(dir)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestInboxOpenErrors(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(blocker, nil, 0o600))
	_, err := OpenInbox(filepath.Join(blocker, "sub"))
	require.Error(t, err, "state dir under a regular file")

	dir2 := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir2, inboxLogName), 0o700))
	_, err = OpenInbox(dir2)
	require.Error(t, err, "log path is a directory")

	dir3 := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir3, inboxSnapshotName), 0o700))
	_, err = OpenInbox(dir3)
	require.Error(t, err, "snapshot path is a directory")
}

func TestInboxCompaction(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, inboxLogName)
	in, err := OpenInbox(dir, withCompactAt(2048))
	require.NoError(t, err)
	for i := range 60 {
		id := fmt.Sprintf("e%03d", i)
		_, err := in.Admit(context.Background(), evs(id))
		require.NoError(t, err)
		if i%2 == 0 {
			require.NoError(t, in.Done(id))
		}
		st, err := os.Stat(logPath)
		require.NoError(t, err)
		require.Less(t, st.Size(), int64(8192), "log is folded into the snapshot as it grows")
	}
	_, err = os.Stat(filepath.Join(dir, inboxSnapshotName))
	require.NoError(t, err)
	require.NoError(t, in.Close())

	in2 := openTestInbox(t, dir)
	assert.Equal(t, 30, in2.Len())
	got := takeN(t, in2, 30)
	assert.Equal(t, "e001", got[0].UUID)
	assert.Equal(t, "e059", got[29].UUID)
	admitted, err := in2.Admit(context.Background(), evs("e000", "e001", "e058"))
	require.NoError(t, err)
	assert.Empty(t, admitted)
}

func TestInboxCrashBetweenSnapshotAndTruncate(t *testing.T) {
	// Replaying an old log on top of a newer snapshot must change nothing.
	dir := t.TempDir()
	logPath := filepath.Join(dir, inboxLogName)
	in, err := OpenInbox(dir)
	require.NoError(t, err)
	_, err = in.Admit(context.Background(), evs("a", "b", "c"))
	require.NoError(t, err)
	require.NoError(t, in.Done("a"))
	require.NoError(t, in.Close())
	oldLog, err := os.ReadFile(logPath)
	require.NoError(t, err)
	require.NotEmpty(t, oldLog)

	in2, err := OpenInbox(dir) // compacts: snapshot written, log emptied
	require.NoError(t, err)
	require.NoError(t, in2.Done("b"))
	require.NoError(t, in2.Close())
	appendFile(t, logPath, string(oldLog)) // as if the truncate never happened

	in3 := openTestInbox(t, dir)
	assert.Equal(t, []string{"c"}, uuidsOf(takeN(t, in3, 1)))
}

func TestInboxStorageFailure(t *testing.T) {
	in := openTestInbox(t, t.TempDir())
	_, err := in.Admit(context.Background(), evs("a"))
	require.NoError(t, err)
	require.NoError(t, in.store.f.Close()) // every later write fails

	got, err := in.Admit(context.Background(), evs("b"))
	require.Error(t, err)
	assert.Empty(t, got)
	assert.Equal(t, 1, in.Len(), "nothing admitted when the log write fails")

	require.Error(t, in.Done("a"))
	assert.Equal(t, 1, in.Len(), "still pending when the done record cannot be written")
}

func TestInboxBrokenAfterFailedSync(t *testing.T) {
	in := openTestInbox(t, t.TempDir())
	in.store.broken = errors.New("okta: inbox: fsync failed earlier")
	_, err := in.Admit(context.Background(), evs("a"))
	require.ErrorContains(t, err, "fsync failed earlier")
	assert.Equal(t, 0, in.Len())
}

func TestInboxConcurrent(t *testing.T) {
	in := openTestInbox(t, t.TempDir())
	const producers, calls, perCall, unique = 6, 12, 8, 40

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu      sync.Mutex
		handled = map[string]int{}
		admits  = map[string]int{}
		wg      sync.WaitGroup
	)
	for range 3 {
		wg.Go(func() {
			for {
				e, err := in.Next(ctx)
				if err != nil {
					return
				}
				mu.Lock()
				handled[e.UUID]++
				mu.Unlock()
				assert.NoError(t, in.Done(e.UUID))
				_ = in.Len()
			}
		})
	}
	var pwg sync.WaitGroup
	for p := range producers {
		pwg.Go(func() {
			for c := range calls {
				batch := make([]Event, perCall)
				for i := range batch {
					batch[i] = ev(fmt.Sprintf("u%02d", (p*7+c*3+i)%unique))
				}
				got, err := in.Admit(context.Background(), batch)
				assert.NoError(t, err)
				mu.Lock()
				for _, g := range got {
					admits[g.UUID]++
				}
				mu.Unlock()
			}
		})
	}
	pwg.Wait()
	require.Eventually(t, func() bool { return in.Len() == 0 }, 5*time.Second, time.Millisecond)
	cancel()
	wg.Wait()

	assert.Len(t, admits, unique)
	for id, n := range admits {
		assert.Equal(t, 1, n, "%s admitted once", id)
		assert.Equal(t, 1, handled[id], "%s handed out once", id)
	}
	assert.Len(t, handled, unique)
}

func TestInboxSnapshotDropsExpired(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	opts := []InboxOption{withClock(clock), withExactTTL(time.Hour)}
	in, err := OpenInbox(dir, opts...)
	require.NoError(t, err)
	_, err = in.Admit(context.Background(), evs("old-done", "old-pending"))
	require.NoError(t, err)
	require.NoError(t, in.Done("old-done"))
	require.NoError(t, in.Close())

	clock.Advance(2 * time.Hour)
	in2 := openTestInbox(t, dir, opts...) // compacts on open
	snap, err := os.ReadFile(filepath.Join(dir, inboxSnapshotName))
	require.NoError(t, err)
	assert.NotContains(t, string(snap), "old-done")
	assert.Contains(t, string(snap), "old-pending")
	assert.Equal(t, 1, in2.Len())
}

func TestInboxQueueMemoryFollowsBacklog(t *testing.T) {
	in := openTestInbox(t, "")
	batch := make([]Event, 3000)
	for i := range batch {
		batch[i] = ev(fmt.Sprintf("q%04d", i))
	}
	_, err := in.Admit(context.Background(), batch)
	require.NoError(t, err)
	for i := range 2000 {
		e := mustNext(t, in)
		require.Equal(t, batch[i].UUID, e.UUID)
		require.NoError(t, in.Done(e.UUID))
	}
	in.mu.Lock()
	queued := len(in.queue) - in.head
	size := len(in.queue)
	in.mu.Unlock()
	assert.Equal(t, 1000, queued)
	assert.Less(t, size, 2000, "consumed prefix released")
	assert.Equal(t, "q2000", mustNext(t, in).UUID)

	takeN(t, in, 999)
	in.mu.Lock()
	defer in.mu.Unlock()
	assert.Empty(t, in.queue, "an empty queue is reset")
}

func TestInboxAdmitHonoursContext(t *testing.T) {
	in := openTestInbox(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got, err := in.Admit(ctx, evs("a"))
	require.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, got)
	assert.Zero(t, in.Len(), "nothing admitted")
	got, err = in.Admit(context.Background(), evs("a"))
	require.NoError(t, err)
	assert.Len(t, got, 1, "and not remembered as seen either")
}
