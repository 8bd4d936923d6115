package kandji

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseMessage(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"bare string", `"This device is already locked."`, "This device is already locked."},
		{"array of strings", `["Device is not in lost mode."]`, "Device is not in lost mode."},
		{"array joined", `["first", "", "second"]`, "first; second"},
		{"detail", `{"detail": "User still assigned to one or more devices."}`, "User still assigned to one or more devices."},
		{"error", `{"error": "Invalid category"}`, "Invalid category"},
		{"nested error", `{"error": {"code": 7, "message": "nested message"}}`, "nested message"},
		{"detail preferred", `{"code": "x", "detail": "the detail"}`, "the detail"},
		{"empty detail falls back to fields", `{"detail": "", "limit": ["A valid integer is required."]}`,
			"limit: A valid integer is required."},
		{"field map", `{"dep_account": ["Enter a valid UUID."]}`, "dep_account: Enter a valid UUID."},
		{"field map sorted", `{"b": ["two", "three"], "a": "one"}`, "a: one; b: two; three"},
		{"number", `42`, "42"},
		{"bool", `false`, "false"},
		{"null", `null`, ""},
		{"empty object", `{}`, ""},
		{"empty", "  \n ", ""},
		{"whitespace collapsed", "\"line one\\nline\\ttwo  \"", "line one line two"},
		{"plain text", "Internal Server Error\n\n", "Internal Server Error"},
		{"two JSON values are text", `"a" "b"`, `"a" "b"`},
		{"html page", string(fixture(t, "gateway_502.html")),
			"502 Bad Gateway 502 Bad Gateway The upstream & its workers did not answer. nginx"},
		{"unclosed tag", "Oops <b", "Oops"},
		{"unclosed script", "Before <script>alert(1)", "Before"},
		{"invalid utf-8", "bad \xff\xfe byte", "bad \uFFFD byte"},
		{"control characters", "a\x00b\x1bc", "a b c"},
		{"long", strings.Repeat("é", 300), strings.Repeat("é", maxMessageRunes) + "…"},
		{"script with invalid UTF-8", "\xff<SCRIPT>\xfe</script>after", "\uFFFD after"},
		{"style closed in caps", "a<style media=x>b</STYLE>c", "a c"},
		{"deep nesting", strings.Repeat("[", 20) + `"deep"` + strings.Repeat("]", 20), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, parseMessage([]byte(tt.body)))
		})
	}
}

func TestErrorIs(t *testing.T) {
	sentinels := []error{ErrNotFound, ErrUnauthorized, ErrForbidden, ErrRateLimited, ErrAlreadyLocked,
		ErrCommandRunning, ErrNotAllowed, ErrOutcomeUnknown, ErrInvalidInput, ErrBusy, ErrUnconfirmed}
	tests := []struct {
		status int
		msg    string
		want   error // nil: no sentinel
	}{
		{404, "Unable to locate the resource in the Kandji tenant.", ErrNotFound},
		{404, "already locked", ErrNotFound},
		{401, "Invalid access token.", ErrUnauthorized},
		{403, "", ErrForbidden},
		{429, "Request was throttled.", ErrRateLimited},
		{400, "This device is already locked.", ErrAlreadyLocked},
		{400, "THIS DEVICE IS ALREADY LOCKED", ErrAlreadyLocked},
		{400, "Command already running", ErrCommandRunning},
		{400, "Disable lost mode is already pending for this device.", ErrCommandRunning},
		{400, "Command is not allowed for current device", ErrNotAllowed},
		{409, "Command is not allowed for current device", ErrNotAllowed},
		{409, "This device is already locked.", nil},
		{409, "Another MDM command (EraseDevice) is already running", nil},
		{400, "limit: A valid integer is required.", nil},
		{500, "already locked", nil},
		{502, "", nil},
		{302, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			err := error(&Error{StatusCode: tt.status, Method: "GET", Route: routeDevice, Message: tt.msg})
			for _, s := range sentinels {
				assert.Equal(t, s == tt.want, errors.Is(err, s), "errors.Is(%d %q, %v)", tt.status, tt.msg, s)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{StatusCode: 403, Method: "POST", Route: routeLock, Message: "You do not have permission."},
			`kandji: POST /devices/{id}/action/lock: 403 Forbidden: You do not have permission. (the API token needs the "Lock Device" permission)`},
		{Error{StatusCode: 401, Method: "GET", Route: routeDevices, Message: "Invalid access token."},
			`kandji: GET /devices: 401 Unauthorized: Invalid access token. (the API token is invalid, expired or revoked, or lacks the "Device list" permission)`},
		{Error{StatusCode: 403, Method: "GET", Route: routeUnlockPIN},
			`kandji: GET /devices/{id}/secrets/unlockpin: 403 Forbidden (the API token needs the "Unlock device pin" permission)`},
		{Error{StatusCode: 403, Method: "GET", Route: routeCommands},
			`kandji: GET /devices/{id}/commands: 403 Forbidden (the API token needs the permission for GET /devices/{device_id}/commands (probably labelled "Device commands"; unverified))`},
		{Error{StatusCode: 401, Method: "GET", Route: "/other"},
			`kandji: GET /other: 401 Unauthorized (the API token is invalid, expired or revoked)`},
		{Error{StatusCode: 403, Method: "GET", Route: "/other"},
			`kandji: GET /other: 403 Forbidden (the API token lacks the permission for this endpoint)`},
		{Error{StatusCode: 404, Method: "GET", Route: routeDevice},
			`kandji: GET /devices/{id}: 404 Not Found`},
		{Error{StatusCode: 429, Method: "GET", Route: routeDevices, Message: "Request was throttled.", RetryAfter: 2 * time.Second},
			`kandji: GET /devices: 429 Too Many Requests: Request was throttled. (retry after 2s)`},
		{Error{StatusCode: 599, Method: "GET", Route: routeDevices, Message: "odd"},
			`kandji: GET /devices: 599: odd`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.err.Error())
		})
	}
}

