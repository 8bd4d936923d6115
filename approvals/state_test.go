package approvals

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestState(t *testing.T) {
	tests := []struct {
		s               State
		terminal, valid bool
	}{
		{StatePending, false, true},
		{StateApproved, true, true},
		{StateDenied, true, true},
		{StateExpired, true, true},
		{StateCancelled, true, true},
		{"", true, false},
		{"Pending", true, false},
		{"bogus", true, false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.terminal, tt.s.Terminal(), "State(%q).Terminal()", tt.s)
		assert.Equal(t, tt.valid, tt.s.Valid(), "State(%q).Valid()", tt.s)
	}
}

func TestRequestOverdue(t *testing.T) {
	exp := t0.Add(30 * time.Minute)
	tests := []struct {
		name  string
		state State
		exp   time.Time
		now   time.Time
		want  bool
	}{
		{"pending, before", StatePending, exp, exp.Add(-time.Nanosecond), false},
		{"pending, at the deadline", StatePending, exp, exp, true},
		{"pending, after", StatePending, exp, exp.Add(time.Hour), true},
		{"pending, deadline in another zone", StatePending, exp.In(time.FixedZone("X", 5*3600)), exp, true},
		{"pending, no deadline", StatePending, time.Time{}, t0, true},
		{"approved, after", StateApproved, exp, exp.Add(time.Hour), false},
		{"denied, after", StateDenied, exp, exp.Add(time.Hour), false},
		{"expired, after", StateExpired, exp, exp.Add(time.Hour), false},
		{"cancelled, after", StateCancelled, exp, exp.Add(time.Hour), false},
		{"unknown state, after", "", exp, exp.Add(time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Request{State: tt.state, Expires: tt.exp}
			assert.Equal(t, tt.want, r.Overdue(tt.now))
		})
	}
}

func TestRequestApprovedBy(t *testing.T) {
	r := Request{Requester: "U0", Approvals: []Approval{{By: "U1", At: t0}, {By: "U2", At: t0}}}
	assert.True(t, r.ApprovedBy("U1"))
	assert.True(t, r.ApprovedBy("U2"))
	assert.False(t, r.ApprovedBy("U0"), "the requester is not an approval")
	assert.False(t, r.ApprovedBy("u1"), "user IDs are opaque: no case folding")
	assert.False(t, r.ApprovedBy(""))
	assert.False(t, Request{}.ApprovedBy(""))
}

func TestRequestTarget(t *testing.T) {
	assert.Equal(t, "Bob@Example.com", Request{Person: Person{Email: "Bob@Example.com", Login: "bob"}}.Target())
	assert.Equal(t, "bob@example.com", LockJob{Person: Person{Email: "bob@example.com"}}.Target())
}

func TestRequestClone(t *testing.T) {
	orig := Request{
		ID:        "R1",
		Devices:   []Device{{ID: "D1", Name: "laptop"}},
		Approvals: []Approval{{By: "U1", At: t0}},
	}
	c := orig.Clone()
	assert.Equal(t, orig, c)
	c.Devices[0].Name = "changed"
	c.Approvals[0].By = "U9"
	c.Devices = append(c.Devices, Device{ID: "D2"})
	assert.Equal(t, "laptop", orig.Devices[0].Name)
	assert.Equal(t, "U1", orig.Approvals[0].By)
	assert.Len(t, orig.Devices, 1)

	// Appending to a clone of a slice with spare capacity must not write
	// into the original's backing array either.
	devs := make([]Device, 1, 4)
	orig = Request{Devices: devs}
	c = orig.Clone()
	_ = append(c.Devices, Device{ID: "X"})
	assert.Empty(t, devs[:2][1].ID)

	assert.Nil(t, Request{}.Clone().Devices, "nil stays nil")
}

func TestOutcome(t *testing.T) {
	tests := []struct {
		o                   Outcome
		secured, final, bad bool
	}{
		{OutcomeNone, false, false, false},
		{OutcomeRetrying, false, false, false},
		{OutcomeLocked, true, true, false},
		{OutcomeLockPending, true, true, false},
		{OutcomeAlreadyLocked, true, true, false},
		{OutcomeUnconfirmed, false, true, true},
		{OutcomeFailed, false, true, true},
		{OutcomeNotLockable, false, true, false},
		{OutcomeGone, false, true, false},
		{OutcomeUnassigned, false, true, false},
		{OutcomeDryRun, false, true, false},
		{"mystery", false, true, false}, // anything but none and retrying is final
	}
	for _, tt := range tests {
		assert.Equal(t, tt.secured, tt.o.Secured(), "Outcome(%q).Secured()", tt.o)
		assert.Equal(t, tt.final, tt.o.Final(), "Outcome(%q).Final()", tt.o)
		assert.Equal(t, tt.bad, tt.o.Bad(), "Outcome(%q).Bad()", tt.o)
		if tt.o.Secured() || tt.o.Bad() {
			assert.True(t, tt.o.Final(), "secured and bad outcomes are final")
		}
	}
}

