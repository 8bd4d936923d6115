package kandji

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// BusyError is Lock's error when Kandji refused the lock and its command list shows no lock of
// the device on its way or completed: the device is busy with another MDM command, or Kandji
// gave a reason this package cannot tell apart from that. The lock was not queued; sending it
// again later is safe. errors.Is(err, ErrBusy) matches it.
type BusyError struct {
	// StatusCode is Kandji's answer to the lock POST, 400 or 409.
	StatusCode int
	// Command names the MDM command the device is busy with, e.g. "EraseDevice", from Kandji's
	// message or its command list; "" when neither shows one.
	Command string
	// State is that command's state ("running", "pending", …); "" when Command is "".
	State string
	// Message is Kandji's explanation, cleaned like Error.Message.
	Message string
}

// Error reads like `kandji: POST /devices/{id}/action/lock: 400 Bad Request: the device is busy,
// EraseDevice is running, so the lock was not queued; send it again later (Kandji: "…")`.
func (e *BusyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "kandji: POST %s: %d", routeLock, e.StatusCode)
	if text := http.StatusText(e.StatusCode); text != "" {
		b.WriteString(" " + text)
	}
	if e.Command != "" {
		fmt.Fprintf(&b, ": the device is busy, %s is %s, so the lock was not queued; send it again later", e.Command, e.State)
	} else {
		b.WriteString(": Kandji refused the lock and lists no lock of the device on its way or completed; " +
			"the device is probably busy with another command, send the lock again later")
	}
	if e.Message != "" {
		fmt.Fprintf(&b, " (Kandji: %q)", e.Message)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrBusy) true.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// unconfirmedError is Lock's error for LockUnconfirmed: the refusal, and why the command list
// could not be read. It unwraps to that reason, so errors.As finds the failed read's *Error
// (with its permission hint) and a cancelled context still shows as one.
type unconfirmedError struct {
	refusal *Error
	cause   error
}

// Error names the refusal and why its meaning could not be checked.
func (e *unconfirmedError) Error() string {
	return fmt.Sprintf("%s: Kandji answered the lock with %s and whether a lock is on its way is unknown, "+
		"because the device's command list could not be read: %s", ErrUnconfirmed, e.refusal.status(), e.cause)
}

// Is makes errors.Is(err, ErrUnconfirmed) true.
func (e *unconfirmedError) Is(target error) bool { return target == ErrUnconfirmed }

// Unwrap exposes why the command list could not be read.
func (e *unconfirmedError) Unwrap() error { return e.cause }

