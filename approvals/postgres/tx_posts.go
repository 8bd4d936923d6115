package postgres

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/lockbot/lockbot/approvals"
)

// Post implements approvals.Tx.
func (t *tx) Post(key string) (approvals.Post, error) {
	var p approvals.Post
	err := t.one(&p, "lockbot_posts", "key", key)
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
	_, err = t.exec(`INSERT INTO lockbot_posts (key, channel, kind, priority, queued, pending, next_try, digest, body)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (key) DO UPDATE SET channel = excluded.channel, kind = excluded.kind, priority = excluded.priority,
			queued = excluded.queued, pending = excluded.pending, next_try = excluded.next_try, digest = excluded.digest, body = excluded.body`,
		p.Key, p.Channel, p.Kind, p.Priority, p.QueuedAt(), pending, p.NextTry, p.Digest, body)
	return err
}

// Posts implements approvals.Tx.
func (t *tx) Posts(q approvals.PostQuery) ([]approvals.Post, error) {
	var w where
	if q.Channel != "" {
		w.add("channel = ?", q.Channel)
	}
	if q.Kind != "" {
		w.add("kind = ?", q.Kind)
	}
	if !q.Due.IsZero() {
		w.add("pending AND next_try <= ?", q.Due)
	}
	if q.Digest != "" {
		w.add("digest = ?", q.Digest)
	}
	return all[approvals.Post](t, `SELECT body FROM lockbot_posts`+w.String()+` ORDER BY priority, queued, key`+w.limit(q.Limit)+t.lockClause(), w.args...)
}

// Once implements approvals.Tx: one statement, atomic across replicas. A
// key whose time ran out counts as new.
func (t *tx) Once(key string, until time.Time) (bool, error) {
	tag, err := t.exec(`INSERT INTO lockbot_seen (key, until) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET until = excluded.until WHERE lockbot_seen.until < $3`, key, until, t.s.opts.Now())
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
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
	_, err = t.exec(`INSERT INTO lockbot_journal (time, kind, id, target_key, body) VALUES ($1, $2, $3, $4, $5)`,
		r.Time, string(r.Kind), r.ID, approvals.EmailKey(r.Target), body)
	return err
}

// Records implements approvals.Tx. Records never change, so they are read
// without locks even inside Update.
func (t *tx) Records(f approvals.Filter, limit int) ([]approvals.Record, error) {
	var w where
	if !f.Since.IsZero() {
		w.add("time >= ?", f.Since)
	}
	if !f.Until.IsZero() {
		w.add("time < ?", f.Until)
	}
	if len(f.Kinds) > 0 {
		kinds := make([]string, len(f.Kinds))
		for i, k := range f.Kinds {
			kinds[i] = string(k)
		}
		w.add("kind = ANY(?)", kinds)
	}
	if f.Target != "" {
		w.add("target_key = ?", approvals.EmailKey(f.Target))
	}
	if f.ID != "" {
		w.add("id = ?", f.ID)
	}
	return all[approvals.Record](t, `SELECT body FROM lockbot_journal`+w.String()+` ORDER BY seq`+w.limit(limit), w.args...)
}
