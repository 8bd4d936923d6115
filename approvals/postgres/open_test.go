package postgres_test

import (
	"context"
	"net"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/approvals/postgres"
	"github.com/lockbot/lockbot/approvals/postgres/postgrestest"
)

// query runs one statement on the database at url, for checks the Store
// does not expose.
func query(t *testing.T, url, sql string, args ...any) pgx.Row {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn.QueryRow(t.Context(), sql, args...)
}

// exec runs statements on the database at url.
func exec(t *testing.T, url, sql string, args ...any) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	defer func() { _ = conn.Close(context.Background()) }()
	_, err = conn.Exec(t.Context(), sql, args...)
	require.NoError(t, err)
}

// TestConcurrentOpen starts four replicas at once on a database nothing
// was written to: the advisory lock lets one migrate while the others
// wait, so all succeed and the schema is created once (a second run of a
// migration's CREATE TABLE would fail its Open).
func TestConcurrentOpen(t *testing.T) {
	url := postgrestest.Empty(t)
	const replicas = 4
	stores := make([]*postgres.Store, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() { stores[i], errs[i] = postgres.Open(t.Context(), url, testOptions()) })
	}
	wg.Wait()
	for i := range replicas {
		require.NoError(t, errs[i], "replica %d", i)
		t.Cleanup(func() { _ = stores[i].Close() })
	}
	var version string
	require.NoError(t, query(t, url, `SELECT value FROM lockbot_meta WHERE key = 'schema_version'`).Scan(&version))
	assert.Equal(t, strconv.Itoa(postgres.SchemaVersion), version)
	var rows, versions int
	require.NoError(t, query(t, url, `SELECT count(*), count(DISTINCT version) FROM river_migration`).Scan(&rows, &versions))
	assert.Positive(t, rows)
	assert.Equal(t, versions, rows, "each of River's migrations applied once")
	// And the replicas share one store.
	require.NoError(t, stores[0].Update(t.Context(), func(tx approvals.Tx) error {
		return tx.SetValue("k", []byte("from 0"))
	}))
	require.NoError(t, stores[replicas-1].View(t.Context(), func(tx approvals.Tx) error {
		v, err := tx.Value("k")
		assert.Equal(t, "from 0", string(v))
		return err
	}))
	info, err := stores[0].Describe(t.Context())
	require.NoError(t, err)
	assert.Len(t, info.Replicas, replicas)
	for _, r := range info.Replicas {
		assert.True(t, r.Alive, "replica %s", r.ID)
	}
	assert.Equal(t, postgres.SchemaVersion, info.SchemaVersion)
	assert.Contains(t, info.ServerVersion, ".")
	assert.Equal(t, stores[0].ID(), info.Replica)
}

// TestCloseStopsEverything: Close waits for the goroutines the store
// started (heartbeat, listener) and removes the replica's heartbeat.
func TestCloseStopsEverything(t *testing.T) {
	url := postgrestest.URL(t)
	other := open(t, url, testOptions())
	defer other.Close()
	require.NoError(t, other.Ping(t.Context()))
	before := runtime.NumGoroutine()
	for range 3 {
		s := open(t, url, testOptions())
		require.NoError(t, s.Ping(t.Context()))
		require.NoError(t, s.Close())
	}
	// A closed pool's connections end just after Close returns; the
	// heartbeat and the listener before.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before, "nothing of the closed stores is left running")
	info, err := other.Describe(t.Context())
	require.NoError(t, err)
	require.Len(t, info.Replicas, 1, "closed replicas removed their heartbeats")
	assert.Equal(t, other.ID(), info.Replicas[0].ID)
}

// TestRefusesNewerSchema: a database migrated by a newer lockbot is not
// opened, and the error says why.
func TestRefusesNewerSchema(t *testing.T) {
	url := postgrestest.URL(t)
	exec(t, url, `UPDATE lockbot_meta SET value = $1 WHERE key = 'schema_version'`, strconv.Itoa(postgres.SchemaVersion+1))
	_, err := postgres.Open(t.Context(), url, testOptions())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "written by a newer lockbot")
	assert.Contains(t, err.Error(), "schema "+strconv.Itoa(postgres.SchemaVersion+1))
}

// TestOpenUnreachable: a server that is not there fails Open quickly,
// naming it.
func TestOpenUnreachable(t *testing.T) {
	postgrestest.Server(t) // skips without a server, like the rest
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err = postgres.Open(ctx, "postgres://lockbot@"+addr+"/nowhere?sslmode=disable", testOptions())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "/nowhere")
}

// TestPing: Ping writes, so it fails once the database cannot be
// reached, and works again when it can; after Close it fails.
func TestPing(t *testing.T) {
	url := postgrestest.URL(t)
	p, through := newProxy(t, url)
	s := open(t, through, testOptions())
	require.NoError(t, s.Ping(t.Context()))
	p.Cut()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err := s.Ping(ctx)
	require.Error(t, err, "a store cut off from its database does not answer Ping")
	assert.Contains(t, err.Error(), "cannot be written")
	assert.NoError(t, ctx.Err(), "and says so at once, without waiting for the deadline")
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")
	assert.Error(t, s.Ping(t.Context()))

	// Ping is a write: a database that answers reads but refuses writes
	// fails it.
	direct := open(t, url, testOptions())
	defer direct.Close()
	require.NoError(t, direct.Ping(t.Context()))
	exec(t, url, `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no room'; END $$;
		CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON lockbot_replicas FOR EACH ROW EXECUTE FUNCTION refuse()`)
	assert.ErrorContains(t, direct.Ping(t.Context()), "no room")
	assert.NoError(t, direct.View(t.Context(), func(tx approvals.Tx) error {
		_, err := tx.Records(approvals.Filter{}, 1)
		return err
	}), "while reads still work")
}
