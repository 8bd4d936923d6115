package kandji

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// CommandStatus is the state of an MDM command in Kandji's command list, by Kandji's documented
// numbers.
type CommandStatus int

const (
	// CommandPending: queued, not yet delivered to the device.
	CommandPending CommandStatus = 1
	// CommandRunning: delivered, the device has not reported back yet.
	CommandRunning CommandStatus = 2
	// CommandCompleted: the device acknowledged the command.
	CommandCompleted CommandStatus = 3
	// CommandFailed: the device or Kandji reported an error.
	CommandFailed CommandStatus = 4
	// CommandNotNow: the device answered NotNow and will be asked again.
	CommandNotNow CommandStatus = 5
)

// String names the status for messages and logs.
func (s CommandStatus) String() string {
	switch s {
	case CommandPending:
		return "pending"
	case CommandRunning:
		return "running"
	case CommandCompleted:
		return "completed"
	case CommandFailed:
		return "failed"
	case CommandNotNow:
		return "deferred by the device (NotNow)"
	}
	return "in an unknown state (" + strconv.Itoa(int(s)) + ")"
}

// InFlight reports whether Kandji still means to deliver the command: pending, running, or
// deferred by the device.
func (s CommandStatus) InFlight() bool {
	return s == CommandPending || s == CommandRunning || s == CommandNotNow
}

// Command is one MDM command in a device's history (GET /devices/{id}/commands).
type Command struct {
	// UUID is Kandji's ID of the command.
	UUID string
	// CommandType and RequestType are Kandji's names for the command, e.g. "EraseDevice".
	CommandType, RequestType string
	// Status is where the command stands; 0 when Kandji sent something unreadable.
	Status CommandStatus
	// RequestedAt and CompletedAt are zero when Kandji sent none (or nothing readable).
	RequestedAt, CompletedAt time.Time
}

// lockCommand is Apple's MDM request type for a remote lock. Kandji's own spelling in the command
// list is not documented; IsLock therefore accepts it in either field, in any case.
const lockCommand = "DeviceLock"

// IsLock reports whether c is an MDM lock (Apple's DeviceLock), matched case-insensitively on
// CommandType or RequestType. Kandji does not document the string it uses, so this is Apple's
// name, unverified against a live tenant.
func (c Command) IsLock() bool {
	return asciiEqualFold(trimASCIISpace(c.CommandType), lockCommand) ||
		asciiEqualFold(trimASCIISpace(c.RequestType), lockCommand)
}

// Name is CommandType, or RequestType when Kandji sent no CommandType.
func (c Command) Name() string {
	if c.CommandType != "" {
		return c.CommandType
	}
	return c.RequestType
}

// commandsPageSize is the page size Kandji's documentation uses for the command list.
const commandsPageSize = 300

// maxCommandPages bounds how much of a device's history Commands reads.
const maxCommandPages = 20

// Commands returns every MDM command Kandji lists for device id, paging with limit and offset.
// Kandji does not document the order; its example lists the oldest first. A history longer than
// 6,000 commands is refused with an error rather than read in part.
func (c *Client) Commands(ctx context.Context, id string) ([]Command, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	var out []Command
	for page := 0; ; page++ {
		if page == maxCommandPages {
			return nil, fmt.Errorf("kandji: GET %s: the device lists more than %d commands",
				routeCommands, maxCommandPages*commandsPageSize)
		}
		cmds, count, err := c.commandsPage(ctx, id, len(out))
		if err != nil {
			return nil, err
		}
		out = append(out, cmds...)
		if len(cmds) < commandsPageSize || count >= 0 && len(out) >= count {
			return out, nil
		}
	}
}

// recentCommands returns the commands that can show whether a lock is on its way: all of them
// for a short history, else the first and the last page. The newest commands are at one end of
// the list whichever way Kandji sorts it by date, so two requests do where paging through years
// of history would spend the rate budget.
func (c *Client) recentCommands(ctx context.Context, id string) ([]Command, error) {
	head, count, err := c.commandsPage(ctx, id, 0)
	switch {
	case err != nil:
		return nil, err
	case len(head) < commandsPageSize || count >= 0 && count <= len(head):
		return head, nil
	case count < 0:
		// Without a count the last page cannot be found directly.
		return c.Commands(ctx, id)
	}
	tail, _, err := c.commandsPage(ctx, id, max(count-commandsPageSize, commandsPageSize))
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(head))
	for _, cmd := range head {
		seen[cmd.UUID] = true
	}
	for _, cmd := range tail {
		if cmd.UUID == "" || !seen[cmd.UUID] {
			head = append(head, cmd)
		}
	}
	return head, nil
}

// commandsPage reads one page of the command list; count is Kandji's total, -1 when it sent none.
func (c *Client) commandsPage(ctx context.Context, id string, offset int) (cmds []Command, count int, err error) {
	q := url.Values{"limit": {strconv.Itoa(commandsPageSize)}, "offset": {strconv.Itoa(offset)}}
	resp, err := c.do(ctx, request{method: http.MethodGet, route: routeCommands, path: devicePath(id) + "/commands", query: q})
	if err != nil {
		return nil, 0, err
	}
	cmds, count, err = decodeCommands(resp.body)
	if err != nil {
		return nil, 0, fmt.Errorf("kandji: GET %s: %w", routeCommands, err)
	}
	return cmds, count, nil
}

// wireCommand mirrors one entry of the command list, tolerant of type drift like wireDevice.
type wireCommand struct {
	UUID          flexString `json:"uuid"`
	CommandType   flexString `json:"command_type"`
	RequestType   flexString `json:"request_type"`
	Status        flexString `json:"status"`
	DateRequested flexTime   `json:"date_requested"`
	DateCompleted flexTime   `json:"date_completed"`
}

// decodeCommands reads Kandji's envelope {"device_id", "commands": {"count", "next", "previous",
// "results": […]}}. An answer without the results array is an error, never "no commands": the
// absence of a lock in it would otherwise be read as evidence.
func decodeCommands(body []byte) (cmds []Command, count int, err error) {
	var env struct {
		Commands *struct {
			Count   flexString      `json:"count"`
			Results json.RawMessage `json:"results"`
		} `json:"commands"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(body), &env); err != nil {
		return nil, 0, errors.New("decoding commands: the answer is not the expected JSON")
	}
	var results []byte
	if env.Commands != nil {
		results = bytes.TrimSpace(env.Commands.Results)
	}
	if len(results) == 0 || results[0] != '[' {
		return nil, 0, errors.New(`decoding commands: the answer has no "commands.results" list`)
	}
	var ws []wireCommand
	if err := json.Unmarshal(results, &ws); err != nil {
		return nil, 0, errors.New("decoding commands: the results are not a list of commands")
	}
	count = -1
	if env.Commands.Count != "" {
		if n, err := strconv.Atoi(string(env.Commands.Count)); err == nil && n >= 0 {
			count = n
		}
	}
	cmds = make([]Command, 0, len(ws))
	for _, w := range ws {
		status, _ := strconv.Atoi(trimASCIISpace(string(w.Status)))
		cmds = append(cmds, Command{
			UUID:        trimASCIISpace(string(w.UUID)),
			CommandType: trimASCIISpace(string(w.CommandType)),
			RequestType: trimASCIISpace(string(w.RequestType)),
			Status:      CommandStatus(status),
			RequestedAt: time.Time(w.DateRequested),
			CompletedAt: time.Time(w.DateCompleted),
		})
	}
	return cmds, count, nil
}
