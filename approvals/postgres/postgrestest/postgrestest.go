// Package postgrestest gives tests fresh, empty Postgres databases
// quickly. Migrating lockbot's and River's tables is most of the cost of a
// new store, so it is done once per test binary, into a template database
// that each test's database is created from (CREATE DATABASE … TEMPLATE,
// a file copy on the server).
//
// The server is the one LOCKBOT_TEST_DATABASE_URL names; its user must be
// allowed to create databases. Without the variable the tests that need
// it skip, except under CI=true, where they fail: CI must run them.
package postgrestest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lockbot/lockbot/approvals/postgres"
)

// EnvURL names the variable holding the URL of the server tests use.
const EnvURL = "LOCKBOT_TEST_DATABASE_URL"

// prefix starts the name of every database this package creates, followed
// by its creation time (Unix seconds), so that databases left behind by a
// test binary that was killed can be recognised and dropped later.
const prefix = "lockbot_test_"

// staleAfter is how old a database of this package must be to count as
// left behind: no test binary runs that long.
const staleAfter = 6 * time.Hour

// Server returns the URL of the test server (its maintenance database).
// Without one it skips the test with a one-line reason, or fails it under
// CI=true.
func Server(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("postgrestest: %s is not set; CI must run the Postgres tests (source .ci/postgres.sh)", EnvURL)
		}
		t.Skipf("postgrestest: %s is not set; skipping the Postgres tests", EnvURL)
	}
	return u
}

// withDatabase is base with its database replaced by name.
func withDatabase(base, name string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("postgrestest: %s must be a postgres:// URL", EnvURL)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// admin runs one statement on the server's maintenance database (the one
// the URL names).
func admin(ctx context.Context, base, sql string) error {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	_, err = conn.Exec(ctx, sql)
	return err
}

// newName is a fresh database name.
func newName() string {
	return prefix + strconv.FormatInt(time.Now().Unix(), 10) + "_" + strings.ToLower(rand.Text()[:10])
}

// built says template was asked for, so Main has a template to drop.
var built atomic.Bool

// template is the migrated, empty database, built once per test binary.
var template = sync.OnceValues(func() (string, error) {
	built.Store(true)
	base := os.Getenv(EnvURL)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dropStale(ctx, base)
	name := newName()
	if err := admin(ctx, base, `CREATE DATABASE `+name); err != nil {
		return "", fmt.Errorf("create the template database: %w", err)
	}
	u, err := withDatabase(base, name)
	if err != nil {
		return "", err
	}
	s, err := postgres.Open(ctx, u, postgres.Options{})
	if err != nil {
		return "", fmt.Errorf("migrate the template database: %w", err)
	}
	if err := s.Close(); err != nil {
		return "", err
	}
	return name, nil
})

// dropStale drops the databases of test binaries that died without
// cleaning up. It is best effort: a failure leaves them for next time.
func dropStale(ctx context.Context, base string) {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	rows, err := conn.Query(ctx, `SELECT datname FROM pg_database WHERE datname LIKE $1`, prefix+"%")
	if err != nil {
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return
	}
	for _, name := range names {
		created, _, _ := strings.Cut(strings.TrimPrefix(name, prefix), "_")
		sec, err := strconv.ParseInt(created, 10, 64)
		if err != nil || time.Since(time.Unix(sec, 0)) < staleAfter {
			continue
		}
		_, _ = conn.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`)
	}
}

// URL returns the URL of a new, empty, migrated database for this test,
// dropped when the test ends (stores on it must be closed by then; any
// connection left is cut). It skips the test without a server, unless
// CI=true.
func URL(t testing.TB) string {
	t.Helper()
	base := Server(t)
	tpl, err := template()
	if err != nil {
		t.Fatalf("postgrestest: %v", err)
	}
	name := newName()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := createFrom(ctx, base, name, tpl); err != nil {
		t.Fatalf("postgrestest: create a database: %v", err)
	}
	t.Cleanup(func() { drop(t, base, name) })
	u, err := withDatabase(base, name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Empty is URL without the migration: a database nothing was written to,
// for tests of Open itself.
func Empty(t testing.TB) string {
	t.Helper()
	base := Server(t)
	name := newName()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := admin(ctx, base, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("postgrestest: create a database: %v", err)
	}
	t.Cleanup(func() { drop(t, base, name) })
	u, err := withDatabase(base, name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// createFrom creates name as a copy of tpl. Postgres refuses while a
// session is still on the template (the backend of a store just closed
// can take a moment to exit), so that is tried again for a while.
func createFrom(ctx context.Context, base, name, tpl string) error {
	for {
		err := admin(ctx, base, `CREATE DATABASE `+name+` TEMPLATE `+tpl)
		var pgErr *pgconn.PgError
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "55006" {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// drop removes a test's database, cutting any session still on it.
func drop(t testing.TB, base, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := admin(ctx, base, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
		t.Errorf("postgrestest: drop %s: %v", name, err)
	}
}

// Main runs a test binary's tests (call it from TestMain) and then drops
// the template database. Without it the template is left on the server
// until a later test binary finds it stale.
func Main(m *testing.M) int {
	code := m.Run()
	if !built.Load() {
		return code
	}
	if tpl, err := template(); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = admin(ctx, os.Getenv(EnvURL), `DROP DATABASE IF EXISTS `+tpl+` WITH (FORCE)`)
	}
	return code
}
