package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cachedDB opens a one-connection database with the statement cache and a
// table t of integers.
func cachedDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := openCached("file:" + filepath.Join(t.TempDir(), "cache.db") + "?_pragma=journal_mode(WAL)")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	db.SetMaxOpenConns(1)
	_, err = db.Exec(`CREATE TABLE t (v INTEGER PRIMARY KEY)`)
	require.NoError(t, err)
	return db
}

// cached lists the SQL texts the connection holds prepared.
func cached(t *testing.T, db *sql.DB) map[string]bool {
	t.Helper()
	conn, err := db.Conn(context.Background())
	require.NoError(t, err)
	defer conn.Close()
	got := map[string]bool{}
	require.NoError(t, conn.Raw(func(dc any) error {
		c := dc.(*cachingConn)
		for e := c.lru.Front(); e != nil; e = e.Next() {
			got[e.Value.(*cachedStmt).query] = true
		}
		require.Equal(t, len(c.stmts), c.lru.Len(), "the LRU list and the map disagree")
		return nil
	}))
	return got
}

func values(t *testing.T, rows *sql.Rows) []int {
	t.Helper()
	var out []int
	for rows.Next() {
		var v int
		require.NoError(t, rows.Scan(&v))
		out = append(out, v)
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	return out
}

// TestStmtCacheReusesStatements: a query run many times is prepared once
// and keeps giving the right answers, arguments and all.
func TestStmtCacheReusesStatements(t *testing.T) {
	db := cachedDB(t)
	const insert, count = `INSERT INTO t (v) VALUES (?)`, `SELECT count(*) FROM t WHERE v <= ?`
	for i := 1; i <= 50; i++ {
		_, err := db.Exec(insert, i)
		require.NoError(t, err)
		var n int
		require.NoError(t, db.QueryRow(count, i).Scan(&n))
		require.Equal(t, i, n)
	}
	got := cached(t, db)
	assert.True(t, got[insert] && got[count], "both statements stay prepared: %v", got)
	assert.Len(t, got, 3, "the table's CREATE, the insert and the count, each once")
}

// TestStmtCacheSameQueryWhileRowsOpen: a query whose rows are still being
// read is not reset by a second run of the same text; the second gets a
// statement of its own, closed when done.
func TestStmtCacheSameQueryWhileRowsOpen(t *testing.T) {
	db := cachedDB(t)
	for i := 1; i <= 5; i++ {
		_, err := db.Exec(`INSERT INTO t (v) VALUES (?)`, i)
		require.NoError(t, err)
	}
	const all = `SELECT v FROM t WHERE v >= ? ORDER BY v`
	tx, err := db.Begin()
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	outer, err := tx.Query(all, 1)
	require.NoError(t, err)
	require.True(t, outer.Next())
	var first int
	require.NoError(t, outer.Scan(&first))
	inner, err := tx.Query(all, 3)
	require.NoError(t, err)
	assert.Equal(t, []int{3, 4, 5}, values(t, inner))
	rest := values(t, outer)
	assert.Equal(t, []int{1, 2, 3, 4, 5}, append([]int{first}, rest...), "the first rows were not disturbed")
	require.NoError(t, tx.Commit())
	assert.Len(t, cached(t, db), 3, "the one-off statement was not kept")
	rows, err := db.Query(all, 2)
	require.NoError(t, err)
	assert.Equal(t, []int{2, 3, 4, 5}, values(t, rows), "the cached statement is free again")
}

// TestStmtCacheEvictsLeastRecentlyUsed: texts that vary fill the cache up
// to its bound and no further, and a statement in steady use stays.
func TestStmtCacheEvictsLeastRecentlyUsed(t *testing.T) {
	db := cachedDB(t)
	const hot = `SELECT count(*) FROM t`
	for i := range maxCachedStmts + 40 {
		var n, v int
		require.NoError(t, db.QueryRow(hot).Scan(&n))
		require.NoError(t, db.QueryRow(fmt.Sprintf(`SELECT %d`, i)).Scan(&v))
		require.Equal(t, i, v)
	}
	got := cached(t, db)
	assert.Len(t, got, maxCachedStmts)
	assert.True(t, got[hot], "the statement used all along is still prepared")
	assert.False(t, got[`SELECT 0`], "the least recently used went first")
	assert.True(t, got[fmt.Sprintf(`SELECT %d`, maxCachedStmts+39)])
}

// TestStmtCacheAfterErrors: a failed statement (a constraint, a context
// that ended, SQL that does not parse) leaves the cache usable.
func TestStmtCacheAfterErrors(t *testing.T) {
	db := cachedDB(t)
	const insert = `INSERT INTO t (v) VALUES (?)`
	_, err := db.Exec(insert, 1)
	require.NoError(t, err)
	_, err = db.Exec(insert, 1)
	require.Error(t, err, "a duplicate key")
	_, err = db.Exec(insert, 2)
	require.NoError(t, err, "the statement works after its failure")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = db.ExecContext(ctx, insert, 3)
	require.ErrorIs(t, err, context.Canceled)
	_, err = db.Exec(insert, 3)
	require.NoError(t, err)

	_, err = db.Exec(`INSERT INTO nowhere VALUES (1)`)
	require.Error(t, err)
	_, err = db.Exec(`NOT SQL AT ALL`)
	require.Error(t, err)
	rows, err := db.Query(`SELECT v FROM t ORDER BY v`)
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2, 3}, values(t, rows))
	got := cached(t, db)
	assert.False(t, got[`NOT SQL AT ALL`], "what failed to prepare is not kept")
}
