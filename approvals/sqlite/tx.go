package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/approvals/internal/rivertask"
)

// Update implements approvals.Store. SQLite has one writer, and this store
// one connection, so transactions never conflict and fn runs once.
func (s *Store) Update(ctx context.Context, fn func(approvals.Tx) error) error {
	return s.run(ctx, false, fn)
}

// View implements approvals.Store.
func (s *Store) View(ctx context.Context, fn func(approvals.Tx) error) error {
	return s.run(ctx, true, fn)
}

func (s *Store) run(ctx context.Context, readOnly bool, fn func(approvals.Tx) error) error {
	if s.closed.Load() {
		return errClosed
	}
	if s.readOnly && !readOnly {
		return fmt.Errorf("sqlite: %s was opened for reading only", s.name())
	}
	db := s.db
	if readOnly && s.rdb != nil {
		db = s.rdb
	}
	if !readOnly {
		if err := s.gate.acquire(ctx, approvals.IsUrgent(ctx)); err != nil {
			return fmt.Errorf("sqlite: wait to write: %w", err)
		}
		defer s.gate.release()
	}
	sqlTx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer func() { _ = sqlTx.Rollback() }()
	t := &tx{s: s, ctx: ctx, tx: sqlTx, readOnly: readOnly}
	if err := fn(t); err != nil {
		return err
	}
	if readOnly {
		return nil
	}
	if err := t.insertTasks(); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit to %s: %w", s.name(), err)
	}
	s.committed()
	return nil
}

// tx is one transaction.
type tx struct {
	s        *Store
	ctx      context.Context
	tx       *sql.Tx
	readOnly bool
	tasks    rivertask.Batch // enqueued, inserted at commit
}

var _ approvals.Tx = (*tx)(nil)

// errReadOnly refuses a write inside View.
var errReadOnly = errors.New("sqlite: write in a read-only transaction")

func (t *tx) exec(query string, args ...any) (sql.Result, error) {
	if t.readOnly {
		return nil, errReadOnly
	}
	res, err := t.tx.ExecContext(t.ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return res, nil
}

// one reads the body of one row into v, or reports approvals.ErrNotFound.
func (t *tx) one(v any, query string, args ...any) error {
	var body []byte
	err := t.tx.QueryRowContext(t.ctx, query, args...).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return approvals.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("sqlite: a record in %s does not decode: %w", t.s.name(), err)
	}
	return nil
}

