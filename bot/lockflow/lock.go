package lockflow

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/kandji"
	"github.com/lockbot/lockbot/okta"
)

// runLock is one attempt at a lock job: look the person up (once), lock
// every device that has no final outcome yet, record what Kandji said, and
// either finish the job or schedule the next attempt. Repeating an attempt
// is safe: Kandji answers "already locked" for a device that was locked.
func (f *Flow) runLock(ctx context.Context, run approvals.TaskRun) error {
	j, err := f.loadLock(ctx, run.Key)
	if errors.Is(err, approvals.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if j.State.Final() {
		return nil
	}
	prio := kandji.Bulk
	if j.Origin.Kind == approvals.OriginManual {
		prio = kandji.Interactive // an approver is watching the card
	}
	ctx = kandji.WithPriority(ctx, prio)

	if why, active := f.activeAgain(ctx, j); active {
		return f.skip(ctx, j.ID, why)
	}
	if !j.LookedUp {
		j, err = f.lookUp(ctx, j)
		if err != nil {
			if why, ok := passingFailure(err); ok && ctx.Err() == nil {
				return f.retryLater(ctx, j.ID, why)
			}
			return err
		}
		if j.State.Final() {
			return nil
		}
	}
	verdicts := f.lockDevices(ctx, j)
	// Record what Kandji answered even when the attempt was cut short: a
	// stop must not lose the news that a device is locked.
	wctx := ctx
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
	}
	next, err := f.record(wctx, j.ID, verdicts)
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if next > 0 {
		return approvals.RetryAfter(next, nil)
	}
	return nil
}

func (f *Flow) loadLock(ctx context.Context, id string) (approvals.LockJob, error) {
	var j approvals.LockJob
	err := f.store.View(ctx, func(tx approvals.Tx) error {
		var err error
		j, err = tx.Lock(id)
		return err
	})
	return j, err
}

// lifecycleEvents are the events that say a person's account changed
// state: if Okta shows the person ACTIVE again by the time the lock would
// run, the event is stale (a catch-up after downtime, a replay after a
// restart) and the lock is skipped. A report of suspicious activity comes
// from an active person and is never skipped.
var lifecycleEvents = map[string]bool{okta.EventSuspend: true, okta.EventDeactivate: true}

// activeAgain reports whether j should be skipped because every event
// behind it is a lifecycle event and Okta shows the person ACTIVE now. It
// asks only before any device has been locked, and an Okta that does not
// answer never holds a lock back.
func (f *Flow) activeAgain(ctx context.Context, j approvals.LockJob) (string, bool) {
	if f.dir == nil || j.Origin.Kind != approvals.OriginOkta || len(j.Triggers) == 0 {
		return "", false
	}
	for _, t := range j.Triggers {
		if !lifecycleEvents[t.Type] {
			return "", false
		}
	}
	for _, d := range j.Devices {
		if d.Outcome != approvals.OutcomeNone {
			return "", false
		}
	}
	key := cmpOr(j.Person.OktaUserID, j.Person.Login, j.Person.Email)
	u, err := f.dir.User(ctx, key)
	if err != nil {
		f.log.Warn("okta status check before a lock failed; locking anyway", "lock", j.ID, "err", err)
		return "", false
	}
	if u.Status != "ACTIVE" {
		return "", false
	}
	return fmt.Sprintf("Okta shows %s as ACTIVE again, so the %s event is out of date; nothing was locked", j.Target(), j.Triggers[len(j.Triggers)-1].Type), true
}

// skip ends j without locking, for the reason why.
func (f *Flow) skip(ctx context.Context, id, why string) error {
	return f.store.Update(ctx, func(tx approvals.Tx) error {
		j, err := tx.Lock(id)
		if err != nil || j.State.Final() {
			return err
		}
		now := f.now()
		j.State, j.Outcome, j.Finished, j.Updated = approvals.JobSkipped, why, now, now
		if err := tx.PutLock(j); err != nil {
			return err
		}
		if err := tx.Append(approvals.Record{Time: now, Kind: approvals.KindLockSkipped, ID: j.ID, Actor: approvals.SystemActor,
			Target: j.Target(), Details: approvals.Details("reason", why, "okta_status", "ACTIVE")}); err != nil {
			return err
		}
		return approvals.Touch(tx, j.Report, f.cfg.NotifyChannel, approvals.PriorityNormal, now)
	})
}