func TestPermission(t *testing.T) {
	tests := map[string]string{
		"/devices":                        "Device list",
		"/devices/{id}":                   "Device ID",
		"/devices/{id}/action/lock":       "Lock Device",
		"/devices/{id}/secrets/unlockpin": "Unlock device pin",
		"/devices/{id}/commands":          "Device commands",
		"/devices/{id}/details":           "",
		"":                                "",
	}
	for route, want := range tests {
		assert.Equal(t, want, Permission(route), route)
	}
}

// TestErrorShapesEndToEnd sends each error shape through the client and checks the *Error it
// becomes, including the messages of retried statuses once the attempts are spent.
func TestErrorShapesEndToEnd(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		retryAfter  string
		want        Error
		wantIs      error
	}{
		{"detail 404", 404, "application/json", `{"detail": "Not found."}`, "",
			Error{StatusCode: 404, Message: "Not found."}, ErrNotFound},
		{"html 502", 502, "text/html", string(fixture(t, "gateway_502.html")), "",
			Error{StatusCode: 502, Message: "502 Bad Gateway 502 Bad Gateway The upstream & its workers did not answer. nginx"}, nil},
		{"text 500", 500, "text/plain", "Internal Server Error", "",
			Error{StatusCode: 500, Message: "Internal Server Error"}, nil},
		{"throttled", 429, "application/json", `{"detail": "Request was throttled. Expected available in 3 seconds."}`, "3",
			Error{StatusCode: 429, Message: "Request was throttled. Expected available in 3 seconds.", RetryAfter: 3 * time.Second}, ErrRateLimited},
		{"field map 400", 400, "application/json", `{"limit": ["Ensure this value is less than or equal to 300."]}`, "",
			Error{StatusCode: 400, Message: "limit: Ensure this value is less than or equal to 300."}, nil},
		{"array 400", 400, "application/json", `["Command is not allowed for current device"]`, "",
			Error{StatusCode: 400, Message: "Command is not allowed for current device"}, ErrNotAllowed},
		{"no body 401", 401, "", "", "",
			Error{StatusCode: 401}, ErrUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux := setupMux(t, withSleep(func(context.Context, time.Duration) error { return nil }))
			mux.HandleFunc("GET /devices/{id}", func(w http.ResponseWriter, r *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				respond(tt.status, tt.contentType, tt.body)(w, r)
			})
			_, err := c.Device(t.Context(), "dev-1")
			var apiErr *Error
			require.ErrorAs(t, err, &apiErr)
			tt.want.Method, tt.want.Route = "GET", routeDevice
			assert.Equal(t, tt.want, *apiErr)
			if tt.wantIs != nil {
				assert.ErrorIs(t, err, tt.wantIs)
			}
			assert.True(t, utf8.ValidString(err.Error()))
		})
	}
}