// all reads the bodies of rows, decoding each with decode.
func all[T any](t *tx, query string, args ...any) ([]T, error) {
	rows, err := t.tx.QueryContext(t.ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
		var v T
		if err := json.Unmarshal(body, &v); err != nil {
			return nil, fmt.Errorf("sqlite: a record in %s does not decode: %w", t.s.name(), err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return out, nil
}

// stamp formats t so that text order is time order.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z") }

// limitOf is SQLite's LIMIT for "at most n, or all".
func limitOf(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Request implements approvals.Tx.
func (t *tx) Request(id string) (approvals.Request, error) {
	var r approvals.Request
	err := t.one(&r, `SELECT body FROM requests WHERE id = ?`, id)
	return r, err
}

// PutRequest implements approvals.Tx.
func (t *tx) PutRequest(r approvals.Request) error {
	if r.ID == "" || !r.State.Valid() {
		return fmt.Errorf("%w: a request needs an ID and a known state", approvals.ErrInvalid)
	}
	body, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO requests(id, state, created, body) VALUES(?, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET state = excluded.state, body = excluded.body`, r.ID, string(r.State), stamp(r.Created), body)
	return err
}

// Requests implements approvals.Tx.
func (t *tx) Requests(state approvals.State, limit int) ([]approvals.Request, error) {
	return all[approvals.Request](t, `SELECT body FROM requests WHERE state = ? ORDER BY created, id LIMIT ?`, string(state), limitOf(limit))
}

// Lock implements approvals.Tx.
func (t *tx) Lock(id string) (approvals.LockJob, error) {
	var j approvals.LockJob
	err := t.one(&j, `SELECT body FROM locks WHERE id = ?`, id)
	return j, err
}

// PutLock implements approvals.Tx.
func (t *tx) PutLock(j approvals.LockJob) error {
	if j.ID == "" || !j.State.Valid() {
		return fmt.Errorf("%w: a lock job needs an ID and a known state", approvals.ErrInvalid)
	}
	body, err := json.Marshal(j)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO locks(id, key, live, looked_up, request_id, created, body) VALUES(?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET key = excluded.key, live = excluded.live, looked_up = excluded.looked_up,
			request_id = excluded.request_id, body = excluded.body`,
		j.ID, j.Key, flag(!j.State.Final()), flag(j.LookedUp), j.RequestID, stamp(j.Created), body)
	return err
}

// lockWhere turns q into a WHERE clause and its arguments.
func lockWhere(q approvals.LockQuery) (string, []any) {
	var conds []string
	var args []any
	if q.Key != "" {
		conds, args = append(conds, "key = ?"), append(args, q.Key)
	}
	if !q.Since.IsZero() {
		conds, args = append(conds, "created >= ?"), append(args, stamp(q.Since))
	}
	if q.Live || q.LookingUp {
		conds = append(conds, "live = 1")
	}
	if q.LookingUp {
		conds = append(conds, "looked_up = 0")
	}
	if q.RequestID != "" {
		conds, args = append(conds, "request_id = ?"), append(args, q.RequestID)
	}
	if len(conds) == 0 {
		return "", args
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// Locks implements approvals.Tx.
func (t *tx) Locks(q approvals.LockQuery) ([]approvals.LockJob, error) {
	where, args := lockWhere(q)
	return all[approvals.LockJob](t, `SELECT body FROM locks`+where+` ORDER BY created, id LIMIT ?`, append(args, limitOf(q.Limit))...)
}

// CountLocks implements approvals.Tx.
func (t *tx) CountLocks(q approvals.LockQuery) (int, error) {
	where, args := lockWhere(q)
	var n int
	if err := t.tx.QueryRowContext(t.ctx, `SELECT count(*) FROM locks`+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: %w", err)
	}
	if q.Limit > 0 {
		n = min(n, q.Limit)
	}
	return n, nil
}

// AdmitTrigger implements approvals.Tx.
func (t *tx) AdmitTrigger(tr approvals.Trigger) (bool, error) {
	if tr.ID == "" {
		return false, fmt.Errorf("%w: a trigger needs an ID", approvals.ErrInvalid)
	}
	body, err := json.Marshal(tr)
	if err != nil {
		return false, err
	}
	res, err := t.exec(`INSERT INTO triggers(id, admitted, body) VALUES(?, ?, ?) ON CONFLICT(id) DO NOTHING`, tr.ID, stamp(tr.Admitted), body)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Trigger implements approvals.Tx.
func (t *tx) Trigger(id string) (approvals.Trigger, error) {
	var tr approvals.Trigger
	err := t.one(&tr, `SELECT body FROM triggers WHERE id = ?`, id)
	return tr, err
}

// PutTrigger implements approvals.Tx.
func (t *tx) PutTrigger(tr approvals.Trigger) error {
	if tr.ID == "" {
		return fmt.Errorf("%w: a trigger needs an ID", approvals.ErrInvalid)
	}
	body, err := json.Marshal(tr)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO triggers(id, admitted, body) VALUES(?, ?, ?) ON CONFLICT(id) DO UPDATE SET body = excluded.body`,
		tr.ID, stamp(tr.Admitted), body)
	return err
}

// Enqueue implements approvals.Tx.
func (t *tx) Enqueue(task approvals.Task) error {
	if t.readOnly {
		return errReadOnly
	}
	return t.tasks.Add(task)
}

// insertTasks inserts the tasks Enqueue gathered, in the transaction.
func (t *tx) insertTasks() error {
	if len(t.tasks) == 0 {
		return nil
	}
	if _, err := t.s.river.Load().InsertManyTx(t.ctx, t.tx, t.tasks); err != nil {
		return fmt.Errorf("sqlite: enqueue %d tasks: %w", len(t.tasks), err)
	}
	return nil
}

// Value implements approvals.Tx.
func (t *tx) Value(key string) ([]byte, error) {
	var v []byte
	err := t.tx.QueryRowContext(t.ctx, `SELECT value FROM kv WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, approvals.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return v, nil
}

// SetValue implements approvals.Tx.
func (t *tx) SetValue(key string, v []byte) error {
	_, err := t.exec(`INSERT INTO kv(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`, key, v)
	return err
}

// Serialize implements approvals.Tx. SQLite runs one writing transaction
// at a time, so every transaction already waits for the others.
func (t *tx) Serialize(string) error { return nil }