// status is "400 Bad Request: <message>", the part of Error() that describes the answer.
func (e *Error) status() string {
	s := fmt.Sprint(e.StatusCode)
	if text := http.StatusText(e.StatusCode); text != "" {
		s += " " + text
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// isLockRefusal reports a lock answer that needs the command list to be understood: any 400 or
// 409 except "not allowed for current device", which is final.
func isLockRefusal(e *Error) bool {
	return (e.StatusCode == http.StatusBadRequest || e.StatusCode == http.StatusConflict) && !e.Is(ErrNotAllowed)
}

// judgeRefusal decides what a refused lock means from the device's commands, in this order:
//  1. a lock pending, running or deferred: LockPending, whatever Kandji's message says;
//  2. Kandji's message names another command as running or pending: ErrBusy, even when an
//     older lock completed, since the message is about that other command, not the lock;
//  3. the latest lock completed: LockAlreadyDone;
//  4. no lock, or the latest one failed: ErrBusy, naming the newest command in flight if any.
//
// The command list's order is undocumented, so "latest" is by date_requested; on a tie the
// lock that did not complete wins, so a tie never yields ✅.
func judgeRefusal(refusal *Error, cmds []Command) (LockResult, error) {
	var inFlight, latest *Command
	for i := range cmds {
		cmd := &cmds[i]
		if !cmd.IsLock() {
			continue
		}
		if cmd.Status.InFlight() && (inFlight == nil || cmd.RequestedAt.After(inFlight.RequestedAt)) {
			inFlight = cmd
		}
		if latest == nil || cmd.RequestedAt.After(latest.RequestedAt) ||
			cmd.RequestedAt.Equal(latest.RequestedAt) && latest.Status == CommandCompleted {
			latest = cmd
		}
	}
	if inFlight != nil {
		detail := fmt.Sprintf("%s is %s", inFlight.Name(), inFlight.Status)
		if !inFlight.RequestedAt.IsZero() {
			detail += ", requested " + stamp(inFlight.RequestedAt)
		}
		return LockResult{Status: LockPending, Detail: detail, AlreadyLocked: true}, nil
	}
	busy := &BusyError{StatusCode: refusal.StatusCode, Message: refusal.Message}
	if name, state, ok := otherCommandIn(refusal.Message); ok {
		busy.Command, busy.State = name, state
		if name == "" {
			busy.Command, busy.State = newestOtherInFlight(cmds)
		} else if cmd := findInFlight(cmds, name); cmd != nil {
			busy.State = cmd.Status.String()
		}
		if busy.Command == "" {
			busy.State = ""
		}
		return LockResult{}, busy
	}
	if latest != nil && latest.Status == CommandCompleted {
		detail := latest.Name() + " completed"
		if !latest.CompletedAt.IsZero() {
			detail += " " + stamp(latest.CompletedAt)
		}
		return LockResult{Status: LockAlreadyDone, Detail: detail, AlreadyLocked: true}, nil
	}
	busy.Command, busy.State = newestOtherInFlight(cmds)
	return LockResult{}, busy
}

// commandNamed finds "command (EraseDevice)" in Kandji's "Another MDM command (EraseDevice) is
// already running".
var commandNamed = regexp.MustCompile(`(?i)\bcommand \(([A-Za-z][A-Za-z0-9_.]{0,63})\)`)

// otherCommandIn reads a refusal message that blames a command other than the lock. name is ""
// when the message blames one without naming it ("a device restart is already pending").
func otherCommandIn(msg string) (name, state string, ok bool) {
	lower := asciiLower(msg)
	switch {
	case strings.Contains(lower, "running"):
		state = "running"
	case strings.Contains(lower, "pending"):
		state = "pending"
	default:
		state = "in progress"
	}
	if m := commandNamed.FindStringSubmatch(msg); m != nil {
		if asciiEqualFold(m[1], lockCommand) {
			return "", "", false
		}
		return m[1], state, true
	}
	blames := strings.Contains(lower, "already running") || strings.Contains(lower, "already pending") ||
		strings.Contains(lower, "in progress")
	if blames && !strings.Contains(lower, "lock") {
		return "", state, true
	}
	return "", "", false
}

// newestOtherInFlight names the most recently requested command in flight that is not a lock.
func newestOtherInFlight(cmds []Command) (name, state string) {
	var newest *Command
	for i := range cmds {
		cmd := &cmds[i]
		if !cmd.IsLock() && cmd.Status.InFlight() && cmd.Name() != "" &&
			(newest == nil || cmd.RequestedAt.After(newest.RequestedAt)) {
			newest = cmd
		}
	}
	if newest == nil {
		return "", ""
	}
	return newest.Name(), newest.Status.String()
}

// findInFlight returns the newest command in flight called name.
func findInFlight(cmds []Command, name string) *Command {
	var found *Command
	for i := range cmds {
		cmd := &cmds[i]
		if cmd.Status.InFlight() && (asciiEqualFold(cmd.CommandType, name) || asciiEqualFold(cmd.RequestType, name)) &&
			(found == nil || cmd.RequestedAt.After(found.RequestedAt)) {
			found = cmd
		}
	}
	return found
}

// stamp formats a command time for a Detail.
func stamp(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}
