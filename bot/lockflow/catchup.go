package lockflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/okta"
)

// CursorKey is where the System Log cursor lives in the store.
const CursorKey = "okta.catchup.cursor"

// Cursors keeps the System Log catch-up's cursor in the store, so every
// replica and every restart resumes from the same place. It implements
// okta.CursorStore.
type Cursors struct{ Store approvals.Store }

// LoadCursor implements okta.CursorStore; no cursor yet is the zero Cursor.
func (c Cursors) LoadCursor(ctx context.Context) (okta.Cursor, error) {
	var cur okta.Cursor
	err := c.Store.View(ctx, func(tx approvals.Tx) error {
		raw, err := tx.Value(CursorKey)
		if errors.Is(err, approvals.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return json.Unmarshal(raw, &cur)
	})
	return cur, err
}

// SaveCursor implements okta.CursorStore.
func (c Cursors) SaveCursor(ctx context.Context, cur okta.Cursor) error {
	raw, err := json.Marshal(cur)
	if err != nil {
		return err
	}
	return c.Store.Update(ctx, func(tx approvals.Tx) error { return tx.SetValue(CursorKey, raw) })
}

// CatchupPolled posts one notice to the notify channel when the System Log
// catch-up has failed for several intervals in a row, and one when it
// works again: a stuck catch-up must not be silent. It is the catch-up's
// OnPoll; the notice says what kind of failure it is, never Okta's raw
// error text.
func (f *Flow) CatchupPolled(ctx context.Context, r okta.PollReport) {
	var text string
	switch {
	case r.Failing:
		why := "Okta could not be reached or answered with an error"
		switch {
		case errors.Is(r.Err, okta.ErrUnauthorized):
			why = "Okta refused OKTA_API_TOKEN (expired, revoked, or missing okta.logs.read): create a new token and set OKTA_API_TOKEN"
		case errors.Is(r.Err, okta.ErrUnavailable):
			why = "Okta did not answer (an outage, a network problem or rate limiting)"
		}
		text = fmt.Sprintf("⚠️ The Okta System Log catch-up has failed %d times in a row: %s. Events the hook misses are not recovered until it works again; lockbot keeps trying.", r.ConsecutiveFailures, why)
	case r.Restored:
		text = "✅ The Okta System Log catch-up works again; events missed meanwhile are being recovered."
	default:
		return
	}
	err := f.store.Update(ctx, func(tx approvals.Tx) error {
		return approvals.Notify(tx, f.cfg.NotifyChannel, "", text, approvals.PriorityNormal, f.now())
	})
	if err != nil {
		f.log.Error("could not post the catch-up notice", "err", err)
	}
}
