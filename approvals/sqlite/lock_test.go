package sqlite_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/approvals/sqlite"
	"github.com/lockbot/lockbot/approvals/sqlite/sqlitetest"
)

// TestSecondProcessIsRefused: a second store on a directory that is in
// use is refused at once, naming the holder, and the directory works
// again once the first lets go.
func TestSecondProcessIsRefused(t *testing.T) {
	dir := sqlitetest.Dir(t)
	first, err := sqlite.Open(t.Context(), dir, testOptions())
	require.NoError(t, err)
	_, err = sqlite.Open(t.Context(), dir, testOptions())
	require.ErrorIs(t, err, sqlite.ErrInUse)
	host, _ := os.Hostname()
	assert.Contains(t, err.Error(), fmt.Sprintf("pid %d", os.Getpid()), "names the holder's pid")
	assert.Contains(t, err.Error(), "host "+host)
	assert.Contains(t, err.Error(), "since ")
	require.NoError(t, first.Close())
	again, err := sqlite.Open(t.Context(), dir, testOptions())
	require.NoError(t, err)
	require.NoError(t, again.Close())
}

// TestDamagedDatabaseIsRefused: a database whose pages were damaged is
// refused with the file named and what to do, not read as if whole.
func TestDamagedDatabaseIsRefused(t *testing.T) {
	dir := sqlitetest.Dir(t)
	s, err := sqlite.Open(t.Context(), dir, testOptions())
	require.NoError(t, err)
	require.NoError(t, s.Update(t.Context(), func(tx approvals.Tx) error {
		for i := range 200 {
			r := approvals.Request{ID: fmt.Sprintf("R%03d", i), Person: approvals.Person{Email: "jane@corp.com"}, Requester: "U1",
				State: approvals.StateDenied, Created: time.Now()}
			if err := tx.PutRequest(r); err != nil {
				return err
			}
		}
		return nil
	}))
	require.NoError(t, s.Close())
	path := filepath.Join(dir, sqlite.FileName)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	// Overwrite the middle of the file, where the requests' pages are.
	for i := len(data) / 2; i < len(data)/2+4096 && i < len(data); i++ {
		data[i] = 0xA5
	}
	require.NoError(t, os.WriteFile(path, data, 0o600))
	_, err = sqlite.Open(t.Context(), dir, testOptions())
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)
	assert.Contains(t, err.Error(), "backup")
}
