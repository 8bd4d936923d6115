package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/approvals/internal/rivertask"
)

// maxTries bounds the runs of one Update that keeps losing deadlocks.
const maxTries = 20

// Update implements approvals.Store. It runs in READ COMMITTED and locks
// every record it reads (see tx.lockClause), which gives the contract's
// "a record read stays locked until the end" without the false conflicts
// of SERIALIZABLE on the posts and locks queries. When Postgres breaks a
// deadlock between two Updates, the loser's fn runs again. Urgent needs
// no queue here: each Update has a connection of its own from the pool,
// so one under approvals.Urgent waits only for the records it reads.
func (s *Store) Update(ctx context.Context, fn func(approvals.Tx) error) error {
	return s.run(ctx, false, fn)
}

// View implements approvals.Store: a REPEATABLE READ, READ ONLY
// transaction, so every read inside it sees one state.
func (s *Store) View(ctx context.Context, fn func(approvals.Tx) error) error {
	return s.run(ctx, true, fn)
}

func (s *Store) run(ctx context.Context, readOnly bool, fn func(approvals.Tx) error) error {
	for attempt := 1; ; attempt++ {
		conflict, err := s.runOnce(ctx, readOnly, fn)
		if !conflict || attempt == maxTries || ctx.Err() != nil {
			return err
		}
		// A short random wait, so the two that deadlocked do not meet
		// again at once.
		t := time.NewTimer(time.Duration(1+rand.IntN(5*attempt)) * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// runOnce runs fn in one transaction; conflict says it failed only
// because it met another, and may be run again.
func (s *Store) runOnce(ctx context.Context, readOnly bool, fn func(approvals.Tx) error) (conflict bool, err error) {
	if s.closed.Load() {
		return false, errClosed
	}
	opts := pgx.TxOptions{IsoLevel: pgx.ReadCommitted, AccessMode: pgx.ReadWrite}
	if readOnly {
		opts = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	}
	pgTx, err := s.pool.BeginTx(ctx, opts)
	if err != nil {
		return false, fmt.Errorf("postgres: begin: %w", err)
	}
	defer func() { _ = pgTx.Rollback(context.WithoutCancel(ctx)) }()
	t := &tx{s: s, ctx: ctx, tx: pgTx, readOnly: readOnly}
	if err := fn(t); err != nil {
		// A conflict that fn saw but did not return (it went on, and the
		// aborted transaction failed it later) still calls for a rerun.
		return t.conflict || isConflict(err), err
	}
	if readOnly {
		return false, nil
	}
	if err := t.insertTasks(); err != nil {
		return t.conflict, err
	}
	if t.wrote {
		// The other replicas' Changed hear of it at commit.
		if _, err := pgTx.Exec(ctx, `SELECT pg_notify($1, $2)`, changedChannel, s.id); err != nil {
			return false, fmt.Errorf("postgres: %w", err)
		}
	}
	if err := pgTx.Commit(ctx); err != nil {
		return isConflict(err), fmt.Errorf("postgres: commit to %s: %w", s.name, err)
	}
	s.committed()
	return false, nil
}

// isConflict reports whether err is a deadlock or serialization failure,
// after which the transaction may be run again.
func isConflict(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// tx is one transaction.
type tx struct {
	s        *Store
	ctx      context.Context
	tx       pgx.Tx
	readOnly bool
	wrote    bool
	conflict bool            // a statement failed for a deadlock
	tasks    rivertask.Batch // enqueued, inserted at commit
}

var _ approvals.Tx = (*tx)(nil)

// errReadOnly refuses a write inside View.
var errReadOnly = errors.New("postgres: write in a read-only transaction")

// fail wraps a database error, noting a conflict.
func (t *tx) fail(err error) error {
	if isConflict(err) {
		t.conflict = true
	}
	return fmt.Errorf("postgres: %w", err)
}

func (t *tx) exec(query string, args ...any) (pgconn.CommandTag, error) {
	if t.readOnly {
		return pgconn.CommandTag{}, errReadOnly
	}
	t.wrote = true
	tag, err := t.tx.Exec(t.ctx, query, args...)
	if err != nil {
		return tag, t.fail(err)
	}
	return tag, nil
}

// lockClause makes the reads of Update lock what they read, so that two
// Updates reading one record run one after the other on any replica. The
// journal is never changed and is read without it. View reads a snapshot
// and locks nothing.
func (t *tx) lockClause() string {
	if t.readOnly {
		return ""
	}
	return " FOR UPDATE"
}

// lockKey takes the transaction-scoped advisory lock named key.
func (t *tx) lockKey(key string) error {
	if _, err := t.tx.Exec(t.ctx, `SELECT pg_advisory_xact_lock($1)`, keyHash(key)); err != nil {
		return t.fail(err)
	}
	return nil
}

// keyHash is a 64-bit name of key in the advisory lock space. River uses
// advisory locks only on a path lockbot does not take, and migrateLock is
// one fixed value: a collision costs a wait, never correctness.
func keyHash(key string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return int64(h.Sum64())
}

// get reads column col of the row of table whose keyCol is key, or
// reports approvals.ErrNotFound. Inside Update a key found missing is
// locked and read again, so that two Updates that both find it missing
// (and would both create it) also run one after the other: the second
// sees what the first created.
func (t *tx) get(table, col, keyCol, key string) ([]byte, error) {
	query := `SELECT ` + col + ` FROM ` + table + ` WHERE ` + keyCol + ` = $1` + t.lockClause()
	var v []byte
	err := t.tx.QueryRow(t.ctx, query, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) && !t.readOnly {
		if err := t.lockKey("missing:" + table + ":" + key); err != nil {
			return nil, err
		}
		err = t.tx.QueryRow(t.ctx, query, key).Scan(&v)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, approvals.ErrNotFound
	}
	if err != nil {
		return nil, t.fail(err)
	}
	return v, nil
}

// one decodes the body of the row of table whose keyCol is key into v.
func (t *tx) one(v any, table, keyCol, key string) error {
	body, err := t.get(table, "body", keyCol, key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("postgres: a record in %s of %s does not decode: %w", table, t.s.name, err)
	}
	return nil
}

// all reads the bodies of rows, decoding each.
func all[T any](t *tx, query string, args ...any) ([]T, error) {
	rows, err := t.tx.Query(t.ctx, query, args...)
	if err != nil {
		return nil, t.fail(err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			return nil, t.fail(err)
		}
		var v T
		if err := json.Unmarshal(body, &v); err != nil {
			return nil, fmt.Errorf("postgres: a record of %s does not decode: %w", t.s.name, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, t.fail(err)
	}
	return out, nil
}

// where gathers the conditions of a query and numbers their parameters.
type where struct {
	conds []string
	args  []any
}

// add appends cond, whose "?" stands for arg.
func (w *where) add(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, strings.Replace(cond, "?", "$"+strconv.Itoa(len(w.args)), 1))
}

// addBare appends a condition without a parameter.
func (w *where) addBare(cond string) { w.conds = append(w.conds, cond) }

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// limit is the LIMIT clause of "at most n, or all" as the next
// parameter (LIMIT NULL is no limit).
func (w *where) limit(n int) string {
	if n <= 0 {
		w.args = append(w.args, nil)
	} else {
		w.args = append(w.args, n)
	}
	return " LIMIT $" + strconv.Itoa(len(w.args))
}

// Request implements approvals.Tx.
func (t *tx) Request(id string) (approvals.Request, error) {
	var r approvals.Request
	err := t.one(&r, "lockbot_requests", "id", id)
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
	_, err = t.exec(`INSERT INTO lockbot_requests (id, state, created, body) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET state = excluded.state, body = excluded.body`, r.ID, string(r.State), r.Created, body)
	return err
}

// Requests implements approvals.Tx.
func (t *tx) Requests(state approvals.State, limit int) ([]approvals.Request, error) {
	var w where
	w.add("state = ?", string(state))
	return all[approvals.Request](t, `SELECT body FROM lockbot_requests`+w.String()+` ORDER BY created, id`+w.limit(limit)+t.lockClause(), w.args...)
}

// Lock implements approvals.Tx.
func (t *tx) Lock(id string) (approvals.LockJob, error) {
	var j approvals.LockJob
	err := t.one(&j, "lockbot_locks", "id", id)
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
	_, err = t.exec(`INSERT INTO lockbot_locks (id, key, live, looked_up, request_id, created, body) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (id) DO UPDATE SET key = excluded.key, live = excluded.live, looked_up = excluded.looked_up,
			request_id = excluded.request_id, body = excluded.body`,
		j.ID, j.Key, !j.State.Final(), j.LookedUp, j.RequestID, j.Created, body)
	return err
}

// lockWhere turns q into conditions.
func lockWhere(q approvals.LockQuery) *where {
	w := &where{}
	if q.Key != "" {
		w.add("key = ?", q.Key)
	}
	if !q.Since.IsZero() {
		w.add("created >= ?", q.Since)
	}
	if q.Live || q.LookingUp {
		w.addBare("live")
	}
	if q.LookingUp {
		w.addBare("NOT looked_up")
	}
	if q.RequestID != "" {
		w.add("request_id = ?", q.RequestID)
	}
	return w
}

// Locks implements approvals.Tx.
func (t *tx) Locks(q approvals.LockQuery) ([]approvals.LockJob, error) {
	w := lockWhere(q)
	return all[approvals.LockJob](t, `SELECT body FROM lockbot_locks`+w.String()+` ORDER BY created, id`+w.limit(q.Limit)+t.lockClause(), w.args...)
}

// CountLocks implements approvals.Tx. A count locks nothing (Postgres
// cannot lock the rows of an aggregate); a check that must not race
// serializes on a key instead.
func (t *tx) CountLocks(q approvals.LockQuery) (int, error) {
	w := lockWhere(q)
	var n int
	if err := t.tx.QueryRow(t.ctx, `SELECT count(*) FROM lockbot_locks`+w.String(), w.args...).Scan(&n); err != nil {
		return 0, t.fail(err)
	}
	if q.Limit > 0 {
		n = min(n, q.Limit)
	}
	return n, nil
}

// AdmitTrigger implements approvals.Tx: one INSERT … ON CONFLICT DO
// NOTHING, so of replicas admitting one event at once exactly one sees it
// new (the others wait for its commit, then find it).
func (t *tx) AdmitTrigger(tr approvals.Trigger) (bool, error) {
	if tr.ID == "" {
		return false, fmt.Errorf("%w: a trigger needs an ID", approvals.ErrInvalid)
	}
	body, err := json.Marshal(tr)
	if err != nil {
		return false, err
	}
	tag, err := t.exec(`INSERT INTO lockbot_triggers (id, admitted, body) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`, tr.ID, tr.Admitted, body)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// Trigger implements approvals.Tx.
func (t *tx) Trigger(id string) (approvals.Trigger, error) {
	var tr approvals.Trigger
	err := t.one(&tr, "lockbot_triggers", "id", id)
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
	_, err = t.exec(`INSERT INTO lockbot_triggers (id, admitted, body) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET body = excluded.body`,
		tr.ID, tr.Admitted, body)
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
// River's insert notifies the workers of every replica at commit.
func (t *tx) insertTasks() error {
	if len(t.tasks) == 0 {
		return nil
	}
	t.wrote = true
	if _, err := t.s.river.Load().InsertManyTx(t.ctx, t.tx, t.tasks); err != nil {
		if isConflict(err) {
			t.conflict = true
		}
		return fmt.Errorf("postgres: enqueue %d tasks: %w", len(t.tasks), err)
	}
	return nil
}

// Value implements approvals.Tx.
func (t *tx) Value(key string) ([]byte, error) {
	return t.get("lockbot_kv", "value", "key", key)
}

// SetValue implements approvals.Tx.
func (t *tx) SetValue(key string, v []byte) error {
	if v == nil {
		v = []byte{}
	}
	_, err := t.exec(`INSERT INTO lockbot_kv (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, v)
	return err
}

// Serialize implements approvals.Tx with an advisory lock held to the end
// of the transaction, which every replica's transactions share.
func (t *tx) Serialize(key string) error {
	return t.lockKey("serialize:" + key)
}
