package approvals

import (
	"slices"
	"time"
)

// Outcome is what happened to one device of a lock job. The values are
// stored and journaled, so they must never change.
type Outcome string

// Device outcomes. A device starts with none ("") and ends with one of the
// final ones; OutcomeRetrying is the live state of a device whose last try
// failed for a passing reason.
const (
	OutcomeNone          Outcome = ""
	OutcomeRetrying      Outcome = "retrying"
	OutcomeLocked        Outcome = "locked"         // Kandji accepted the lock
	OutcomeLockPending   Outcome = "lock_pending"   // Kandji has the lock queued or running
	OutcomeAlreadyLocked Outcome = "already_locked" // Kandji confirms a lock of the device completed
	OutcomeUnconfirmed   Outcome = "unconfirmed"    // a lock was sent but Kandji could not confirm it
	OutcomeFailed        Outcome = "failed"         // still failing when the deadline passed, or refused for good
	OutcomeNotLockable   Outcome = "not_lockable"   // a platform or device lockbot cannot lock
	OutcomeGone          Outcome = "gone"           // Kandji no longer has the device
	OutcomeUnassigned    Outcome = "unassigned"     // no longer assigned to this person, so not locked
	OutcomeDryRun        Outcome = "dry_run"        // LOCKBOT_DRY_RUN: everything but the lock command
)

// Secured reports whether the device is locked or its lock is on its way.
func (o Outcome) Secured() bool {
	return o == OutcomeLocked || o == OutcomeLockPending || o == OutcomeAlreadyLocked
}

// Final reports whether the device's outcome will not change again.
func (o Outcome) Final() bool { return o != OutcomeNone && o != OutcomeRetrying }

// Bad reports whether a final outcome leaves a device of the person
// unlocked that lockbot should have locked: the report calls for a person.
func (o Outcome) Bad() bool { return o == OutcomeFailed || o == OutcomeUnconfirmed }

// DeviceState is one device of a lock job and what became of it.
type DeviceState struct {
	Device
	Outcome  Outcome   `json:"outcome,omitempty"`
	Detail   string    `json:"detail,omitempty"` // why, in words fit for a card; never a PIN
	Attempts int       `json:"attempts,omitempty"`
	At       time.Time `json:"at,omitzero"` // when Outcome was last set
}

// JobState is where a lock job stands. The values are stored, so they must
// never change.
type JobState string

// Lock job states. Queued, working and retrying are live; the others are
// final.
const (
	JobQueued   JobState = "queued"   // waiting for its first attempt
	JobWorking  JobState = "working"  // an attempt is under way
	JobRetrying JobState = "retrying" // waiting for the next attempt after a passing failure
	JobDone     JobState = "done"     // every device secured, or one lockbot cannot lock
	JobFailed   JobState = "failed"   // some device is still not locked: a person must act
	JobSkipped  JobState = "skipped"  // not carried out on purpose (say, the person is active again)
	JobNothing  JobState = "nothing"  // no device is assigned to the person
)

// Final reports whether the job is over.
func (s JobState) Final() bool {
	switch s {
	case JobDone, JobFailed, JobSkipped, JobNothing:
		return true
	}
	return false
}

// Valid reports whether s is one of the declared states.
func (s JobState) Valid() bool {
	switch s {
	case JobQueued, JobWorking, JobRetrying:
		return true
	}
	return s.Final()
}

// LockJob is one person's lock, however it was asked for: an approved
// request, an Okta event, an API call. It is carried out by the "lock"
// task and finishes only in a final state.
type LockJob struct {
	ID        string    `json:"id"`  // unguessable and URL-safe: the reveal button's value
	Key       string    `json:"key"` // EmailKey of the target, for coalescing
	Person    Person    `json:"person"`
	Origin    Origin    `json:"origin"`
	RequestID string    `json:"request_id,omitempty"` // the approved request, for manual locks
	Approver  string    `json:"approver,omitempty"`   // who completed the quorum; gets the PINs by DM
	Reason    string    `json:"reason,omitempty"`
	Triggers  []Trigger `json:"triggers,omitempty"` // every event coalesced into this lock
	// Shown are the devices approvers saw (manual locks); the lock looks
	// the person up afresh and locks what is assigned then.
	Shown       []Device      `json:"shown,omitempty"`
	Devices     []DeviceState `json:"devices,omitempty"`
	LookedUp    bool          `json:"looked_up,omitempty"`
	MatchedBy   string        `json:"matched_by,omitempty"` // how the devices were found, for the report
	State       JobState      `json:"state"`
	Attempts    int           `json:"attempts,omitempty"`
	NextAttempt time.Time     `json:"next_attempt,omitzero"`
	LastError   string        `json:"last_error,omitempty"` // the passing failure behind retrying; never a PIN
	Created     time.Time     `json:"created"`
	Updated     time.Time     `json:"updated"`
	Deadline    time.Time     `json:"deadline"` // passing failures are retried until then
	Finished    time.Time     `json:"finished,omitzero"`
	Outcome     string        `json:"outcome,omitempty"` // final summary for people; never a PIN
	DryRun      bool          `json:"dry_run,omitempty"`
	// Report is the key of the Post that shows this job: its own report
	// in the notify channel, or the card of the request it carries out.
	Report string `json:"report"`
	// PINsSentTo are the approvers the unlock PINs were sent to by DM;
	// PINsFailedTo those a DM could not reach. Never the PINs themselves.
	PINsSentTo   []string `json:"pins_sent_to,omitempty"`
	PINsFailedTo []string `json:"pins_failed_to,omitempty"`
}

// Target is the email of the person whose devices are locked.
func (j LockJob) Target() string { return j.Person.Email }

// Clone returns a copy that shares no memory with j.
func (j LockJob) Clone() LockJob {
	j.Triggers = slices.Clone(j.Triggers)
	j.Shown = slices.Clone(j.Shown)
	j.Devices = slices.Clone(j.Devices)
	j.PINsSentTo = slices.Clone(j.PINsSentTo)
	j.PINsFailedTo = slices.Clone(j.PINsFailedTo)
	return j
}

// Tally counts a job's devices by what became of them.
type Tally struct {
	Total, Secured, Bad, NotLockable, Retrying, Waiting, Other int
}

// Tally counts j's devices.
func (j LockJob) Tally() Tally {
	var t Tally
	for _, d := range j.Devices {
		t.Total++
		switch {
		case d.Outcome.Secured():
			t.Secured++
		case d.Outcome.Bad():
			t.Bad++
		case d.Outcome == OutcomeNotLockable || d.Outcome == OutcomeGone:
			t.NotLockable++
		case d.Outcome == OutcomeRetrying:
			t.Retrying++
		case d.Outcome == OutcomeNone:
			t.Waiting++
		default:
			t.Other++
		}
	}
	return t
}

// AllFinal reports whether every device has a final outcome.
func (j LockJob) AllFinal() bool {
	for _, d := range j.Devices {
		if !d.Outcome.Final() {
			return false
		}
	}
	return true
}

// HasMacSecured reports whether a Mac of the job is locked, which is when
// an unlock PIN exists to be revealed.
func (j LockJob) HasMacSecured() bool {
	return slices.ContainsFunc(j.Devices, func(d DeviceState) bool { return IsMac(d.Platform) && d.Outcome.Secured() })
}

// IsMac reports whether platform is Kandji's "Mac", the only platform whose
// lock has an unlock PIN.
func IsMac(platform string) bool { return EmailKey(platform) == "mac" }
