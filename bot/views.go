package bot

import (
	"fmt"
	"time"

	"github.com/lockbot/lockbot/approvals"
	"github.com/lockbot/lockbot/bot/cards"
)

// The conversions from the store's records to what the cards show.

func personView(p approvals.Person) cards.Person {
	return cards.Person{Email: p.Email, Name: p.Name, OktaStatus: p.OktaStatus}
}

func deviceView(d approvals.Device) cards.Device {
	return cards.Device{Name: d.Name, Model: d.Model, Serial: d.Serial, Platform: d.Platform, LastCheckIn: d.LastCheckIn}
}

func deviceViews(ds []approvals.Device) []cards.Device {
	out := make([]cards.Device, len(ds))
	for i, d := range ds {
		out[i] = deviceView(d)
	}
	return out
}

// outcomeView maps every outcome the store knows to one a card shows.
func outcomeView(o approvals.Outcome) cards.Outcome {
	switch o {
	case approvals.OutcomeRetrying:
		return cards.Retrying
	case approvals.OutcomeLocked:
		return cards.Locked
	case approvals.OutcomeLockPending:
		return cards.LockPending
	case approvals.OutcomeAlreadyLocked:
		return cards.AlreadyLocked
	case approvals.OutcomeUnconfirmed:
		return cards.Unconfirmed
	case approvals.OutcomeFailed:
		return cards.Failed
	case approvals.OutcomeNotLockable:
		return cards.NotLockable
	case approvals.OutcomeGone:
		return cards.Gone
	case approvals.OutcomeUnassigned:
		return cards.Unassigned
	case approvals.OutcomeDryRun:
		return cards.DryRun
	}
	return cards.Waiting
}

func lockStateView(s approvals.JobState) cards.LockState {
	switch s {
	case approvals.JobWorking:
		return cards.LockWorking
	case approvals.JobRetrying:
		return cards.LockRetrying
	case approvals.JobDone:
		return cards.LockDone
	case approvals.JobFailed:
		return cards.LockFailed
	case approvals.JobSkipped:
		return cards.LockSkipped
	case approvals.JobNothing:
		return cards.LockNothing
	}
	return cards.LockQueued
}

func requestStateView(s approvals.State) cards.RequestState {
	switch s {
	case approvals.StateApproved:
		return cards.Approved
	case approvals.StateDenied:
		return cards.Denied
	case approvals.StateExpired:
		return cards.Expired
	case approvals.StateCancelled:
		return cards.Cancelled
	}
	return cards.Pending
}

// lockView is a lock job as its card or report shows it.
func lockView(j approvals.LockJob) cards.Lock {
	v := cards.Lock{
		ID: j.ID, State: lockStateView(j.State), MatchedBy: j.MatchedBy, Attempts: j.Attempts,
		Retrying: j.LastError, NextAttempt: j.NextAttempt, Deadline: j.Deadline, Outcome: j.Outcome, Reason: j.Reason,
	}
	if j.State != approvals.JobRetrying {
		v.NextAttempt = time.Time{}
	}
	for _, d := range j.Devices {
		dv := deviceView(d.Device)
		dv.Outcome, dv.Detail = outcomeView(d.Outcome), d.Detail
		v.Devices = append(v.Devices, dv)
	}
	for _, t := range j.Triggers {
		v.Triggers = append(v.Triggers, cards.Trigger{EventType: t.Type, Actor: t.Actor, ActorName: t.ActorName,
			At: t.Published, ClientIP: t.ClientIP, Recovered: t.Source == approvals.SourceCatchup})
	}
	for _, u := range j.PINsSentTo {
		v.Notes = append(v.Notes, fmt.Sprintf("🔑 Unlock PINs sent to %s by DM.", cards.Mention(u)))
	}
	for _, u := range j.PINsFailedTo {
		v.Notes = append(v.Notes, fmt.Sprintf("⚠️ The DM with the unlock PINs could not be sent to %s. An approver can get them with `/lock pins %s`.",
			cards.Mention(u), cards.Mrkdwn(j.Target())))
	}
	return v
}

// requestView is a request, and its lock once approved, as its card shows
// them.
func requestView(r approvals.Request, j *approvals.LockJob) cards.Request {
	v := cards.Request{
		ID: r.ID, Person: personView(r.Person), Reason: r.Reason, State: requestStateView(r.State),
		Required: r.Required, DecidedBy: r.DecidedBy, Outcome: r.Outcome, Expires: r.Expires,
		Devices: deviceViews(r.Devices), DryRun: r.DryRun,
	}
	if r.Origin.Kind == approvals.OriginOkta {
		v.FromEvent, v.EventActor = r.Origin.EventType, r.Origin.Actor
	} else {
		v.Requester = r.Requester
	}
	for _, a := range r.Approvals {
		v.Approvals = append(v.Approvals, a.By)
	}
	if j != nil {
		l := lockView(*j)
		v.Lock = &l
	}
	return v
}
