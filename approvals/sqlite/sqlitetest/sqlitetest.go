// Package sqlitetest gives tests fresh embedded stores quickly. Creating
// lockbot's and River's tables is most of the cost of opening a new store
// (and many times that under the race detector), so it is done once per
// test binary and the resulting empty database is copied for each store.
package sqlitetest

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/lockbot/lockbot/approvals/sqlite"
)

// template is the empty, migrated database, built once.
var template = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "lockbot-sqlitetest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	s, err := sqlite.Open(context.Background(), dir, sqlite.Options{})
	if err != nil {
		return nil, err
	}
	if err := s.Close(); err != nil {
		return nil, err
	}
	return os.ReadFile(filepath.Join(dir, sqlite.FileName))
})

// Dir returns a new state directory, removed when the test ends, holding an
// empty store ready for sqlite.Open.
func Dir(t testing.TB) string {
	t.Helper()
	db, err := template()
	if err != nil {
		t.Fatalf("sqlitetest: build the template store: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, sqlite.FileName), db, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}
