package kandji

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/kandji/kandjitest"
)

// lockTenant holds one device of each kind Lock treats differently.
func lockTenant() []kandjitest.Device {
	return []kandjitest.Device{
		{ID: "mac-1", Platform: "Mac", UserEmail: "alice@corp.example"},
		{ID: "iphone-1", Platform: "iPhone", UserEmail: "alice@corp.example"},
		{ID: "ipad-1", Platform: "iPad", UserEmail: "alice@corp.example"},
		{ID: "tv-1", Platform: "AppleTV"},
		{ID: "mac-pending", Platform: "Mac", UserEmail: "bob@corp.example"},
	}
}

// TestLockOutcomes runs Lock against the fake tenant in every state Kandji can refuse a lock in,
// and checks that the outcome is what Kandji's command list says about the lock, never what a
// refusal's wording suggests.
func TestLockOutcomes(t *testing.T) {
	tests := []struct {
		name        string
		id          string
		prepare     func(t *testing.T, c *Client, fake *kandjitest.Server)
		wantStatus  LockStatus
		wantPIN     bool
		wantDetail  string // substring
		wantErr     error
		wantBusy    string // BusyError.Command
		wantLocked  bool
		wantAnswers kandjitest.LockAnswers
		wantChecks  int // GET …/commands
	}{
		{name: "mac returns its PIN", id: "mac-1", wantStatus: LockAccepted, wantPIN: true, wantLocked: true,
			wantAnswers: kandjitest.LockAnswers{Accepted: 1}},
		{name: "iphone", id: "iphone-1", wantStatus: LockAccepted, wantLocked: true,
			wantAnswers: kandjitest.LockAnswers{Accepted: 1}},
		{name: "ipad", id: "ipad-1", wantStatus: LockAccepted, wantLocked: true,
			wantAnswers: kandjitest.LockAnswers{Accepted: 1}},
		{
			name: "second lock while the first is pending", id: "mac-1", wantStatus: LockPending,
			wantDetail: "DeviceLock is pending", wantLocked: true, wantChecks: 1,
			wantAnswers: kandjitest.LockAnswers{Accepted: 1, AlreadyLocked: 1},
			prepare: func(t *testing.T, c *Client, _ *kandjitest.Server) {
				res, err := c.Lock(t.Context(), "mac-1", LockOptions{})
				require.NoError(t, err)
				require.Equal(t, LockAccepted, res.Status)
			},
		},
		{
			name: "second lock once the first completed", id: "mac-1", wantStatus: LockAlreadyDone,
			wantDetail: "DeviceLock completed", wantLocked: true, wantChecks: 1,
			wantAnswers: kandjitest.LockAnswers{Accepted: 1, AlreadyLocked: 1},
			prepare: func(t *testing.T, c *Client, fake *kandjitest.Server) {
				_, err := c.Lock(t.Context(), "mac-1", LockOptions{})
				require.NoError(t, err)
				require.Equal(t, 1, fake.CompleteCommands("mac-1"))
			},
		},
		{
			name: "someone else's lock pending", id: "mac-pending", wantStatus: LockPending, wantLocked: true, wantChecks: 1,
			wantAnswers: kandjitest.LockAnswers{AlreadyLocked: 1},
			prepare: func(t *testing.T, _ *Client, fake *kandjitest.Server) {
				require.True(t, fake.SetLockPending("mac-pending"))
			},
		},
		{
			name: "busy erasing", id: "mac-1", wantErr: ErrBusy, wantBusy: "EraseDevice", wantDetail: "EraseDevice is pending",
			wantChecks: 1, wantAnswers: kandjitest.LockAnswers{Busy: 1},
			prepare: func(t *testing.T, _ *Client, fake *kandjitest.Server) {
				require.True(t, fake.SetBusy("mac-1", "EraseDevice"))
			},
		},
		{
			// The lock of last year completed, but Kandji's refusal is about the erase.
			name: "busy after an old completed lock", id: "mac-1", wantErr: ErrBusy, wantBusy: "EraseDevice",
			wantChecks: 1, wantAnswers: kandjitest.LockAnswers{Busy: 1},
			prepare: func(t *testing.T, _ *Client, fake *kandjitest.Server) {
				require.True(t, fake.AddCommand("mac-1", kandjitest.Command{CommandType: "DeviceLock",
					Status: kandjitest.CommandCompleted, RequestedAt: time.Now().AddDate(-1, 0, 0)}))
				require.True(t, fake.Unlock("mac-1"))
				require.True(t, fake.SetBusy("mac-1", "EraseDevice"))
			},
		},
		{
			name: "409 with no lock", id: "mac-1", wantErr: ErrBusy, wantChecks: 1,
			wantAnswers: kandjitest.LockAnswers{Conflict: 1},
			prepare: func(t *testing.T, _ *Client, fake *kandjitest.Server) {
				require.True(t, fake.SetLockConflict("mac-1", true))
			},
		},
		{
			name: "409 with a lock pending", id: "mac-pending", wantStatus: LockPending, wantLocked: true, wantChecks: 1,
			wantAnswers: kandjitest.LockAnswers{Conflict: 1},
			prepare: func(t *testing.T, _ *Client, fake *kandjitest.Server) {
				require.True(t, fake.SetLockPending("mac-pending"))
				require.True(t, fake.SetLockConflict("mac-pending", true))
			},
		},
		{
			name: "locked, then unlocked at the device", id: "mac-1", wantStatus: LockAccepted, wantPIN: true, wantLocked: true,
			wantAnswers: kandjitest.LockAnswers{Accepted: 2},
			prepare: func(t *testing.T, c *Client, fake *kandjitest.Server) {
				_, err := c.Lock(t.Context(), "mac-1", LockOptions{})
				require.NoError(t, err)
				fake.CompleteCommands("mac-1")
				require.True(t, fake.Unlock("mac-1"))
			},
		},
		{name: "not allowed", id: "tv-1", wantErr: ErrNotAllowed, wantAnswers: kandjitest.LockAnswers{NotAllowed: 1}},
		{name: "unknown device", id: "gone-1", wantErr: ErrNotFound, wantAnswers: kandjitest.LockAnswers{Other: 1}},
		{name: "invalid id", id: "../devices", wantErr: ErrInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, fake := fakeTenant(t, lockTenant())
			if tt.prepare != nil {
				tt.prepare(t, c, fake)
			}
			before := countRoute(fake, "GET", "/api/v1/devices/"+tt.id+"/commands")
			res, err := c.Lock(t.Context(), tt.id, LockOptions{Message: "Call IT", PhoneNumber: "+1 555 0100"})
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Equal(t, LockResult{}, res)
			} else {
				require.NoError(t, err)
				assert.Equal(t, tt.wantStatus, res.Status)
				assert.True(t, res.Status.Confirmed())
				assert.Equal(t, tt.wantStatus == LockPending || tt.wantStatus == LockAlreadyDone, res.AlreadyLocked,
					"AlreadyLocked keeps old callers right")
			}
			if tt.wantDetail != "" {
				text := res.Detail
				if err != nil {
					text = err.Error()
				}
				assert.Contains(t, text, tt.wantDetail)
			}
			if tt.wantErr == ErrBusy {
				var busy *BusyError
				require.ErrorAs(t, err, &busy)
				assert.Equal(t, tt.wantBusy, busy.Command)
				var apiErr *Error
				assert.False(t, errors.As(err, &apiErr), "a busy device is not a failed request")
			}
			if tt.wantPIN {
				assert.Regexp(t, `^[0-9]{6}$`, res.PIN)
				assert.Equal(t, fake.PIN(tt.id), res.PIN)
			} else {
				assert.Empty(t, res.PIN)
			}
			assert.Equal(t, tt.wantLocked, fake.Locked(tt.id))
			assert.Equal(t, tt.wantAnswers, fake.LockAnswers(tt.id))
			assert.Equal(t, tt.wantChecks, countRoute(fake, "GET", "/api/v1/devices/"+tt.id+"/commands")-before)
		})
	}
}

