package okta

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// testCursors is the CursorStore the catch-up tests use, standing in for
// the database-backed store production uses. It is strict where that store
// is: a saved Cursor goes through JSON, so only what survives the encoding
// is loaded back and nothing the caller holds aliases what is stored; it
// fails once ctx has ended; and it can be made to fail loads or saves, which
// then change nothing.
type testCursors struct {
	mu      sync.Mutex
	saved   []byte // the saved Cursor as JSON; nil when none was saved
	loadErr error  // when set, every LoadCursor fails with it
	saveErr error  // when set, every SaveCursor fails with it
	loads   int    // successful LoadCursor calls
	saves   int    // successful SaveCursor calls
}

var _ CursorStore = (*testCursors)(nil)

func newTestCursors() *testCursors { return &testCursors{} }

// LoadCursor implements CursorStore.
func (s *testCursors) LoadCursor(ctx context.Context) (Cursor, error) {
	if err := ctx.Err(); err != nil {
		return Cursor{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loadErr != nil {
		return Cursor{}, s.loadErr
	}
	var c Cursor
	if s.saved != nil {
		if err := json.Unmarshal(s.saved, &c); err != nil {
			return Cursor{}, err
		}
	}
	s.loads++
	return c, nil
}

// SaveCursor implements CursorStore.
func (s *testCursors) SaveCursor(ctx context.Context, c Cursor) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.saveErr != nil {
		return s.saveErr
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return err
	}
	s.saved = raw
	s.saves++
	return nil
}

// seed saves c as if an earlier process (or lockbot's import of an older
// build's state) had; it does not count as a save.
func (s *testCursors) seed(t testing.TB, c Cursor) {
	t.Helper()
	raw, err := json.Marshal(c)
	require.NoError(t, err)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saved = raw
}

// get returns the saved Cursor, the zero Cursor when none was saved,
// whatever loadErr says.
func (s *testCursors) get(t testing.TB) Cursor {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var c Cursor
	if s.saved != nil {
		require.NoError(t, json.Unmarshal(s.saved, &c))
	}
	return c
}

// failLoads makes every LoadCursor fail with err; nil lets them work again.
func (s *testCursors) failLoads(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loadErr = err
}

// failSaves makes every SaveCursor fail with err, keeping what was saved;
// nil lets them work again.
func (s *testCursors) failSaves(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saveErr = err
}

// counts returns the successful loads and saves so far.
func (s *testCursors) counts() (loads, saves int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loads, s.saves
}
