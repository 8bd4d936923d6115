package kandji

import (
	"bytes"
	"log/slog"
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// secretBodies are error bodies that carry the PIN 246810 (or a non-numeric secret "s3cr3tpin"
// under a PIN key) in the shapes a server might use.
var secretBodies = []struct {
	name, contentType, body, want string
}{
	{"bare string", "application/json", `"Your PIN is 246810."`, "Your PIN is [redacted]."},
	{"object with PIN", "application/json", `{"PIN": "246810", "detail": "This device is already locked."}`,
		"This device is already locked."},
	{"field map with PIN", "application/json", `{"PIN": "s3cr3tpin", "Message": ["Too long."]}`, "Message: Too long."},
	{"PIN as a number", "application/json", `{"pin": 246810, "error": "nope"}`, "nope"},
	{"nested", "application/json", `{"detail": {"device": {"Pin": "s3cr3tpin", "unlock_pin": "246810", "state": "locked"}}}`,
		"device: state: locked"},
	{"nested in an array", "application/json", `{"errors": [{"pIn": "s3cr3tpin"}, "retry with 246810"]}`,
		"retry with [redacted]"},
	{"other secrets", "application/json", `{"recovery_password": "s3cr3tpin", "key": "s3cr3tpin", "user_based_albc": "s3cr3tpin", "x": "y"}`,
		"x: y"},
	{"HTML", "text/html", `<html><body><h1>Error</h1><p>PIN: 246810</p><script>var pin="s3cr3tpin"</script></body></html>`,
		"Error PIN: [redacted]"},
	{"HTML entities", "text/html", `<p>PIN &#50;46810</p>`, "PIN [redacted]"},
	{"plain text", "text/plain", `246810`, "[redacted]"},
	{"zero-width space inside", "application/json", `"PIN 246\u200b810"`, "PIN [redacted]"},
	{"fullwidth digits", "application/json", `"PIN ２４６８１０"`, "PIN [redacted]"},
	{"four digits", "application/json", `"passcode 2468 set"`, "passcode [redacted] set"},
	{"long run", "application/json", `"code 1246810999"`, "code [redacted]"},
	{"short numbers stay", "application/json", `{"limit": ["Ensure this value is less than or equal to 300."]}`,
		"limit: Ensure this value is less than or equal to 300."},
	{"not JSON after all", "application/json", `{"PIN": "246810"} trailing`, `{"PIN": "[redacted]"} trailing`},
}

// leaks reports whether text shows any part of the test secrets.
func leaks(text string) bool {
	return regexp.MustCompile(`246810|2468|s3cr3t|２４６`).MatchString(text)
}

func TestParseMessageRedacts(t *testing.T) {
	for _, tt := range secretBodies {
		t.Run(tt.name, func(t *testing.T) {
			got := parseMessage([]byte(tt.body))
			assert.Equal(t, tt.want, got)
			assert.False(t, leaks(got), got)
		})
	}
	long := `"` + string(bytes.Repeat([]byte("x"), maxMessageRunes-3)) + ` 246810"`
	assert.NotContains(t, parseMessage([]byte(long)), "246", "redacted before it is cut short")
	assert.Equal(t, "bad header: Bearer [redacted]", parseMessage([]byte("bad header: Bearer tok-abc"), "tok-abc"))
}

// TestErrorBodiesNeverEchoSecrets sends every secret-bearing body through the lock and
// unlock-PIN routes and checks the error text, the *Error's Message and the log.
func TestErrorBodiesNeverEchoSecrets(t *testing.T) {
	for _, tt := range secretBodies {
		t.Run(tt.name, func(t *testing.T) {
			var logs syncBuffer
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			c, mux := setupMux(t, WithLogger(logger), WithRetries(2, 1, 1))
			mux.HandleFunc("GET /devices/{id}/secrets/unlockpin", respond(400, tt.contentType, tt.body))
			mux.HandleFunc("POST /devices/{id}/action/lock", respond(400, tt.contentType, tt.body))
			mux.HandleFunc("GET /devices/{id}/commands", respond(500, tt.contentType, tt.body))
			mux.HandleFunc("GET /devices/{id}", respond(403, tt.contentType, tt.body))

			_, pinErr := c.UnlockPIN(t.Context(), "dev-1")
			var apiErr *Error
			require.ErrorAs(t, pinErr, &apiErr)
			assert.Equal(t, tt.want, apiErr.Message)

			res, lockErr := c.Lock(t.Context(), "dev-1", LockOptions{})
			require.ErrorIs(t, lockErr, ErrUnconfirmed, "the command list answers 500")
			_, deviceErr := c.Device(t.Context(), "dev-1")
			require.ErrorIs(t, deviceErr, ErrForbidden)

			for _, text := range []string{pinErr.Error(), lockErr.Error(), res.Detail, deviceErr.Error(), logs.String()} {
				assert.False(t, leaks(text), text)
			}
			assert.Contains(t, lockErr.Error(), tt.want)
		})
	}
}

// TestBusyErrorRedacts checks that a busy refusal's message is cleaned too.
func TestBusyErrorRedacts(t *testing.T) {
	c, mux := setupMux(t)
	mux.HandleFunc("POST /devices/{id}/action/lock", respond(http.StatusConflict, "application/json",
		`{"detail": "Another MDM command (EraseDevice) is already running", "PIN": "246810"}`))
	mux.HandleFunc("GET /devices/{id}/commands", respond(200, "application/json", commandsJSON()))
	_, err := c.Lock(t.Context(), "dev-1", LockOptions{})
	require.ErrorIs(t, err, ErrBusy)
	assert.False(t, leaks(err.Error()), err.Error())
	assert.Equal(t, `kandji: POST /devices/{id}/action/lock: 409 Conflict: the device is busy, EraseDevice is running, `+
		`so the lock was not queued; send it again later (Kandji: "Another MDM command (EraseDevice) is already running")`, err.Error())
}