// TestLockCompletesOverTime moves the fake's clock past its lock completion time: the same
// repeat is pending before and already done after.
func TestLockCompletesOverTime(t *testing.T) {
	now := time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)
	var clock clockwork
	clock.set(now)
	fake := kandjitest.NewServer(kandjitest.WithDevices(lockTenant()...), kandjitest.WithClock(clock.now))
	t.Cleanup(fake.Close)
	fake.SetLockCompletion(time.Minute)
	c := testClient(t, fake.URL(), fake.Token())

	res, err := c.Lock(t.Context(), "mac-1", LockOptions{})
	require.NoError(t, err)
	assert.Equal(t, LockAccepted, res.Status)

	clock.set(now.Add(59 * time.Second))
	res, err = c.Lock(t.Context(), "mac-1", LockOptions{})
	require.NoError(t, err)
	assert.Equal(t, LockResult{Status: LockPending, Detail: "DeviceLock is pending, requested 2025-06-01T09:00:00Z", AlreadyLocked: true}, res)

	clock.set(now.Add(time.Minute))
	res, err = c.Lock(t.Context(), "mac-1", LockOptions{})
	require.NoError(t, err)
	assert.Equal(t, LockResult{Status: LockAlreadyDone, Detail: "DeviceLock completed 2025-06-01T09:01:00Z", AlreadyLocked: true}, res)
	assert.Equal(t, kandjitest.LockAnswers{Accepted: 1, AlreadyLocked: 2}, fake.LockAnswers("mac-1"))
}

