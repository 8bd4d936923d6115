package okta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// checkpointName is the cursor file in the state directory; the name is
// the one older builds kept their checkpoint in.
const checkpointName = "okta-catchup.json"

// Cursor is where the catch-up stands in the System Log.
type Cursor struct {
	// Next is the path and query of the last rel="next" link of a polling
	// query whose page was admitted, to resume from. "" means there is
	// none: the next poll starts a new polling query.
	Next string `json:"next,omitempty"`
	// Newest is the newest published time of the events read. A new
	// polling query starts Overlap before it, so a refused cursor costs a
	// bounded re-read, not lost events.
	Newest time.Time `json:"newest,omitzero"`
}

// CursorStore persists the catch-up's Cursor. SaveCursor is called only
// after the events read up to that cursor were admitted.
type CursorStore interface {
	// LoadCursor returns the saved cursor, the zero Cursor when none was
	// saved.
	LoadCursor(ctx context.Context) (Cursor, error)
	// SaveCursor durably replaces the saved cursor.
	SaveCursor(ctx context.Context, c Cursor) error
}

// FileCursorStore keeps the Cursor in okta-catchup.json in a directory,
// replaced atomically on every save. It reads the checkpoint files older
// builds wrote ({"checkpoint": time}) as a Cursor whose Newest is that time,
// and writes the checkpoint field too, so an older build can still start
// from it. Only one process may use a directory at a time.
type FileCursorStore struct {
	path string

	mu  sync.Mutex
	cur Cursor
}

// cursorFile is the file format.
type cursorFile struct {
	Next   string    `json:"next,omitempty"`
	Newest time.Time `json:"newest,omitzero"`
	// Checkpoint is what builds before cursors read: where to re-query
	// from, less their overlap.
	Checkpoint time.Time `json:"checkpoint,omitzero"`
}

// OpenFileCursorStore reads the cursor file in dir, if any. The directory
// is created on the first save.
func OpenFileCursorStore(dir string) (*FileCursorStore, error) {
	s := &FileCursorStore{path: filepath.Join(dir, checkpointName)}
	data, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("okta: catch-up: %w", err)
	}
	cur, err := parseCursorFile(data)
	if err != nil {
		return nil, fmt.Errorf("okta: catch-up: corrupt checkpoint %s (delete it to start from the lookback window): %w", s.path, err)
	}
	s.cur = cur
	return s, nil
}

// parseCursorFile decodes the cursor file, old format or new.
func parseCursorFile(data []byte) (Cursor, error) {
	var f cursorFile
	if err := json.Unmarshal(data, &f); err != nil {
		return Cursor{}, err
	}
	c := Cursor{Next: f.Next, Newest: f.Newest}
	if c.Newest.IsZero() {
		c.Newest = f.Checkpoint
	}
	return c, nil
}

// LoadCursor implements CursorStore.
func (s *FileCursorStore) LoadCursor(ctx context.Context) (Cursor, error) {
	if err := ctx.Err(); err != nil {
		return Cursor{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur, nil
}

// SaveCursor implements CursorStore: the file is replaced atomically and
// fsynced before it returns.
func (s *FileCursorStore) SaveCursor(ctx context.Context, c Cursor) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	data, err := json.Marshal(cursorFile{Next: c.Next, Newest: c.Newest.UTC(), Checkpoint: c.Newest.UTC()})
	if err != nil {
		return fmt.Errorf("okta: catch-up: encode cursor: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return fmt.Errorf("okta: catch-up: %w", err)
	}
	if err := writeFileAtomic(s.path, data); err != nil {
		return fmt.Errorf("okta: catch-up: save cursor: %w", err)
	}
	s.cur = c
	return nil
}

// memoryCursors is the CursorStore of a catch-up without a state
// directory: a restart starts from the lookback window again.
type memoryCursors struct {
	mu  sync.Mutex
	cur Cursor
}

func (m *memoryCursors) LoadCursor(context.Context) (Cursor, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cur, nil
}

func (m *memoryCursors) SaveCursor(_ context.Context, c Cursor) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cur = c
	return nil
}

// usableCursor reports whether next can be requested as it is: a relative
// System Log URL carrying an after cursor. The SDK prefixes the org URL, so
// a stored value can never send the token elsewhere either way.
func usableCursor(next string) bool {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Path != logsPath {
		return false
	}
	q := u.Query()
	return q.Get("after") != "" && !q.Has("since")
}
