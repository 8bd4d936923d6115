package kandji

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/kandji/kandjitest"
)

// TestCommands pages through a device's history on the fake and decodes every field lockbot uses.
func TestCommands(t *testing.T) {
	c, fake := fakeTenant(t, lockTenant())
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 649 {
		require.True(t, fake.AddCommand("mac-1", kandjitest.Command{CommandType: "DeviceInformation",
			Status: kandjitest.CommandCompleted, RequestedAt: start.Add(time.Duration(i) * time.Minute),
			CompletedAt: start.Add(time.Duration(i)*time.Minute + time.Second)}))
	}
	require.True(t, fake.SetBusy("mac-1", "EraseDevice"))

	cmds, err := c.Commands(t.Context(), "mac-1")
	require.NoError(t, err)
	require.Len(t, cmds, 650)
	assert.Equal(t, Command{
		UUID: fake.Commands("mac-1")[0].UUID, CommandType: "DeviceInformation", RequestType: "DeviceInformation",
		Status: CommandCompleted, RequestedAt: start, CompletedAt: start.Add(time.Second),
	}, cmds[0])
	last := cmds[649]
	assert.Equal(t, "EraseDevice", last.Name())
	assert.Equal(t, CommandPending, last.Status)
	assert.True(t, last.Status.InFlight())
	assert.True(t, last.CompletedAt.IsZero())
	assert.False(t, last.IsLock())
	assert.Equal(t, 3, countRoute(fake, "GET", "/api/v1/devices/mac-1/commands"), "three pages of 300")

	_, err = c.Commands(t.Context(), "gone-1")
	require.ErrorIs(t, err, ErrNotFound)
	_, err = c.Commands(t.Context(), "a/b")
	require.ErrorIs(t, err, ErrInvalidInput)
	fake.SetCommandsFailure(403)
	_, err = c.Commands(t.Context(), "mac-1")
	require.ErrorIs(t, err, ErrForbidden)
	assert.Contains(t, err.Error(), `probably labelled "Device commands"; unverified`)
}

// TestCommandsSample decodes Kandji's own example answer.
func TestCommandsSample(t *testing.T) {
	c, mux := setupMux(t)
	mux.HandleFunc("GET /devices/{id}/commands", respond(200, "application/json", string(fixture(t, "device_commands.json"))))
	cmds, err := c.Commands(t.Context(), "dev-1")
	require.NoError(t, err)
	require.Len(t, cmds, 6)
	assert.Equal(t, Command{
		UUID: "d2b2eafe-2dc2-4b13-bd2b-f93735f0e59f", CommandType: "ActivationLockBypassCode", RequestType: "ActivationLockBypassCode",
		Status:      CommandCompleted,
		RequestedAt: time.Date(2022, 8, 18, 15, 7, 22, 133248000, time.UTC),
		CompletedAt: time.Date(2022, 8, 18, 15, 7, 23, 240937000, time.UTC),
	}, cmds[0])
	assert.Equal(t, "SetInitialConfiguration", cmds[1].Name())
	assert.Equal(t, "Settings", cmds[1].RequestType)
}

func TestCommandStatus(t *testing.T) {
	tests := []struct {
		s        CommandStatus
		text     string
		inFlight bool
	}{
		{CommandPending, "pending", true},
		{CommandRunning, "running", true},
		{CommandCompleted, "completed", false},
		{CommandFailed, "failed", false},
		{CommandNotNow, "deferred by the device (NotNow)", true},
		{0, "in an unknown state (0)", false},
		{9, "in an unknown state (9)", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.text, tt.s.String())
		assert.Equal(t, tt.inFlight, tt.s.InFlight(), tt.text)
	}
	for _, cmd := range []Command{{CommandType: "DeviceLock"}, {RequestType: "devicelock"}, {CommandType: " DEVICELOCK "}} {
		assert.True(t, cmd.IsLock(), "%+v", cmd)
	}
	for _, cmd := range []Command{{CommandType: "DeviceLocation"}, {CommandType: "\u212Aeylock"}, {}} {
		assert.False(t, cmd.IsLock(), "%+v", cmd)
	}
	assert.Equal(t, "unconfirmed", LockUnconfirmed.String())
	assert.False(t, LockNoOutcome.Confirmed())
}