// TestLockUnconfirmed makes the command list unreadable in each way it can be: the lock is then
// reported as sent but not confirmed, with an error, never as locked.
func TestLockUnconfirmed(t *testing.T) {
	tests := []struct {
		name     string
		failure  int
		wantIs   error
		wantText string
	}{
		{"no permission", 403, ErrForbidden,
			`the API token needs the permission for GET /devices/{device_id}/commands (probably labelled "Device commands"; unverified)`},
		{"outage", 503, nil, "503 Service Unavailable"},
		{"unknown route", 404, ErrNotFound, "404 Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, fake := fakeTenant(t, lockTenant())
			require.True(t, fake.SetLockPending("mac-pending"))
			fake.SetCommandsFailure(tt.failure)
			res, err := c.Lock(t.Context(), "mac-pending", LockOptions{})
			require.ErrorIs(t, err, ErrUnconfirmed)
			if tt.wantIs != nil {
				assert.ErrorIs(t, err, tt.wantIs)
			}
			assert.Equal(t, LockUnconfirmed, res.Status)
			assert.False(t, res.Status.Confirmed())
			assert.False(t, res.AlreadyLocked, "never reported as locked")
			assert.Equal(t, `Kandji answered 400 Bad Request: This device is already locked.; the device's command list could not be read`, res.Detail)
			assert.Contains(t, err.Error(), "kandji: lock sent but not confirmed: Kandji answered the lock with 400 Bad Request")
			assert.Contains(t, err.Error(), tt.wantText)
			assert.Equal(t, 1, fake.LockPosts("mac-pending"), "the lock itself is not repeated")
		})
	}
}

