package sqlite

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/lockbot/lockbot/approvals"
)

// Post implements approvals.Tx.
func (t *tx) Post(key string) (approvals.Post, error) {
	var p approvals.Post
	err := t.one(&p, `SELECT body FROM posts WHERE key = ?`, key)
	return p, err
}

// PutPost implements approvals.Tx.
func (t *tx) PutPost(p approvals.Post) error {
	if p.Key == "" || p.Channel == "" {
		return fmt.Errorf("%w: a post needs a key and a channel", approvals.ErrInvalid)
	}
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	pending := !p.Done && p.Digest == "" && p.Rev > p.PostedRev
	_, err = t.exec(`INSERT INTO posts(key, channel, kind, priority, queued, pending, next_try, digest, body) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(key) DO UPDATE SET channel = excluded.channel, kind = excluded.kind, priority = excluded.priority,
			queued = excluded.queued, pending = excluded.pending, next_try = excluded.next_try, digest = excluded.digest, body = excluded.body`,
		p.Key, p.Channel, p.Kind, p.Priority, stamp(p.QueuedAt()), flag(pending), stamp(p.NextTry), p.Digest, body)
	return err
}

// Posts implements approvals.Tx.
func (t *tx) Posts(q approvals.PostQuery) ([]approvals.Post, error) {
	var conds []string
	var args []any
	if q.Channel != "" {
		conds, args = append(conds, "channel = ?"), append(args, q.Channel)
	}
	if q.Kind != "" {
		conds, args = append(conds, "kind = ?"), append(args, q.Kind)
	}
	if !q.Due.IsZero() {
		conds, args = append(conds, "pending = 1 AND next_try <= ?"), append(args, stamp(q.Due))
	}
	if q.Digest != "" {
		conds, args = append(conds, "digest = ?"), append(args, q.Digest)
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	return all[approvals.Post](t, `SELECT body FROM posts`+where+` ORDER BY priority, queued, key LIMIT ?`, append(args, limitOf(q.Limit))...)
}

// Once implements approvals.Tx. A key whose time ran out counts as new.
func (t *tx) Once(key string, until time.Time) (bool, error) {
	res, err := t.exec(`INSERT INTO seen(key, until) VALUES(?, ?)
		ON CONFLICT(key) DO UPDATE SET until = excluded.until WHERE seen.until < ?`, key, stamp(until), stamp(t.s.now()))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Append implements approvals.Tx.
func (t *tx) Append(r approvals.Record) error {
	if err := r.Check(); err != nil {
		return err
	}
	r.Time = r.Time.UTC()
	body, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO journal(time, kind, id, target_key, body) VALUES(?, ?, ?, ?, ?)`,
		stamp(r.Time), string(r.Kind), r.ID, approvals.EmailKey(r.Target), body)
	return err
}

// Records implements approvals.Tx.
func (t *tx) Records(f approvals.Filter, limit int) ([]approvals.Record, error) {
	var conds []string
	var args []any
	if !f.Since.IsZero() {
		conds, args = append(conds, "time >= ?"), append(args, stamp(f.Since))
	}
	if !f.Until.IsZero() {
		conds, args = append(conds, "time < ?"), append(args, stamp(f.Until))
	}
	if len(f.Kinds) > 0 {
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(f.Kinds)), ", ")
		conds = append(conds, "kind IN ("+marks+")")
		for _, k := range f.Kinds {
			args = append(args, string(k))
		}
	}
	if f.Target != "" {
		conds, args = append(conds, "target_key = ?"), append(args, approvals.EmailKey(f.Target))
	}
	if f.ID != "" {
		conds, args = append(conds, "id = ?"), append(args, f.ID)
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	return all[approvals.Record](t, `SELECT body FROM journal`+where+` ORDER BY seq LIMIT ?`, append(args, limitOf(limit))...)
}