func TestJobState(t *testing.T) {
	tests := []struct {
		s            JobState
		final, valid bool
	}{
		{JobQueued, false, true},
		{JobWorking, false, true},
		{JobRetrying, false, true},
		{JobDone, true, true},
		{JobFailed, true, true},
		{JobSkipped, true, true},
		{JobNothing, true, true},
		{"", false, false},
		{"DONE", false, false},
		{"pending", false, false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.final, tt.s.Final(), "JobState(%q).Final()", tt.s)
		assert.Equal(t, tt.valid, tt.s.Valid(), "JobState(%q).Valid()", tt.s)
	}
}

func devicesWith(outcomes ...Outcome) []DeviceState {
	ds := make([]DeviceState, len(outcomes))
	for i, o := range outcomes {
		ds[i] = DeviceState{Device: Device{ID: string(rune('A' + i))}, Outcome: o}
	}
	return ds
}

func TestLockJobTally(t *testing.T) {
	tests := []struct {
		name     string
		outcomes []Outcome
		want     Tally
		allFinal bool
	}{
		{"no devices", nil, Tally{}, true},
		{"all waiting", []Outcome{OutcomeNone, OutcomeNone}, Tally{Total: 2, Waiting: 2}, false},
		{"secured kinds", []Outcome{OutcomeLocked, OutcomeLockPending, OutcomeAlreadyLocked}, Tally{Total: 3, Secured: 3}, true},
		{"bad kinds", []Outcome{OutcomeFailed, OutcomeUnconfirmed}, Tally{Total: 2, Bad: 2}, true},
		{"not lockable and gone", []Outcome{OutcomeNotLockable, OutcomeGone}, Tally{Total: 2, NotLockable: 2}, true},
		{"retrying", []Outcome{OutcomeRetrying, OutcomeLocked}, Tally{Total: 2, Retrying: 1, Secured: 1}, false},
		{"other: unassigned, dry run, unknown", []Outcome{OutcomeUnassigned, OutcomeDryRun, "mystery"}, Tally{Total: 3, Other: 3}, true},
		{"mixed", []Outcome{OutcomeLocked, OutcomeFailed, OutcomeGone, OutcomeRetrying, OutcomeNone, OutcomeDryRun},
			Tally{Total: 6, Secured: 1, Bad: 1, NotLockable: 1, Retrying: 1, Waiting: 1, Other: 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := LockJob{Devices: devicesWith(tt.outcomes...)}
			got := j.Tally()
			assert.Equal(t, tt.want, got)
			assert.Equal(t, got.Total, got.Secured+got.Bad+got.NotLockable+got.Retrying+got.Waiting+got.Other,
				"every device is counted once")
			assert.Equal(t, tt.allFinal, j.AllFinal())
		})
	}
}

func TestIsMac(t *testing.T) {
	for p, want := range map[string]bool{
		"Mac": true, "mac": true, "MAC": true, " Mac\n": true,
		"": false, "macOS": false, "iPhone": false, "iPad": false, "AppleTV": false,
		"Mac\u00a0": false, "M\u0430c": false, // Unicode space, Cyrillic а
	} {
		assert.Equal(t, want, IsMac(p), "IsMac(%q)", p)
	}
}

func TestLockJobHasMacSecured(t *testing.T) {
	dev := func(platform string, o Outcome) DeviceState {
		return DeviceState{Device: Device{Platform: platform}, Outcome: o}
	}
	tests := []struct {
		name string
		ds   []DeviceState
		want bool
	}{
		{"none", nil, false},
		{"locked Mac", []DeviceState{dev("Mac", OutcomeLocked)}, true},
		{"lock pending Mac", []DeviceState{dev("Mac", OutcomeLockPending)}, true},
		{"already locked Mac", []DeviceState{dev("mac", OutcomeAlreadyLocked)}, true},
		{"failed Mac", []DeviceState{dev("Mac", OutcomeFailed)}, false},
		{"dry-run Mac", []DeviceState{dev("Mac", OutcomeDryRun)}, false},
		{"locked iPhone", []DeviceState{dev("iPhone", OutcomeLocked)}, false},
		{"locked iPhone, failed Mac", []DeviceState{dev("iPhone", OutcomeLocked), dev("Mac", OutcomeFailed)}, false},
		{"failed Mac, locked Mac", []DeviceState{dev("Mac", OutcomeFailed), dev("Mac", OutcomeLocked)}, true},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, LockJob{Devices: tt.ds}.HasMacSecured(), tt.name)
	}
}