// lookUp finds the devices of j's person and stores them with the job:
// from then on the job locks exactly those. For a manual lock, a device
// the approvers saw that is no longer the person's is recorded as such and
// not locked.
func (f *Flow) lookUp(ctx context.Context, j approvals.LockJob) (approvals.LockJob, error) {
	batch := false
	if j.Origin.Kind != approvals.OriginManual {
		var waiting int
		if err := f.store.View(ctx, func(tx approvals.Tx) error {
			var err error
			waiting, err = tx.CountLocks(approvals.LockQuery{LookingUp: true})
			return err
		}); err != nil {
			return j, err
		}
		// One exact lookup is two list calls (the exact filter, then the
		// substring one); a sweep pays off once the people waiting would
		// cost at least as much.
		batch = 2*waiting >= f.sweeps.cost()
		ctx = kandji.WithPriority(ctx, kandji.Background) // lookups feed locks, so they go last
	}
	res, err := f.findDevices(ctx, j.Person, batch)
	if err != nil {
		return j, err
	}
	err = f.store.Update(ctx, func(tx approvals.Tx) error {
		cur, err := tx.Lock(j.ID)
		if err != nil {
			return err
		}
		if cur.LookedUp || cur.State.Final() {
			j = cur
			return nil
		}
		now := f.now()
		cur.LookedUp, cur.MatchedBy, cur.Updated = true, res.matchedBy, now
		seen := map[string]bool{}
		for _, d := range res.devices {
			seen[d.ID] = true
			st := approvals.DeviceState{Device: toApprovalDevice(d)}
			if cur.DryRun {
				st.Outcome, st.Detail, st.At = approvals.OutcomeDryRun, "dry run: no lock command sent", now
			}
			cur.Devices = append(cur.Devices, st)
		}
		for _, d := range cur.Shown {
			if !seen[d.ID] {
				cur.Devices = append(cur.Devices, approvals.DeviceState{Device: d, Outcome: approvals.OutcomeUnassigned,
					Detail: "no longer assigned to this person in Kandji", At: now})
			}
		}
		if cur.State == approvals.JobQueued {
			cur.State = approvals.JobWorking
		}
		if len(res.devices) == 0 || cur.AllFinal() {
			if err := f.finish(tx, &cur, now); err != nil {
				return err
			}
		} else if err := tx.PutLock(cur); err != nil {
			return err
		}
		j = cur
		return approvals.Touch(tx, cur.Report, f.cfg.NotifyChannel, approvals.PriorityNormal, now)
	})
	return j, err
}

// lockDevices sends the lock to every device of j without a final
// outcome, a few at a time, and returns what Kandji said of each, by
// device ID.
func (f *Flow) lockDevices(ctx context.Context, j approvals.LockJob) map[string]verdict {
	opts := kandji.LockOptions{Message: f.cfg.LockMessage, PhoneNumber: f.cfg.LockPhone}
	out := make(map[string]verdict, len(j.Devices))
	results := make([]verdict, len(j.Devices))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(f.cfg.LockConcurrency)
	for i, d := range j.Devices {
		if d.Outcome.Final() {
			continue
		}
		g.Go(func() error {
			res, err := f.kandji.Lock(gctx, d.ID, opts)
			results[i] = judgeLock(res, err)
			if err != nil {
				f.log.Warn("lock failed", "lock", j.ID, "device", d.ID, "serial", d.Serial, "err", err)
			}
			return nil
		})
	}
	_ = g.Wait() // every failure is in its verdict
	for i, d := range j.Devices {
		if !d.Outcome.Final() {
			out[d.ID] = results[i]
		}
	}
	return out
}

