package approvals

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Actors of the tests. Approvers are named in approverSet; requester is one
// too, so that every self-approval test proves that being an approver does
// not help.
const (
	requester = "U_REQ"
	approverA = "U_APPROVER_A"
	approverB = "U_APPROVER_B"
	outsider  = "U_OUTSIDER"
	target    = "jane@example.com"
)

// testEpoch is near real time on purpose: go-cache expires entries on the
// real clock, so engine times far from it would make TTLs meaningless.
var testEpoch = time.Now().UTC().Truncate(time.Second)

// fakeClock is a settable clock for WithClock and WithStoreClock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: testEpoch} }

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

// approverSet authorises exactly the given users.
func approverSet(users ...string) Authorizer {
	set := make(map[string]bool, len(users))
	for _, u := range users {
		set[u] = true
	}
	return AuthorizerFunc(func(ctx context.Context, userID string) (bool, error) {
		return set[userID], ctx.Err()
	})
}

// testApprovers is who may approve in most tests.
func testApprovers() Authorizer { return approverSet(requester, approverA, approverB) }

// testJournal opens a journal in a temporary directory and returns it with
// a function reading back everything it holds.
func testJournal(t *testing.T) (*Journal, func() []Record) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	j, err := OpenJournal(path)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, j.Close()) })
	return j, func() []Record {
		t.Helper()
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		recs, skipped, err := ReadJournal(bytes.NewReader(b), Filter{})
		require.NoError(t, err)
		require.Zero(t, skipped)
		return recs
	}
}

// logBuffer returns a logger writing text to a buffer the test can inspect.
func logBuffer() (*slog.Logger, *syncBuffer) {
	var b syncBuffer
	return slog.New(slog.NewTextHandler(&b, nil)), &b
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// sampleDevices are two devices as Kandji would list them.
func sampleDevices() []Device {
	return []Device{
		{ID: "dev-1", Name: "Jane's MacBook Pro", Model: "MacBook Pro (14-inch, 2023)", Serial: "C02XK1JHJG5J",
			Platform: "Mac", LastCheckIn: testEpoch.Add(-time.Hour)},
		{ID: "dev-2", Name: "Jane's iPhone", Model: "iPhone 15", Serial: "F2LZK0Q1N72Q", Platform: "iPhone"},
	}
}

// manualRequest is a typical /lock request.
func manualRequest() NewRequest {
	return NewRequest{Target: target, Requester: requester, Reason: "laptop stolen", Devices: sampleDevices()}
}

// openRequest opens a manual request needing required approvals and
// staying open for ttl (0: the defaults).
func openRequest(t *testing.T, e *Engine, required int, ttl time.Duration) Request {
	t.Helper()
	nr := manualRequest()
	nr.Required, nr.TTL = required, ttl
	r, err := e.Open(context.Background(), nr)
	require.NoError(t, err)
	return r
}

// crash abandons a persisted store as kill -9 would: nothing is folded or
// flushed beyond what each change already made durable.
func crash(t *testing.T, s *CacheStore) {
	t.Helper()
	s.closed.Store(true)
	require.NoError(t, s.disk.f.Close())
}
