package kandjitest

import (
	"slices"
	"strings"
)

// LockAnswers counts how the fake answered the lock POSTs for one device.
type LockAnswers struct {
	// Accepted counts 200s: a lock command was queued (also when the client hung up before the
	// answer, see SetLockAnswerDelay).
	Accepted int
	// AlreadyLocked counts 400 "This device is already locked.".
	AlreadyLocked int
	// Busy counts 400 "Another MDM command (…) is already running".
	Busy int
	// Conflict counts 409s (SetLockConflict).
	Conflict int
	// NotAllowed counts 400 "Command is not allowed for current device".
	NotAllowed int
	// Other counts every other lock POST: injected failures, throttling, bad tokens, unreadable
	// bodies, unknown devices.
	Other int
}

// LockPosts counts the lock POSTs that reached the fake for device id, including those answered
// with an injected failure, a throttle or a 401.
func (s *Server) LockPosts(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lockPosts[id]
}

// LockAnswers tells the lock POSTs for device id apart by the answer they got.
func (s *Server) LockAnswers(id string) LockAnswers {
	s.mu.Lock()
	defer s.mu.Unlock()
	var a LockAnswers
	if counted := s.lockAnswers[id]; counted != nil {
		a = *counted
	}
	a.Other = s.lockPosts[id] - a.Accepted - a.AlreadyLocked - a.Busy - a.Conflict - a.NotAllowed
	return a
}

// countLockAnswer records how a lock POST for id was answered; s.mu is held.
func (s *Server) countLockAnswer(id string, count func(*LockAnswers)) {
	a := s.lockAnswers[id]
	if a == nil {
		a = &LockAnswers{}
		s.lockAnswers[id] = a
	}
	count(a)
}

// Commands returns a copy of device id's MDM command history, oldest first (nil for an unknown
// device).
func (s *Server) Commands(id string) []Command {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[id]
	if !ok {
		return nil
	}
	s.settle(d)
	out := make([]Command, 0, len(d.commands))
	for _, c := range d.commands {
		out = append(out, c.Command)
	}
	return out
}

// Locked reports whether device id has a lock on its way or completed since the last Unlock.
func (s *Server) Locked(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[id]
	if !ok {
		return false
	}
	s.settle(d)
	return d.locked()
}

// PIN returns the unlock PIN of the last lock of a Mac, "" otherwise.
func (s *Server) PIN(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.devices[id]; ok {
		return d.pin
	}
	return ""
}

// LastLockRequest returns the Message and PhoneNumber of the last lock POST for device id.
func (s *Server) LastLockRequest(id string) (message, phone string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.devices[id]; ok {
		return d.lockMessage, d.lockPhone
	}
	return "", ""
}

// SetLockPending simulates a lock queued by someone else: a pending DeviceLock command is added
// (a Mac gets a PIN), so lock POSTs answer 400 "This device is already locked." It reports
// whether the device exists.
func (s *Server) SetLockPending(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[id]
	if !ok {
		return false
	}
	s.settle(d)
	if !d.locked() && isMac(d.Platform) {
		pin, err := newPIN()
		if err != nil {
			return false
		}
		d.pin = pin
	}
	s.addCommand(d, &command{Command: Command{CommandType: LockCommandType, Status: CommandPending}, auto: true})
	return true
}

// SetBusy queues a pending command of commandType (e.g. "EraseDevice") that the device must
// finish first: until it completes (CompleteCommands), lock POSTs answer 400 "Another MDM command
// (commandType) is already running", unless a lock is already on its way. It reports whether
// the device exists.
func (s *Server) SetBusy(id, commandType string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[id]
	if ok {
		s.addCommand(d, &command{Command: Command{CommandType: commandType, Status: CommandPending}, blocking: true})
	}
	return ok
}

// SetLockConflict makes lock POSTs for device id answer 409 Conflict (on) or not (off), whatever
// the device's state; Kandji does not document when it sends 409. It reports whether the device
// exists.
func (s *Server) SetLockConflict(id string, on bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[id]
	if ok {
		d.conflict = on
	}
	return ok
}

// CompleteCommands completes every command of device id still in flight, as a device that checks
// in does, and returns how many it completed.
func (s *Server) CompleteCommands(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[id]
	if !ok {
		return 0
	}
	n := 0
	now := s.now()
	for _, c := range d.commands {
		if c.Status.inFlight() {
			c.Status, c.CompletedAt = CommandCompleted, now
			n++
		}
	}
	return n
}

// AddCommand adds c to device id's history as it is (see Command for the defaults filled in), for
// histories a test needs: a failed lock, one deferred by the device, years of inventory
// commands. A DeviceLock in flight or completed makes the device locked. It reports whether the
// device exists.
func (s *Server) AddCommand(id string, c Command) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[id]
	if ok {
		s.addCommand(d, &command{Command: c})
	}
	return ok
}

// Unlock is the person at the device entering the PIN: the locks queued so far no longer make the
// device locked once completed, so a new lock POST is accepted (with a new PIN for a Mac). A lock
// still in flight keeps the device locked. It reports whether the device exists.
func (s *Server) Unlock(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[id]
	if ok {
		d.unlocks++
	}
	return ok
}

// SetUserEmail assigns device id to raw exactly as given, surrounding spaces and case included,
// as a directory sync might store it; "" unassigns the device. It reports whether the device
// exists.
func (s *Server) SetUserEmail(id, raw string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[id]
	if !ok {
		return false
	}
	s.unindexEmail(d)
	d.UserEmail = raw
	s.indexEmail(d)
	return true
}

// lockable lists the platforms the fake locks; others answer "Command is not allowed for current
// device".
func lockable(platform string) bool {
	return slices.ContainsFunc([]string{"Mac", "iPhone", "iPad"}, func(p string) bool {
		return strings.EqualFold(p, platform)
	})
}

func isMac(platform string) bool { return strings.EqualFold(platform, "Mac") }