// record stores the verdicts of one attempt, journals every device that
// reached a final outcome, and finishes the job or decides when the next
// attempt comes (returned; 0 when the job is over).
func (f *Flow) record(ctx context.Context, id string, verdicts map[string]verdict) (time.Duration, error) {
	var next time.Duration
	err := f.store.Update(ctx, func(tx approvals.Tx) error {
		next = 0
		j, err := tx.Lock(id)
		if err != nil || j.State.Final() {
			return err
		}
		now := f.now()
		var passing []string
		for i := range j.Devices {
			d := &j.Devices[i]
			v, tried := verdicts[d.ID]
			if !tried || d.Outcome.Final() {
				continue
			}
			d.Attempts++
			d.Outcome, d.Detail, d.At = v.outcome, v.detail, now
			if v.passing() {
				passing = append(passing, v.detail)
				continue
			}
			if err := f.journalDevice(tx, j, *d, now); err != nil {
				return err
			}
		}
		j.Updated = now
		j.Attempts++
		switch {
		case j.AllFinal():
			if err := f.finish(tx, &j, now); err != nil {
				return err
			}
		case !now.Before(j.Deadline):
			for i := range j.Devices {
				d := &j.Devices[i]
				if !d.Outcome.Final() {
					d.Outcome = approvals.OutcomeFailed
					d.Detail = "still failing when the lock deadline passed: " + d.Detail
					if err := f.journalDevice(tx, j, *d, now); err != nil {
						return err
					}
				}
			}
			if err := f.finish(tx, &j, now); err != nil {
				return err
			}
		default:
			next = min(f.backoff(j.Attempts), j.Deadline.Sub(now))
			j.State, j.NextAttempt = approvals.JobRetrying, now.Add(next)
			j.LastError = "retrying, attempt " + strconv.Itoa(j.Attempts+1) + ": " + passing[0]
			if err := tx.PutLock(j); err != nil {
				return err
			}
		}
		return approvals.Touch(tx, j.Report, f.cfg.NotifyChannel, approvals.PriorityNormal, now)
	})
	return next, err
}

// backoff is the wait after the attempt-th attempt failed: doubling from
// FirstRetry, at most five minutes.
func (f *Flow) backoff(attempt int) time.Duration {
	d := f.cfg.FirstRetry
	for i := 1; i < attempt && d < approvals.MaxTaskBackoff; i++ {
		d *= 2
	}
	return min(d, approvals.MaxTaskBackoff)
}

// retryLater records a passing failure that came before any lock was sent
// (the lookup failed) and schedules the next attempt.
func (f *Flow) retryLater(ctx context.Context, id, why string) error {
	var next time.Duration
	err := f.store.Update(ctx, func(tx approvals.Tx) error {
		j, err := tx.Lock(id)
		if err != nil || j.State.Final() {
			return err
		}
		now := f.now()
		j.Attempts++
		j.Updated = now
		if !now.Before(j.Deadline) {
			j.LastError = why
			j.Outcome = "the devices could not be looked up before the lock deadline: " + why
			if err := f.finishAs(tx, &j, approvals.JobFailed, now); err != nil {
				return err
			}
			return approvals.Touch(tx, j.Report, f.cfg.NotifyChannel, approvals.PriorityNormal, now)
		}
		next = min(f.backoff(j.Attempts), j.Deadline.Sub(now))
		j.State, j.NextAttempt = approvals.JobRetrying, now.Add(next)
		j.LastError = "retrying, attempt " + strconv.Itoa(j.Attempts+1) + ": " + why
		if err := tx.PutLock(j); err != nil {
			return err
		}
		return approvals.Touch(tx, j.Report, f.cfg.NotifyChannel, approvals.PriorityNormal, now)
	})
	if err != nil || next == 0 {
		return err
	}
	return approvals.RetryAfter(next, nil)
}

