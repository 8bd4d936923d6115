package kandji

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// FuzzDecodeDevice feeds arbitrary bytes to the device decoders: they must never panic, and what
// they accept must be usable (an ID, a consistent Email, a UTC time).
func FuzzDecodeDevice(f *testing.F) {
	for _, name := range []string{"devices_quirks.json", "device_mac.json", "devices_email_traps.json"} {
		f.Add(fixture(f, name))
	}
	for _, seed := range []string{
		`[]`, `null`, `{}`, `[{"device_id": 1}]`, `{"device_id": "a", "user": ""}`,
		`{"device_id": "a", "user": {"id": 9007199254740993, "email": "x@y"}}`,
		`{"device_id": "a", "last_check_in": "2023-01-18 21:46:26.879113+00:00", "mdm_enabled": "True"}`,
		`{"device_id": "a", "user": {"email": {"nested": true}}, "is_missing": "1e309"}`,
		`[{"device_id": "\u0000"}]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ds, err := decodePage(data)
		if err != nil {
			return
		}
		for _, d := range ds {
			if strings.TrimSpace(d.ID) == "" || d.ID != strings.TrimSpace(d.ID) {
				t.Fatalf("accepted device with ID %q", d.ID)
			}
			switch {
			case d.User == nil && d.Email() != "":
				t.Fatalf("unassigned device has Email() %q", d.Email())
			case d.User != nil && (d.Email() != d.User.Email || *d.User == User{}):
				t.Fatalf("Email() = %q disagrees with User %+v", d.Email(), d.User)
			}
			if !d.LastCheckIn.IsZero() && d.LastCheckIn.Location() != time.UTC {
				t.Fatalf("LastCheckIn %v is not UTC", d.LastCheckIn)
			}
		}
		var d Device
		_ = json.Unmarshal(data, &d)
	})
}

// FuzzParseMessage checks that any error body becomes one short line of valid UTF-8.
func FuzzParseMessage(f *testing.F) {
	f.Add(fixture(f, "gateway_502.html"))
	for _, seed := range []string{
		`"This device is already locked."`, `["Device is not in lost mode."]`, `{"detail": "x"}`,
		`{"error": {"message": "y"}}`, `{"dep_account": ["Enter a valid UUID."]}`, "<b>bold</b> text",
		"<script>x</script>after", "\xff\xfe", `[[[[[[[[[["deep"]]]]]]]]]]`, "",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		msg := parseMessage(body)
		if !utf8.ValidString(msg) {
			t.Fatalf("invalid UTF-8: %q", msg)
		}
		if n := utf8.RuneCountInString(msg); n > maxMessageRunes+1 {
			t.Fatalf("message has %d runes", n)
		}
		if strings.ContainsAny(msg, "\n\r\t\x00") || msg != strings.TrimSpace(msg) {
			t.Fatalf("message is not one tidy line: %q", msg)
		}
		run := 0
		for _, r := range msg {
			if unicode.IsDigit(r) {
				run++
			} else if !unicode.Is(unicode.Cf, r) {
				run = 0
			}
			if run >= minSecretDigits {
				t.Fatalf("message shows a run of %d digits: %q", run, msg)
			}
		}
	})
}

// FuzzJudgeRefusal decodes any command list and judges a refusal with any message: Kandji's
// refusal is only ever read as locked when the list holds a lock that is in flight or
// completed, and a verdict without an error is always a confirmed one.
func FuzzJudgeRefusal(f *testing.F) {
	f.Add([]byte(commandsJSON(lockCmd(1, "2025-06-01T09:00:00Z", ""))), "This device is already locked.")
	f.Add([]byte(commandsJSON(lockCmd(3, "2025-06-01T09:00:00Z", "2025-06-01T09:00:01Z"))), "x")
	f.Add([]byte(commandsJSON(lockCmd(4, "2025-06-01T09:00:00Z", ""), cmdJSON("EraseDevice", "", 2, "", ""))),
		"Another MDM command (EraseDevice) is already running")
	f.Add([]byte(`{"commands": {"results": [{"status": "3", "request_type": "DEVICELOCK"}]}}`), "")
	f.Add([]byte(`{"commands": {"count": "x", "results": [{"status": {}, "command_type": 7}]}}`), "Command already running")
	f.Fuzz(func(t *testing.T, body []byte, msg string) {
		cmds, _, err := decodeCommands(body)
		if err != nil {
			return
		}
		res, err := judgeRefusal(&Error{StatusCode: 400, Method: "POST", Route: routeLock, Message: msg}, cmds)
		if (err == nil) != res.Status.Confirmed() {
			t.Fatalf("verdict %v with error %v", res.Status, err)
		}
		if err != nil && !errors.Is(err, ErrBusy) {
			t.Fatalf("unexpected error %v", err)
		}
		if res.Status.Confirmed() && !slices.ContainsFunc(cmds, func(c Command) bool {
			return c.IsLock() && (c.Status.InFlight() || c.Status == CommandCompleted)
		}) {
			t.Fatalf("%v without a lock in flight or completed in %+v", res.Status, cmds)
		}
		if res.AlreadyLocked != res.Status.Confirmed() {
			t.Fatalf("AlreadyLocked %v for %v", res.AlreadyLocked, res.Status)
		}
	})
}

// FuzzParseRetryAfter checks that any header value gives a wait within [0, maxRetryAfter].
func FuzzParseRetryAfter(f *testing.F) {
	for _, seed := range []string{"", "0", "120", "-1", "1.5", "99999999999999999999",
		"Sun, 01 Jun 2025 12:00:30 GMT", "Sunday, 01-Jun-25 12:01:00 GMT", "Sun Jun  1 12:00:05 2025"} {
		f.Add(seed)
	}
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		if d := parseRetryAfter(v, now); d < 0 || d > maxRetryAfter {
			t.Fatalf("parseRetryAfter(%q) = %v", v, d)
		}
	})
}

// FuzzDecodePIN checks the lock and unlock-PIN answer decoder on any input.
func FuzzDecodePIN(f *testing.F) {
	for _, seed := range []string{`{"PIN": "496406"}`, `{"pin": "192746"}`, `{"pin": 192746}`, `{}`, `null`,
		`""`, `[]`, `{"pin": {"x": 1}}`, `{"pin": " 1 "}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		pin, err := decodePIN(body)
		if err == nil && pin != strings.TrimSpace(pin) {
			t.Fatalf("PIN %q is not trimmed", pin)
		}
		if err != nil && pin != "" {
			t.Fatal("a PIN came back with an error")
		}
	})
}
