package kandjitest

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// CommandStatus is an MDM command's state by Kandji's documented numbers.
type CommandStatus int

const (
	// CommandPending: queued, not yet delivered.
	CommandPending CommandStatus = 1
	// CommandRunning: delivered, no answer from the device yet.
	CommandRunning CommandStatus = 2
	// CommandCompleted: acknowledged by the device.
	CommandCompleted CommandStatus = 3
	// CommandFailed: the device or Kandji reported an error.
	CommandFailed CommandStatus = 4
	// CommandNotNow: the device answered NotNow and will be asked again.
	CommandNotNow CommandStatus = 5
)

// inFlight reports whether Kandji still means to deliver a command in this state.
func (st CommandStatus) inFlight() bool {
	return st == CommandPending || st == CommandRunning || st == CommandNotNow
}

// LockCommandType is the command_type and request_type the fake gives lock commands: Apple's MDM
// name. Kandji's own spelling is undocumented.
const LockCommandType = "DeviceLock"

// Command is one MDM command in a device's history, as GET …/commands serves it.
type Command struct {
	// UUID is the command's ID; AddCommand generates one when it is empty.
	UUID string
	// CommandType and RequestType are its names, e.g. "DeviceLock" or "EraseDevice"; AddCommand
	// copies one to the other when only one is given.
	CommandType, RequestType string
	// Status is where it stands.
	Status CommandStatus
	// RequestedAt is when it was queued; AddCommand uses the fake's clock when it is zero.
	RequestedAt time.Time
	// CompletedAt is when it completed or failed, zero otherwise.
	CompletedAt time.Time
}

// command is a Command with the fake's bookkeeping.
type command struct {
	Command
	auto     bool // a lock the fake queued, which SetLockCompletion completes
	blocking bool // the device refuses locks while it is in flight (SetBusy)
	unlocks  int  // the device's Unlock count when the command was added
}

func (c *command) isLock() bool { return c.CommandType == LockCommandType }

// addCommand files c in d's history by date requested; s.mu is held.
func (s *Server) addCommand(d *device, c *command) {
	s.seq++
	if c.UUID == "" {
		c.UUID = fakeUUID("command", strconv.Itoa(s.seq))
	}
	if c.CommandType == "" {
		c.CommandType = c.RequestType
	}
	if c.RequestType == "" {
		c.RequestType = c.CommandType
	}
	if c.RequestedAt.IsZero() {
		c.RequestedAt = s.now()
	}
	c.unlocks = d.unlocks
	i, _ := slices.BinarySearchFunc(d.commands, c.RequestedAt, func(x *command, t time.Time) int {
		if x.RequestedAt.After(t) {
			return 1
		}
		return -1 // equal times keep their order of arrival
	})
	d.commands = slices.Insert(d.commands, i, c)
}

// settle completes the fake's own locks whose completion time has come; s.mu is held.
func (s *Server) settle(d *device) {
	if s.lockCompletion <= 0 {
		return
	}
	now := s.now()
	for _, c := range d.commands {
		if done := c.RequestedAt.Add(s.lockCompletion); c.auto && c.Status.inFlight() && !now.Before(done) {
			c.Status, c.CompletedAt = CommandCompleted, done
		}
	}
}

// locked reports a lock on its way or completed since the last Unlock; s.mu is held and d
// settled.
func (d *device) locked() bool {
	for _, c := range d.commands {
		if !c.isLock() {
			continue
		}
		if c.Status.inFlight() || c.Status == CommandCompleted && c.unlocks == d.unlocks {
			return true
		}
	}
	return false
}

// blockedBy returns the in-flight command that makes the device refuse a lock, if any.
func (d *device) blockedBy() *command {
	for _, c := range slices.Backward(d.commands) {
		if c.blocking && c.Status.inFlight() {
			return c
		}
	}
	return nil
}

// handleCommands serves GET /api/v1/devices/{id}/commands with Kandji's envelope, oldest first as
// Kandji's example is, paged by limit and offset with the same strict rules as the device list.
func (s *Server) handleCommands(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	failure := s.commandsFailure
	s.mu.Unlock()
	if failure != 0 {
		if failure == http.StatusForbidden {
			writeJSON(w, failure, map[string]string{"detail": "You do not have permission to perform this action."})
			return
		}
		writeInjected(w, failure, 0)
		return
	}
	limit, offset, ok := pageParams(w, r.URL.Query())
	if !ok {
		return
	}
	id := r.PathValue("id")
	s.mu.Lock()
	d, found := s.devices[id]
	var env wireCommands
	if found {
		s.settle(d)
		n := len(d.commands)
		env = wireCommands{DeviceID: id, Commands: wireCommandPage{Count: n, Results: []wireCommand{}}}
		for _, c := range d.commands[min(offset, n):min(offset+limit, n)] {
			env.Commands.Results = append(env.Commands.Results, toWireCommand(c))
		}
		if offset+limit < n {
			env.Commands.Next = pageURL(r, limit, offset+limit)
		}
		if offset > 0 {
			env.Commands.Previous = pageURL(r, limit, max(offset-limit, 0))
		}
	}
	s.mu.Unlock()
	if !found {
		writeNotFound(w)
		return
	}
	writeJSON(w, http.StatusOK, env)
}

// pageURL is an absolute link to another page, as Django REST Framework renders next/previous.
func pageURL(r *http.Request, limit, offset int) *string {
	q := url.Values{"limit": {strconv.Itoa(limit)}, "offset": {strconv.Itoa(offset)}}
	u := fmt.Sprintf("http://%s%s?%s", r.Host, r.URL.Path, q.Encode())
	return &u
}

// wireCommands is Kandji's envelope for a device's commands.
type wireCommands struct {
	DeviceID string          `json:"device_id"`
	Commands wireCommandPage `json:"commands"`
}

type wireCommandPage struct {
	Count    int           `json:"count"`
	Next     *string       `json:"next"`
	Previous *string       `json:"previous"`
	Results  []wireCommand `json:"results"`
}

// wireCommand is one command as Kandji's example serialises it.
type wireCommand struct {
	UUID          string         `json:"uuid"`
	ErrorChain    []any          `json:"error_chain"`
	CommandType   string         `json:"command_type"`
	RequestType   string         `json:"request_type"`
	Metadata      map[string]any `json:"metadata"`
	NetworkTether bool           `json:"request_requires_network_tether"`
	Status        int            `json:"status"`
	Attempts      int            `json:"attempts"`
	DateRequested string         `json:"date_requested"`
	DateCompleted *string        `json:"date_completed"`
	LastPushed    *string        `json:"last_pushed"`
	User          any            `json:"user"`
	Priority      int            `json:"priority"`
}

// commandTime is the timestamp style of Kandji's command list.
const commandTime = "2006-01-02T15:04:05.000000Z"

func toWireCommand(c *command) wireCommand {
	w := wireCommand{
		UUID:          c.UUID,
		ErrorChain:    []any{},
		CommandType:   c.CommandType,
		RequestType:   c.RequestType,
		Metadata:      map[string]any{},
		Status:        int(c.Status),
		DateRequested: c.RequestedAt.UTC().Format(commandTime),
	}
	if c.Status != CommandPending {
		w.Attempts = 1
		pushed := c.RequestedAt.UTC().Format(commandTime)
		w.LastPushed = &pushed
	}
	if !c.CompletedAt.IsZero() {
		done := c.CompletedAt.UTC().Format(commandTime)
		w.DateCompleted = &done
	}
	return w
}
