package lockflow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/kandji"
	"github.com/lockbot/lockbot/okta"
)

// runTrigger handles one admitted Okta event: it opens (or joins) a lock
// job, opens an approval request, or records why it did neither. It is
// safe to run twice: a handled trigger is left alone, and every outcome is
// one transaction that marks the trigger handled.
func (f *Flow) runTrigger(ctx context.Context, run approvals.TaskRun) error {
	t, ok, err := approvals.PendingTrigger(ctx, f.store, run.Key)
	if err != nil || !ok {
		return err
	}
	r := f.routeFor(t.Type)
	if r == routeIgnore {
		return f.finishTrigger(ctx, t, r, nil)
	}
	p, why, refusal := f.resolve(ctx, t)
	if why != "" {
		return f.finishTrigger(ctx, t, r, func(tx approvals.Tx, now time.Time, _ *approvals.Trigger) error {
			if refusal != "" {
				if err := tx.Append(approvals.Record{Time: now, Kind: approvals.KindRefused, ID: t.ID, Actor: OktaRequester,
					Target: p.Email, Details: approvals.Details("reason", refusal, "type", t.Type)}); err != nil {
					return err
				}
			}
			return approvals.Notify(tx, f.cfg.NotifyChannel, "", why, approvals.PriorityNormal, now)
		})
	}
	if r == routeApprove {
		return f.openFromEvent(ctx, t, p)
	}
	return f.autoLock(ctx, t, p)
}

// finishTrigger marks t handled and journals it, with more changes from
// also (which may fill in t) in the same transaction.
func (f *Flow) finishTrigger(ctx context.Context, t approvals.Trigger, r route, also func(tx approvals.Tx, now time.Time, t *approvals.Trigger) error) error {
	err := f.store.Update(ctx, func(tx approvals.Tx) error {
		now := f.now()
		t := t
		if also != nil {
			if err := also(tx, now, &t); err != nil {
				return err
			}
		}
		return f.markHandled(tx, t, r, now)
	})
	if err == nil {
		f.metrics.EventHandled(string(r))
	}
	return err
}

// markHandled stores t as handled and journals the event.
func (f *Flow) markHandled(tx approvals.Tx, t approvals.Trigger, r route, now time.Time) error {
	t.Handled = true
	if err := tx.PutTrigger(t); err != nil {
		return err
	}
	return tx.Append(approvals.Record{Time: now, Kind: approvals.KindEvent, ID: strings.TrimPrefix(t.ID, "okta:"),
		Actor: t.Actor, Target: cmpOr(t.Email, t.Login), Details: approvals.Details(
			"type", t.Type, "source", t.Source, "route", string(r), "lock_id", t.LockID, "request_id", t.RequestID,
			"published", t.Published.UTC().Format(time.RFC3339))})
}

// resolve finds the person an event is about: Okta's profile email when
// the directory answers (a login need not be an email), else the event's
// own. A trigger that names nobody lockbot may lock returns the notice
// that says so (and a refusal's short name when it is a policy refusal).
func (f *Flow) resolve(ctx context.Context, t approvals.Trigger) (p approvals.Person, why, refusal string) {
	p = approvals.Person{Email: cmpOr(t.Email, t.Login), Login: t.Login, OktaUserID: t.UserID, Name: t.Name}
	if f.dir != nil {
		key := cmpOr(t.UserID, t.Login)
		u, err := f.dir.User(kandji.WithPriority(ctx, kandji.Bulk), key)
		switch {
		case err == nil:
			p.Email = cmpOr(u.Email, p.Email)
			p.Login = cmpOr(u.Login, p.Login)
			p.OktaUserID = cmpOr(u.ID, p.OktaUserID)
			p.Name = cmpOr(p.Name, u.Name())
			p.OktaStatus = u.Status
		case errors.Is(err, okta.ErrNotFound):
			p.OktaStatus = "not found in Okta"
		default:
			// A lock must not wait for Okta: go on with the event's login.
			f.log.Warn("okta user lookup failed; using the event's login", "event", t.ID, "user", t.UserID, "err", err)
		}
	}
	email, err := approvals.ParseEmail(p.Email)
	if err != nil {
		return p, fmt.Sprintf("⚠️ Okta event %s for %s could not be matched to an email address, so nothing was locked.",
			t.Type, cmpOr(t.Login, t.UserID, "?")), ""
	}
	p.Email = email
	if login, err := approvals.ParseEmail(p.Login); err != nil || login == email {
		p.Login = ""
	} else {
		p.Login = login
	}
	if !f.domainAllowed(email) {
		return p, fmt.Sprintf("Okta event %s for %s was ignored: the domain is not in LOCKBOT_ALLOWED_DOMAINS.",
			t.Type, email), "domain_not_allowed"
	}
	return p, "", ""
}

