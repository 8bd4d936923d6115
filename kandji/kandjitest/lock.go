package kandjitest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// handleLock serves the lock command. In order: a platform that cannot be locked answers 400
// "Command is not allowed for current device"; a device set to conflict answers 409; a device
// with a lock on its way or completed answers 400 "This device is already locked." (Kandji's
// documented wording); a device busy with another command (SetBusy) answers 400 "Another MDM
// command (…) is already running"; otherwise a DeviceLock command is queued and a Mac gets a new
// PIN in {"PIN": …}, an iPhone or iPad an empty object.
func (s *Server) handleLock(w http.ResponseWriter, r *http.Request) {
	var body struct{ Message, PhoneNumber string }
	raw, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err == nil && len(strings.TrimSpace(string(raw))) > 0 {
		err = json.Unmarshal(raw, &body)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "JSON parse error."})
		return
	}
	pin, err := newPIN()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"detail": "PIN generation failed."})
		return
	}

	id := r.PathValue("id")
	s.mu.Lock()
	d, ok := s.devices[id]
	if !ok {
		s.mu.Unlock()
		writeNotFound(w)
		return
	}
	s.settle(d)
	d.lockMessage, d.lockPhone = body.Message, body.PhoneNumber
	status, answer, delay := s.lockLocked(d, pin)
	s.mu.Unlock()

	if delay > 0 && !waitOrGone(r, delay) {
		return
	}
	writeJSON(w, status, answer)
}

// lockLocked applies a lock POST to d and returns the answer, with the delay before it is sent;
// s.mu is held and d settled.
func (s *Server) lockLocked(d *device, pin string) (status int, answer any, delay time.Duration) {
	switch blocker := d.blockedBy(); {
	case !lockable(d.Platform):
		s.countLockAnswer(d.ID, func(a *LockAnswers) { a.NotAllowed++ })
		return http.StatusBadRequest, "Command is not allowed for current device", 0
	case d.conflict:
		s.countLockAnswer(d.ID, func(a *LockAnswers) { a.Conflict++ })
		return http.StatusConflict, map[string]string{"detail": "The request conflicts with the current state of the device."}, 0
	case d.locked():
		s.countLockAnswer(d.ID, func(a *LockAnswers) { a.AlreadyLocked++ })
		return http.StatusBadRequest, "This device is already locked.", 0
	case blocker != nil:
		s.countLockAnswer(d.ID, func(a *LockAnswers) { a.Busy++ })
		return http.StatusBadRequest, fmt.Sprintf("Another MDM command (%s) is already running", blocker.CommandType), 0
	}
	s.countLockAnswer(d.ID, func(a *LockAnswers) { a.Accepted++ })
	s.addCommand(d, &command{Command: Command{CommandType: LockCommandType, Status: CommandPending}, auto: true})
	if !isMac(d.Platform) {
		return http.StatusOK, struct{}{}, s.lockAnswerDelay
	}
	d.pin = pin
	return http.StatusOK, map[string]string{"PIN": pin}, s.lockAnswerDelay
}

// waitOrGone waits d, or until the client hangs up (false).
func waitOrGone(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}
