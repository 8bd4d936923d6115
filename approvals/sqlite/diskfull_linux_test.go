package sqlite_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/approvals/sqlite"
	"github.com/lockbot/lockbot/approvals/sqlite/sqlitetest"
)

// syncBuffer is a log sink safe for the store's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestWorkWaitsForRoomOnAFullDisk: starting the task workers writes, so a
// full disk refuses it. Work keeps trying, says why in the log, and runs
// tasks once there is room, instead of ending the process.
func TestWorkWaitsForRoomOnAFullDisk(t *testing.T) {
	disk, dir := sqlitetest.SmallDisk(t, 8<<20)
	logs := &syncBuffer{}
	opts := testOptions()
	opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
	s, err := sqlite.Open(t.Context(), dir, opts)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()

	free := sqlitetest.Fill(t, disk)
	ran := make(chan string, 1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- s.Work(ctx, map[string]approvals.Handler{"echo": {Workers: 1, Run: func(_ context.Context, r approvals.TaskRun) error {
			ran <- r.Key
			return nil
		}}})
	}()
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "cannot start the task workers; trying again") },
		20*time.Second, 5*time.Millisecond, "Work says why it is waiting")
	assert.Contains(t, logs.String(), "full")
	select {
	case err := <-done:
		t.Fatalf("Work gave up on a full disk: %v", err)
	default:
	}

	free()
	require.NoError(t, s.Update(t.Context(), func(tx approvals.Tx) error { return tx.Enqueue(approvals.Task{Kind: "echo", Key: "k1"}) }))
	select {
	case k := <-ran:
		assert.Equal(t, "k1", k)
	case <-time.After(30 * time.Second):
		t.Fatal("no task ran once the disk had room")
	}
	cancel()
	require.NoError(t, <-done)
}
