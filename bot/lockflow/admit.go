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
	var admitted []okta.Event
	err := f.store.Update(ctx, func(tx approvals.Tx) error {
		admitted = admitted[:0]
		now := f.now()
		for _, ev := range evs {
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
			admitted = append(admitted, ev)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return admitted, nil
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
