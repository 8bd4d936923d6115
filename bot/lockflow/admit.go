package lockflow

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/okta"
)

// maxEventIDLen bounds the dedupe key; Okta UUIDs are 36 bytes.
const maxEventIDLen = 256

// Admit stores every event not seen before as a trigger and schedules its
// handling, all in one transaction, and returns the newly admitted events
// in input order. Once it returns, the events survive any crash; when it
// fails, nothing was admitted, so the hook answers 503 and Okta retries.
// Events without a usable UUID are skipped. It is the okta.Admitter of the
// event hook and the System Log catch-up.
func (f *Flow) Admit(ctx context.Context, evs []okta.Event) ([]okta.Event, error) {
	return f.admits.do(ctx, evs, f.admitBatch)
}

// admitBatch admits the events of several calls in one transaction. A
// failure fails them all: none was admitted, and each hook answers 503.
func (f *Flow) admitBatch(calls []*admitCall) {
	// The transaction outlives any one caller: their contexts were live
	// when the batch formed, and cancelling a commit half-way helps nobody.
	ctx := approvals.Urgent(context.WithoutCancel(calls[0].ctx))
	err := f.store.Update(ctx, func(tx approvals.Tx) error {
		now := f.now()
		for _, c := range calls {
			c.admitted = c.admitted[:0]
			for _, ev := range c.evs {
				if ev.UUID == "" || len(ev.UUID) > maxEventIDLen || !utf8.ValidString(ev.UUID) {
					continue
				}
				t := TriggerOf(ev, now)
				fresh, err := tx.AdmitTrigger(t)
				if err != nil {
					return err
				}
				if !fresh {
					continue
				}
				if err := tx.Enqueue(approvals.Task{Kind: approvals.TaskTrigger, Key: t.ID}); err != nil {
					return err
				}
				c.admitted = append(c.admitted, ev)
			}
		}
		return nil
	})
	for _, c := range calls {
		if err != nil {
			c.admitted, c.err = nil, err
		}
	}
}

// TriggerOf is the trigger an Okta event becomes, admitted at now.
func TriggerOf(ev okta.Event, now time.Time) approvals.Trigger {
	src := approvals.SourceHook
	if ev.Source == okta.SourceCatchup {
		src = approvals.SourceCatchup
	}
	return approvals.Trigger{
		ID: "okta:" + ev.UUID, Source: src, Type: ev.Type, Published: ev.Published, Admitted: now,
		UserID: ev.UserID, Login: ev.Login, Email: ev.Email, Name: ev.Name,
		Actor: ev.Actor.AlternateID, ActorName: ev.Actor.DisplayName, ClientIP: ev.ClientIP, Message: ev.Message,
	}
}
