package approvals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Budget is a rate budget kept in the store, so that every replica on it
// spends from one allowance: KANDJI_RATE_LIMIT is what all of them
// together send, bursts included, not what each may send. It is a
// generic cell rate algorithm (a token bucket kept as one timestamp, the
// theoretical arrival time of the next request) updated in one serialized
// transaction per token.
//
// Replicas compare against their own clocks, so their clocks must agree
// (NTP keeps them within milliseconds; a budget of 20 requests a second
// spaces them 50 ms apart).
type Budget struct {
	store     Store
	key       string
	interval  time.Duration // between tokens
	tolerance time.Duration // how far ahead of schedule a burst may run
	now       func() time.Time
}

// budgetState is the value kept in the store.
type budgetState struct {
	// TAT is when the next token is due if none is spent before it.
	TAT time.Time `json:"tat"`
}

// NewBudget is the budget called name in s: perHour tokens an hour, with
// bursts of at most one second's worth (at least one), as a local limiter
// of the same rate allows. now is the clock (nil: time.Now).
func NewBudget(s Store, name string, perHour int, now func() time.Time) (*Budget, error) {
	if perHour <= 0 {
		return nil, fmt.Errorf("%w: a budget of %d an hour", ErrInvalid, perHour)
	}
	if now == nil {
		now = time.Now
	}
	interval := time.Hour / time.Duration(perHour)
	burst := max(1, (perHour+3599)/3600)
	return &Budget{store: s, key: "budget:" + name, interval: interval,
		tolerance: time.Duration(burst-1) * interval, now: now}, nil
}

// Reserve takes one token and returns how long the caller must wait
// before spending it. The token is taken whatever the caller does next,
// so a caller that gives up wastes one interval of the budget, never more.
func (b *Budget) Reserve(ctx context.Context) (time.Duration, error) {
	var wait time.Duration
	err := b.store.Update(ctx, func(tx Tx) error {
		if err := tx.Serialize(b.key); err != nil {
			return err
		}
		var st budgetState
		raw, err := tx.Value(b.key)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return err
		default:
			if err := json.Unmarshal(raw, &st); err != nil {
				// A damaged cell must not stop every Kandji call: start it
				// again, which at worst allows one burst early.
				st = budgetState{}
			}
		}
		now := b.now()
		tat := st.TAT
		if tat.Before(now) {
			tat = now
		}
		wait = max(0, tat.Sub(now)-b.tolerance)
		next, err := json.Marshal(budgetState{TAT: tat.Add(b.interval)})
		if err != nil {
			return err
		}
		return tx.SetValue(b.key, next)
	})
	if err != nil {
		return 0, fmt.Errorf("approvals: take a token of %s: %w", b.key, err)
	}
	return wait, nil
}