// TestLockRefusalJudgedFromCommands serves command lists a live tenant might return and checks
// each verdict, including the ones that must not be read as locked.
func TestLockRefusalJudgedFromCommands(t *testing.T) {
	const (
		old    = "2024-01-01T10:00:00Z"
		recent = "2025-06-01T09:00:00Z"
		done   = "2025-06-01T09:00:05Z"
	)
	tests := []struct {
		name       string
		status     int
		refusal    string
		commands   string
		wantStatus LockStatus
		wantDetail string
		wantErr    error
		wantBusy   string // "Command is State", or "" for a BusyError naming none
	}{
		{name: "running", status: 400, refusal: `"This device is already locked."`,
			commands: commandsJSON(lockCmd(2, recent, "")), wantStatus: LockPending, wantDetail: "DeviceLock is running, requested " + recent},
		{name: "deferred by the device", status: 400, refusal: `"This device is already locked."`,
			commands: commandsJSON(lockCmd(5, recent, "")), wantStatus: LockPending,
			wantDetail: "DeviceLock is deferred by the device (NotNow), requested " + recent},
		{name: "lock named in request_type only, lower case", status: 400, refusal: `"This device is already locked."`,
			commands: commandsJSON(cmdJSON("Lock", "devicelock", 1, recent, "")), wantStatus: LockPending,
			wantDetail: "Lock is pending"},
		{name: "completed", status: 400, refusal: `"This device is already locked."`,
			commands: commandsJSON(lockCmd(3, recent, done)), wantStatus: LockAlreadyDone, wantDetail: "DeviceLock completed " + done},
		{name: "completed, newer than a failed one", status: 400, refusal: `"This device is already locked."`,
			commands: commandsJSON(lockCmd(4, old, old), lockCmd(3, recent, done)), wantStatus: LockAlreadyDone},
		{name: "failed, newer than a completed one", status: 400, refusal: `"This device is already locked."`,
			commands: commandsJSON(lockCmd(3, old, old), lockCmd(4, recent, done)), wantErr: ErrBusy, wantBusy: ""},
		{name: "same time, completed and failed", status: 400, refusal: `"This device is already locked."`,
			commands: commandsJSON(lockCmd(3, recent, done), lockCmd(4, recent, done)), wantErr: ErrBusy},
		{name: "only failed locks", status: 400, refusal: `"This device is already locked."`,
			commands: commandsJSON(lockCmd(4, recent, done)), wantErr: ErrBusy},
		{name: "no lock at all", status: 400, refusal: `"This device is already locked."`,
			commands: commandsJSON(cmdJSON("DeviceInformation", "DeviceInformation", 3, recent, done)), wantErr: ErrBusy},
		{name: "erase running", status: 400, refusal: `"Another MDM command (EraseDevice) is already running"`,
			commands: commandsJSON(cmdJSON("EraseDevice", "EraseDevice", 2, recent, "")), wantErr: ErrBusy, wantBusy: "EraseDevice is running"},
		{name: "erase named though the list does not show it", status: 400,
			refusal:  `"Another MDM command (EraseDevice) is already running"`,
			commands: commandsJSON(lockCmd(3, old, old)), wantErr: ErrBusy, wantBusy: "EraseDevice is running"},
		{name: "restart pending", status: 400, refusal: `{"detail": "a device restart is already pending"}`,
			commands: commandsJSON(lockCmd(3, old, old), cmdJSON("RestartDevice", "RestartDevice", 1, recent, "")),
			wantErr:  ErrBusy, wantBusy: "RestartDevice is pending"},
		{name: "a lock named as running, none in the list", status: 400,
			refusal:  `"Another MDM command (DeviceLock) is already running"`,
			commands: commandsJSON(), wantErr: ErrBusy},
		{name: "409, lock pending", status: 409, refusal: `{"detail": "Conflict."}`,
			commands: commandsJSON(lockCmd(1, recent, "")), wantStatus: LockPending},
		{name: "409 not allowed", status: 409, refusal: `"Command is not allowed for current device"`,
			wantErr: ErrNotAllowed},
		{name: "not allowed in an array", status: 400, refusal: `["Command is not allowed for current device"]`,
			wantErr: ErrNotAllowed},
		{name: "unparsable list", status: 400, refusal: `"This device is already locked."`,
			commands: `{"commands": {"results": [`, wantStatus: LockUnconfirmed, wantErr: ErrUnconfirmed},
		{name: "envelope without results", status: 400, refusal: `"This device is already locked."`,
			commands: `{"device_id": "dev-1", "commands": {"count": 0}}`, wantStatus: LockUnconfirmed, wantErr: ErrUnconfirmed},
		{name: "bare array", status: 400, refusal: `"This device is already locked."`,
			commands: `[]`, wantStatus: LockUnconfirmed, wantErr: ErrUnconfirmed},
		{name: "HTML", status: 400, refusal: `"This device is already locked."`,
			commands: `<html>maintenance</html>`, wantStatus: LockUnconfirmed, wantErr: ErrUnconfirmed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux := setupMux(t)
			mux.HandleFunc("POST /devices/{id}/action/lock", respond(tt.status, "application/json", tt.refusal))
			var checked atomic.Bool
			mux.HandleFunc("GET /devices/{id}/commands", func(w http.ResponseWriter, r *http.Request) {
				checked.Store(true)
				assert.Equal(t, "limit=300&offset=0", r.URL.RawQuery)
				respond(200, "application/json", tt.commands)(w, r)
			})
			res, err := c.Lock(t.Context(), "dev-1", LockOptions{})
			assert.Equal(t, tt.wantStatus, res.Status)
			assert.Contains(t, res.Detail, tt.wantDetail)
			assert.Equal(t, tt.wantErr != ErrNotAllowed, checked.Load(), "only a refusal that is not final reads the list")
			if tt.wantErr == nil {
				require.NoError(t, err)
				assert.True(t, res.AlreadyLocked)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			assert.False(t, res.Status.Confirmed())
			if tt.wantErr != ErrBusy {
				return
			}
			var busy *BusyError
			require.ErrorAs(t, err, &busy)
			assert.Equal(t, tt.status, busy.StatusCode)
			got := strings.TrimSpace(busy.Command + " is " + busy.State)
			if busy.Command == "" {
				got = ""
			}
			assert.Equal(t, tt.wantBusy, got)
			if tt.wantBusy != "" {
				assert.Contains(t, err.Error(), "the device is busy, "+tt.wantBusy+", so the lock was not queued")
			} else {
				assert.Contains(t, err.Error(), "lists no lock of the device on its way or completed")
			}
		})
	}
}