// journalDevice records a device's final outcome.
func (f *Flow) journalDevice(tx approvals.Tx, j approvals.LockJob, d approvals.DeviceState, now time.Time) error {
	f.metrics.DeviceLock(string(d.Outcome))
	actor := j.Approver
	if actor == "" {
		actor = j.Origin.Kind
	}
	return tx.Append(approvals.Record{Time: now, Kind: approvals.KindLockResult, ID: j.ID, Actor: actor, Target: j.Target(),
		Details: approvals.Details("device_id", d.ID, "device_name", d.Name, "serial", d.Serial, "platform", d.Platform,
			"outcome", string(d.Outcome), "detail", d.Detail, "request_id", j.RequestID, "dry_run", strconv.FormatBool(j.DryRun))})
}

// finish ends j in the state its devices call for.
func (f *Flow) finish(tx approvals.Tx, j *approvals.LockJob, now time.Time) error {
	t := j.Tally()
	state := approvals.JobDone
	switch {
	case len(j.Devices) == 0 || t.Total == t.Other && t.Other > 0 && !hasDryRun(*j):
		state = approvals.JobNothing
	case t.Bad > 0:
		state = approvals.JobFailed
	}
	j.Outcome = summary(*j, state)
	return f.finishAs(tx, j, state, now)
}

func hasDryRun(j approvals.LockJob) bool {
	for _, d := range j.Devices {
		if d.Outcome == approvals.OutcomeDryRun {
			return true
		}
	}
	return false
}

// finishAs stores j in its final state, journals it, and sends the
// approver of a manual lock its Mac PINs.
func (f *Flow) finishAs(tx approvals.Tx, j *approvals.LockJob, state approvals.JobState, now time.Time) error {
	j.State, j.Finished, j.Updated, j.NextAttempt = state, now, now, time.Time{}
	if state != approvals.JobRetrying {
		j.LastError = ""
	}
	if err := tx.PutLock(*j); err != nil {
		return err
	}
	t := j.Tally()
	if err := tx.Append(approvals.Record{Time: now, Kind: approvals.KindLockDone, ID: j.ID, Actor: approvals.SystemActor, Target: j.Target(),
		Details: approvals.Details("state", string(state), "secured", strconv.Itoa(t.Secured), "devices", strconv.Itoa(t.Total),
			"attempts", strconv.Itoa(j.Attempts), "outcome", j.Outcome, "request_id", j.RequestID)}); err != nil {
		return err
	}
	if j.Approver != "" && j.HasMacSecured() && !j.DryRun {
		return tx.Enqueue(approvals.Task{Kind: approvals.TaskPINs, Key: PINsTaskKey(j.ID, j.Approver, "approved")})
	}
	return nil
}

// PINsTaskKey names the task that DMs the PINs of lock to user, once per
// occasion (the approval, or one click).
func PINsTaskKey(lock, user, occasion string) string { return lock + "/" + user + "/" + occasion }

// SplitPINsTaskKey is PINsTaskKey's inverse.
func SplitPINsTaskKey(key string) (lock, user string, ok bool) {
	parts := strings.SplitN(key, "/", 3)
	if len(parts) != 3 {
		return "", "", false
	}
	return parts[0], parts[1], true
}

// summary is the final outcome of j in a sentence.
func summary(j approvals.LockJob, state approvals.JobState) string {
	t := j.Tally()
	switch {
	case state == approvals.JobNothing && len(j.Devices) == 0:
		return "no device assigned in Kandji"
	case state == approvals.JobNothing:
		return "no device left to lock: none is assigned to this person any more"
	case hasDryRun(j):
		return fmt.Sprintf("dry run: %d device%s found, none locked", t.Total, plural(t.Total))
	}
	s := fmt.Sprintf("%d of %d devices secured", t.Secured, t.Total)
	if t.NotLockable > 0 {
		s += fmt.Sprintf(", %d lockbot cannot lock", t.NotLockable)
	}
	if t.Bad > 0 {
		s += fmt.Sprintf(", %d not locked: a person must act", t.Bad)
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