// autoLock opens the lock job for p, or adds t to the one that events for
// p opened within the coalescing window, so a burst of events about one
// person makes one lock and one report listing every trigger.
func (f *Flow) autoLock(ctx context.Context, t approvals.Trigger, p approvals.Person) error {
	coalesced := false
	err := f.store.Update(ctx, func(tx approvals.Tx) error {
		now := f.now()
		key := approvals.EmailKey(p.Email)
		if err := tx.Serialize("person:" + key); err != nil {
			return err
		}
		recent, err := tx.Locks(approvals.LockQuery{Key: key, Since: now.Add(-f.cfg.CoalesceWindow)})
		if err != nil {
			return err
		}
		for i := len(recent) - 1; i >= 0; i-- {
			j := recent[i]
			if j.Origin.Kind == approvals.OriginManual {
				continue
			}
			coalesced = true
			t.LockID = j.ID
			j.Triggers = append(j.Triggers, t)
			j.Updated = now
			if err := tx.PutLock(j); err != nil {
				return err
			}
			if err := approvals.Touch(tx, j.Report, f.cfg.NotifyChannel, approvals.PriorityNormal, now); err != nil {
				return err
			}
			return f.markHandled(tx, t, routeLock, now)
		}
		origin := approvals.Origin{Kind: approvals.OriginOkta, EventType: t.Type, EventID: strings.TrimPrefix(t.ID, "okta:"), Actor: t.Actor}
		j := approvals.NewLock(p, origin, t.Message, "", now, f.cfg.Deadline, f.cfg.DryRun)
		t.LockID = j.ID
		j.Triggers = []approvals.Trigger{t}
		if err := approvals.OpenLock(tx, j, approvals.KindAutoLock, f.cfg.NotifyChannel, approvals.PriorityNormal); err != nil {
			return err
		}
		return f.markHandled(tx, t, routeLock, now)
	})
	if err != nil {
		return err
	}
	if coalesced {
		f.metrics.EventHandled("coalesced")
	} else {
		f.metrics.EventHandled(string(routeLock))
		f.metrics.RequestOpened(approvals.OriginOkta)
	}
	return nil
}

// openFromEvent opens an approval request for an event type routed to
// approval: it shows the devices assigned now, so a person decides.
func (f *Flow) openFromEvent(ctx context.Context, t approvals.Trigger, p approvals.Person) error {
	found, err := f.findDevices(kandji.WithPriority(ctx, kandji.Bulk), p, false)
	if err != nil {
		return fmt.Errorf("look up the devices of %s: %w", p.Email, err)
	}
	if len(found.devices) == 0 {
		return f.finishTrigger(ctx, t, routeApprove, func(tx approvals.Tx, now time.Time, _ *approvals.Trigger) error {
			return approvals.Notify(tx, f.cfg.NotifyChannel, "", fmt.Sprintf(
				"Okta event %s for %s: no device is assigned in Kandji, so no lock request was opened.", t.Type, p.Email),
				approvals.PriorityNormal, now)
		})
	}
	return f.finishTrigger(ctx, t, routeApprove, func(tx approvals.Tx, now time.Time, t *approvals.Trigger) error {
		r, err := f.engine.OpenIn(tx, approvals.NewRequest{
			Person: p, Requester: OktaRequester, Reason: t.Message,
			Origin:   approvals.Origin{Kind: approvals.OriginOkta, EventType: t.Type, EventID: strings.TrimPrefix(t.ID, "okta:"), Actor: t.Actor},
			Devices:  toApprovalDevices(found.devices),
			Required: f.cfg.RequiredApprovals, TTL: f.cfg.ApprovalTTL, Priority: approvals.PriorityNormal, DryRun: f.cfg.DryRun,
		})
		if err != nil {
			return err
		}
		t.RequestID = r.ID
		f.metrics.RequestOpened(approvals.OriginOkta)
		return nil
	})
}

// cmpOr returns the first of vs that is not blank.
func cmpOr(vs ...string) string {
	for _, v := range vs {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}