// TestLockReadsFirstAndLastPageOfLongHistory gives a device 1,000 commands with its pending lock
// last: the check reads the first and the last page only, and finds it.
func TestLockReadsFirstAndLastPageOfLongHistory(t *testing.T) {
	c, fake := fakeTenant(t, lockTenant())
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 999 {
		require.True(t, fake.AddCommand("mac-pending", kandjitest.Command{CommandType: "DeviceInformation",
			Status: kandjitest.CommandCompleted, RequestedAt: start.Add(time.Duration(i) * time.Hour)}))
	}
	require.True(t, fake.SetLockPending("mac-pending"))

	res, err := c.Lock(t.Context(), "mac-pending", LockOptions{})
	require.NoError(t, err)
	assert.Equal(t, LockPending, res.Status)
	var pages []string
	for _, r := range fake.Requests() {
		if r.Path == "/api/v1/devices/mac-pending/commands" {
			pages = append(pages, r.RawQuery)
		}
	}
	assert.Equal(t, []string{"limit=300&offset=0", "limit=300&offset=700"}, pages)
}

// commandsJSON renders Kandji's envelope around entries made by cmdJSON.
func commandsJSON(entries ...string) string {
	return fmt.Sprintf(`{"device_id": "dev-1", "commands": {"count": %d, "next": null, "previous": null, "results": [%s]}}`,
		len(entries), strings.Join(entries, ","))
}

// lockCmd is a DeviceLock entry with status and dates ("" for none).
func lockCmd(status int, requested, completed string) string {
	return cmdJSON("DeviceLock", "DeviceLock", status, requested, completed)
}

// cmdJSON is one command entry shaped like Kandji's example.
func cmdJSON(commandType, requestType string, status int, requested, completed string) string {
	entry := map[string]any{
		"uuid": fmt.Sprintf("%s-%d-%s", commandType, status, requested), "error_chain": []any{},
		"command_type": commandType, "request_type": requestType, "metadata": map[string]any{},
		"request_requires_network_tether": false, "status": status, "attempts": 1,
		"date_requested": requested, "date_completed": nil, "last_pushed": requested, "user": nil, "priority": 0,
	}
	if completed != "" {
		entry["date_completed"] = completed
	}
	b, err := json.Marshal(entry)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// clockwork is a settable clock for the fake, safe for its concurrent handlers.
type clockwork struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clockwork) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clockwork) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}