func TestLockJobClone(t *testing.T) {
	orig := LockJob{
		ID:           "L1",
		Triggers:     []Trigger{{ID: "okta:1"}},
		Shown:        []Device{{ID: "D1"}},
		Devices:      []DeviceState{{Device: Device{ID: "D1"}, Outcome: OutcomeNone}},
		PINsSentTo:   []string{"U1"},
		PINsFailedTo: []string{"U2"},
	}
	c := orig.Clone()
	assert.Equal(t, orig, c)
	c.Triggers[0].ID = "x"
	c.Shown[0].ID = "x"
	c.Devices[0].Outcome = OutcomeLocked
	c.PINsSentTo[0] = "x"
	c.PINsFailedTo[0] = "x"
	assert.Equal(t, "okta:1", orig.Triggers[0].ID)
	assert.Equal(t, "D1", orig.Shown[0].ID)
	assert.Equal(t, OutcomeNone, orig.Devices[0].Outcome)
	assert.Equal(t, "U1", orig.PINsSentTo[0])
	assert.Equal(t, "U2", orig.PINsFailedTo[0])
}

func TestPostDue(t *testing.T) {
	now := t0
	tests := []struct {
		name string
		p    Post
		want bool
	}{
		{"new revision", Post{Rev: 1}, true},
		{"posted", Post{Rev: 2, PostedRev: 2}, false},
		{"posted ahead (never happens, but not due)", Post{Rev: 1, PostedRev: 2}, false},
		{"edit waiting", Post{Rev: 3, PostedRev: 2}, true},
		{"zero revision", Post{}, false},
		{"retry not yet due", Post{Rev: 1, NextTry: now.Add(time.Nanosecond)}, false},
		{"retry due now", Post{Rev: 1, NextTry: now}, true},
		{"retry overdue", Post{Rev: 1, NextTry: now.Add(-time.Hour)}, true},
		{"given up", Post{Rev: 1, Done: true}, false},
		{"in a digest", Post{Rev: 1, Digest: "digest:D1"}, false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.p.Due(now), tt.name)
	}
}

func TestPostAddCopy(t *testing.T) {
	p := Post{TS: "1.0"}
	assert.False(t, p.AddCopy(""), "empty ts")
	assert.False(t, p.AddCopy("1.0"), "the message itself")
	assert.True(t, p.AddCopy("2.0"))
	assert.False(t, p.AddCopy("2.0"), "twice")
	assert.True(t, p.AddCopy("3.0"))
	assert.Equal(t, []string{"2.0", "3.0"}, p.Copies)

	unposted := Post{}
	assert.False(t, unposted.AddCopy(""))
	assert.True(t, unposted.AddCopy("9.9"))
	assert.Equal(t, []string{"9.9"}, unposted.Copies)
}

func TestPostClone(t *testing.T) {
	p := Post{Key: "request:R1", Copies: []string{"1.0"}}
	c := p.Clone()
	assert.Equal(t, p, c)
	c.Copies[0] = "x"
	assert.Equal(t, "1.0", p.Copies[0])
}

func TestPostKey(t *testing.T) {
	tests := []struct{ kind, ref, key string }{
		{PostRequest, "R1", "request:R1"},
		{PostLock, "L1", "lock:L1"},
		{PostNotice, "N1", "notice:N1"},
		{PostDigest, "D1", "digest:D1"},
		{PostRequest, "", "request:"},
		{PostNotice, "a:b", "notice:a:b"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.key, PostKey(tt.kind, tt.ref))
		kind, ref := SplitPostKey(tt.key)
		assert.Equal(t, tt.kind, kind, "kind of %q", tt.key)
		assert.Equal(t, tt.ref, ref, "ref of %q", tt.key)
	}
	kind, ref := SplitPostKey("nocolon")
	assert.Equal(t, "nocolon", kind)
	assert.Empty(t, ref)
	kind, ref = SplitPostKey("")
	assert.Empty(t, kind)
	assert.Empty(t, ref)
}
