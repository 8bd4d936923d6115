package bot

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/bot/cards"
)

// A burst digest stands for many automatic lock reports while more of
// them wait to be posted than Slack's pace clears in Config.DigestAfter
// seconds. Its state is in the store: which digest is open in a channel
// (digestCurrent) and, per digest, when it started, which part of the burst
// it is and whether the burst is over (digestMeta). The reports it stands
// for are posts whose Digest names it.

// digestCurrent is the store value naming the open digest of a channel.
func digestCurrent(channel string) string { return "digest.current." + channel }

// digestMetaKey is the store value describing one digest.
func digestMetaKey(key string) string { return "digest.meta." + key }

// digestMeta describes one digest message.
type digestMeta struct {
	Started    time.Time `json:"started"`
	Part       int       `json:"part"`
	Over       bool      `json:"over"`
	LastAbsorb time.Time `json:"last_absorb"`
}

func loadJSON(tx approvals.Tx, key string, v any) (bool, error) {
	raw, err := tx.Value(key)
	if errors.Is(err, approvals.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, json.Unmarshal(raw, v)
}

func saveJSON(tx approvals.Tx, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.SetValue(key, raw)
}

// digestStep opens a digest when reports back up, moves waiting reports
// into it (a new part every cards.MaxDigestPeople people), and closes it
// once the burst has been quiet for Config.DigestQuiet, after which
// reports are posted one by one again.
func (b *Bot) digestStep(ctx context.Context, channel string) error {
	// Most of the time there is nothing to do: find out without taking
	// the store's write lock.
	idle := false
	if err := b.store.View(ctx, func(tx approvals.Tx) error {
		var cur string
		if _, err := loadJSON(tx, digestCurrent(channel), &cur); err != nil || cur != "" {
			return err
		}
		due, err := tx.Posts(approvals.PostQuery{Channel: channel, Kind: approvals.PostLock, Due: b.now(), Limit: b.cfg.DigestAfter + 1})
		idle = len(due) <= b.cfg.DigestAfter
		return err
	}); err != nil || idle {
		return err
	}
	var opened, closed bool
	err := b.store.Update(ctx, func(tx approvals.Tx) error {
		opened, closed = false, false
		now := b.now()
		due, err := tx.Posts(approvals.PostQuery{Channel: channel, Kind: approvals.PostLock, Due: now})
		if err != nil {
			return err
		}
		var waiting []approvals.Post
		for _, p := range due {
			if p.TS == "" {
				waiting = append(waiting, p)
			}
		}
		var cur string
		if _, err := loadJSON(tx, digestCurrent(channel), &cur); err != nil {
			return err
		}
		if cur == "" && len(waiting) <= b.cfg.DigestAfter {
			return nil
		}
		var meta digestMeta
		if cur == "" {
			cur, meta = approvals.PostKey(approvals.PostDigest, approvals.NewID()), digestMeta{Started: now, Part: 1}
			opened = true
		} else if _, err := loadJSON(tx, digestMetaKey(cur), &meta); err != nil {
			return err
		}
		members, err := tx.Posts(approvals.PostQuery{Digest: cur})
		if err != nil {
			return err
		}
		n := len(members)
		for _, p := range waiting {
			if n >= cards.MaxDigestPeople {
				// This part is full: it stays as it is, and the next part
				// takes the rest of the burst.
				meta.Over = true
				if err := saveJSON(tx, digestMetaKey(cur), meta); err != nil {
					return err
				}
				if err := approvals.Touch(tx, cur, channel, approvals.PriorityNormal, now); err != nil {
					return err
				}
				cur, meta, n = approvals.PostKey(approvals.PostDigest, approvals.NewID()), digestMeta{Started: meta.Started, Part: meta.Part + 1}, 0
			}
			p.Digest = cur
			if err := tx.PutPost(p); err != nil {
				return err
			}
			n++
			meta.LastAbsorb = now
		}
		if len(waiting) == 0 && now.Sub(meta.LastAbsorb) >= b.cfg.DigestQuiet {
			live, err := tx.CountLocks(approvals.LockQuery{Live: true})
			if err != nil {
				return err
			}
			if live == 0 {
				meta.Over, closed = true, true
			}
		}
		if len(waiting) > 0 || closed || opened {
			if err := approvals.Touch(tx, cur, channel, approvals.PriorityNormal, now); err != nil {
				return err
			}
		}
		if err := saveJSON(tx, digestMetaKey(cur), meta); err != nil {
			return err
		}
		next := cur
		if closed {
			next = ""
		}
		return saveJSON(tx, digestCurrent(channel), next)
	})
	if err != nil {
		return err
	}
	if opened {
		b.metrics.DigestActive(true)
		b.log.Info("automatic locks are arriving faster than Slack takes messages; posting a burst digest", "channel", channel)
	}
	if closed {
		b.metrics.DigestActive(false)
		b.log.Info("burst over; individual lock reports resume", "channel", channel)
	}
	return nil
}

// digestView is what digest post p shows now.
func (b *Bot) digestView(tx approvals.Tx, p approvals.Post) (cards.Digest, error) {
	var meta digestMeta
	if _, err := loadJSON(tx, digestMetaKey(p.Key), &meta); err != nil {
		return cards.Digest{}, err
	}
	members, err := tx.Posts(approvals.PostQuery{Digest: p.Key})
	if err != nil {
		return cards.Digest{}, err
	}
	v := cards.Digest{Started: meta.Started, Over: meta.Over, Part: meta.Part, Command: b.cfg.Command, DryRun: b.cfg.DryRun}
	for _, m := range members {
		j, err := tx.Lock(m.Ref)
		if errors.Is(err, approvals.ErrNotFound) {
			continue
		}
		if err != nil {
			return cards.Digest{}, err
		}
		t := j.Tally()
		dp := cards.DigestPerson{LockID: j.ID, Email: j.Target(), Secured: t.Secured, Total: t.Total,
			MacPINs: j.HasMacSecured(), Final: j.State.Final()}
		for _, d := range j.Devices {
			if d.Outcome.Bad() {
				dp.Failure = d.Name + ": " + d.Detail
				break
			}
		}
		if !dp.Final {
			v.Queued++
		}
		v.People = append(v.People, dp)
	}
	if !meta.Over {
		live, err := tx.CountLocks(approvals.LockQuery{Live: true})
		if err != nil {
			return cards.Digest{}, err
		}
		v.Queued = max(v.Queued, live)
	}
	return v, nil
}
