package kandjitest_test

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/kandji/kandjitest"
)

// commandPage is GET …/commands as Kandji's envelope has it.
type commandPage struct {
	DeviceID string `json:"device_id"`
	Commands struct {
		Count    int     `json:"count"`
		Next     *string `json:"next"`
		Previous *string `json:"previous"`
		Results  []struct {
			UUID          string  `json:"uuid"`
			CommandType   string  `json:"command_type"`
			RequestType   string  `json:"request_type"`
			Status        int     `json:"status"`
			DateRequested string  `json:"date_requested"`
			DateCompleted *string `json:"date_completed"`
		} `json:"results"`
	} `json:"commands"`
}

func commands(t *testing.T, s *kandjitest.Server, id, query string) commandPage {
	t.Helper()
	a := call(t, s, "GET", "/api/v1/devices/"+id+"/commands?"+query, "")
	require.Equal(t, http.StatusOK, a.Status, a.Body)
	var p commandPage
	require.NoError(t, json.Unmarshal([]byte(a.Body), &p))
	return p
}

// TestLockLifecycle walks one Mac through lock, repeat, completion, unlock at the desk and a new
// lock, checking each answer, the command list and the counts a caller's test reads.
func TestLockLifecycle(t *testing.T) {
	s := newServer(t, kandjitest.WithDevices(traps()...))
	lock := func() answer { return call(t, s, "POST", "/api/v1/devices/alice-mac/action/lock", "") }

	first := lock()
	require.Equal(t, 200, first.Status)
	pin := s.PIN("alice-mac")
	assert.JSONEq(t, `{"PIN": "`+pin+`"}`, first.Body)
	p := commands(t, s, "alice-mac", "limit=300")
	require.Len(t, p.Commands.Results, 1)
	got := p.Commands.Results[0]
	assert.Equal(t, [3]any{"DeviceLock", "DeviceLock", 1}, [3]any{got.CommandType, got.RequestType, got.Status})
	assert.Nil(t, got.DateCompleted)
	assert.Equal(t, "alice-mac", p.DeviceID)

	assert.Equal(t, `"This device is already locked."`, lock().Body, "while pending")
	assert.Equal(t, 1, s.CompleteCommands("alice-mac"))
	assert.Zero(t, s.CompleteCommands("alice-mac"))
	assert.Equal(t, `"This device is already locked."`, lock().Body, "once completed")
	assert.True(t, s.Locked("alice-mac"))
	got = commands(t, s, "alice-mac", "limit=300").Commands.Results[0]
	assert.Equal(t, 3, got.Status)
	require.NotNil(t, got.DateCompleted)

	require.True(t, s.Unlock("alice-mac"))
	assert.False(t, s.Locked("alice-mac"))
	again := lock()
	require.Equal(t, 200, again.Status)
	assert.NotEqual(t, `{"PIN":"`+pin+`"}`, again.Body, "a new lock, a new PIN")
	assert.Len(t, s.Commands("alice-mac"), 2)
	assert.Equal(t, kandjitest.LockAnswers{Accepted: 2, AlreadyLocked: 2}, s.LockAnswers("alice-mac"))
	assert.Equal(t, 4, s.LockPosts("alice-mac"))
	assert.False(t, s.Unlock("nope"))
	assert.Nil(t, s.Commands("nope"))
}

// TestBusyAndConflict checks the refusals a busy device and a 409 produce, and what they count
// as.
func TestBusyAndConflict(t *testing.T) {
	s := newServer(t, kandjitest.WithDevices(traps()...))
	lock := func(id string) answer { return call(t, s, "POST", "/api/v1/devices/"+id+"/action/lock", "") }

	require.True(t, s.SetBusy("alice-mac", "EraseDevice"))
	assert.False(t, s.SetBusy("nope", "EraseDevice"))
	busy := lock("alice-mac")
	assert.Equal(t, 400, busy.Status)
	assert.Equal(t, `"Another MDM command (EraseDevice) is already running"`, busy.Body)
	cmds := s.Commands("alice-mac")
	require.Len(t, cmds, 1)
	assert.Equal(t, kandjitest.Command{UUID: cmds[0].UUID, CommandType: "EraseDevice", RequestType: "EraseDevice",
		Status: kandjitest.CommandPending, RequestedAt: cmds[0].RequestedAt}, cmds[0])
	s.CompleteCommands("alice-mac")
	assert.Equal(t, 200, lock("alice-mac").Status, "free once the erase is done")

	require.True(t, s.SetLockConflict("alice-phone", true))
	assert.False(t, s.SetLockConflict("nope", true))
	conflict := lock("alice-phone")
	assert.Equal(t, 409, conflict.Status)
	assert.JSONEq(t, `{"detail": "The request conflicts with the current state of the device."}`, conflict.Body)
	require.True(t, s.SetLockConflict("alice-phone", false))
	assert.Equal(t, 200, lock("alice-phone").Status)

	assert.Equal(t, 400, lock("tv").Status)
	s.FailNext(1, 503, 0)
	assert.Equal(t, 503, lock("tv").Status)

	assert.Equal(t, kandjitest.LockAnswers{Busy: 1, Accepted: 1}, s.LockAnswers("alice-mac"))
	assert.Equal(t, kandjitest.LockAnswers{Conflict: 1, Accepted: 1}, s.LockAnswers("alice-phone"))
	assert.Equal(t, kandjitest.LockAnswers{NotAllowed: 1, Other: 1}, s.LockAnswers("tv"))
}

// TestCommandsEndpoint pages a long history with Kandji's envelope and links, and checks the
// failure knob.
func TestCommandsEndpoint(t *testing.T) {
	s := newServer(t, kandjitest.WithDevices(traps()...))
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	require.True(t, s.AddCommand("alice-mac", kandjitest.Command{RequestType: "DeviceInformation", Status: kandjitest.CommandCompleted,
		RequestedAt: start.Add(time.Hour), CompletedAt: start.Add(time.Hour + time.Second)}))
	require.True(t, s.AddCommand("alice-mac", kandjitest.Command{CommandType: "DeviceLock", Status: kandjitest.CommandFailed,
		RequestedAt: start, CompletedAt: start.Add(time.Second)}))
	require.True(t, s.AddCommand("alice-mac", kandjitest.Command{CommandType: "InstalledApplicationList", Status: kandjitest.CommandNotNow,
		RequestedAt: start.Add(2 * time.Hour)}))
	assert.False(t, s.AddCommand("nope", kandjitest.Command{}))
	assert.False(t, s.Locked("alice-mac"), "a failed lock does not lock")

	p := commands(t, s, "alice-mac", "limit=2")
	assert.Equal(t, 3, p.Commands.Count)
	require.Len(t, p.Commands.Results, 2)
	assert.Equal(t, "DeviceLock", p.Commands.Results[0].CommandType, "oldest first")
	assert.Equal(t, "2025-01-01T00:00:00.000000Z", p.Commands.Results[0].DateRequested)
	assert.Equal(t, "DeviceInformation", p.Commands.Results[1].CommandType, "copied from request_type")
	require.NotNil(t, p.Commands.Next)
	assert.Equal(t, s.URL()+"/api/v1/devices/alice-mac/commands?limit=2&offset=2", *p.Commands.Next)
	assert.Nil(t, p.Commands.Previous)

	p = commands(t, s, "alice-mac", "limit=2&offset=2")
	require.Len(t, p.Commands.Results, 1)
	assert.Equal(t, 5, p.Commands.Results[0].Status)
	assert.Nil(t, p.Commands.Next)
	require.NotNil(t, p.Commands.Previous)
	assert.Equal(t, s.URL()+"/api/v1/devices/alice-mac/commands?limit=2&offset=0", *p.Commands.Previous)
	assert.Empty(t, commands(t, s, "alice-phone", "limit=300").Commands.Results)

	assert.Equal(t, 404, call(t, s, "GET", "/api/v1/devices/nope/commands?limit=300", "").Status)
	s.SetCommandsFailure(403)
	a := call(t, s, "GET", "/api/v1/devices/alice-mac/commands?limit=300", "")
	assert.Equal(t, 403, a.Status)
	assert.JSONEq(t, `{"detail": "You do not have permission to perform this action."}`, a.Body)
	s.SetCommandsFailure(502)
	assert.Contains(t, call(t, s, "GET", "/api/v1/devices/alice-mac/commands?limit=300", "").Body, "<h1>502 Bad Gateway</h1>")
	assert.Equal(t, 401, call(t, s, "GET", "/api/v1/devices/alice-mac/commands?limit=300", "", "bad").Status, "auth first")
	s.SetCommandsFailure(0)
	assert.Len(t, commands(t, s, "alice-mac", "limit=300").Commands.Results, 3)
}

// TestLockCompletion moves the fake's clock: the fake's own locks complete after the configured
// delay, histories added by hand stay as they are.
func TestLockCompletion(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	advance := func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(d)
	}
	s := newServer(t, kandjitest.WithDevices(traps()...), kandjitest.WithClock(clock))
	s.SetLockCompletion(30 * time.Second)
	require.Equal(t, 200, call(t, s, "POST", "/api/v1/devices/alice-mac/action/lock", "").Status)
	require.True(t, s.AddCommand("alice-mac", kandjitest.Command{CommandType: "DeviceLock", Status: kandjitest.CommandPending}))

	advance(29 * time.Second)
	cmds := s.Commands("alice-mac")
	assert.Equal(t, []kandjitest.CommandStatus{kandjitest.CommandPending, kandjitest.CommandPending}, []kandjitest.CommandStatus{cmds[0].Status, cmds[1].Status})
	advance(time.Second)
	cmds = s.Commands("alice-mac")
	assert.Equal(t, kandjitest.CommandCompleted, cmds[0].Status)
	assert.Equal(t, now, cmds[0].CompletedAt)
	assert.Equal(t, kandjitest.CommandPending, cmds[1].Status, "not the fake's own lock")
	assert.Equal(t, now.Add(-30*time.Second), s.Requests()[0].At, "requests follow the clock too")
}

// TestLockAnswerDelay hangs up on a slow lock answer: the lock was queued all the same, and
// WaitIdle tells when the fake is done with it.
func TestLockAnswerDelay(t *testing.T) {
	s := newServer(t, kandjitest.WithDevices(traps()...))
	s.SetLockAnswerDelay(time.Hour)
	hc := &http.Client{Timeout: 50 * time.Millisecond}
	req, err := http.NewRequestWithContext(t.Context(), "POST", s.URL()+"/api/v1/devices/alice-mac/action/lock", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.Token())
	_, err = hc.Do(req)
	require.Error(t, err)
	require.NoError(t, s.WaitIdle(t.Context()))
	assert.True(t, s.Locked("alice-mac"))
	assert.Equal(t, kandjitest.LockAnswers{Accepted: 1}, s.LockAnswers("alice-mac"))
	assert.Zero(t, s.Requests()[0].Status, "no answer reached the client")

	s.SetLockAnswerDelay(0)
	assert.Equal(t, `"This device is already locked."`, call(t, s, "POST", "/api/v1/devices/alice-mac/action/lock", "").Body)
	require.NoError(t, s.WaitIdle(t.Context()))
}
