package slackfake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzValidateBlocks feeds arbitrary blocks JSON (what the app sends) to the
// validator and the readers built on the same walk: none may panic, and
// blocks the fake accepts must still be accepted, with the same buttons,
// once Slack-style block_ids are filled in.
func FuzzValidateBlocks(f *testing.F) {
	for _, seed := range []string{
		`[]`, `null`, `{}`, `[1,"x",null,[]]`, dividers(51),
		"[" + section("hi") + "," + actions(button("lock_approve", "req-1", "Approve")) + "]",
		`[{"type":"section","text":{"type":"mrkdwn","text":"x"},"accessory":{"type":"button","action_id":"a","text":"t"}}]`,
		`[{"type":"section","fields":[{"text":{"text":1}}],"block_id":7}]`,
		`[{"type":"actions","elements":[{"type":"button","text":{"text":{"nested":"yes"}}}]}]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m := Message{Text: "t", Blocks: raw}
		_ = m.AllText()
		buttons := m.Buttons()
		prob := validateBlocks(raw)
		filled := fillBlockIDs(raw)
		if prob != nil {
			if prob.code != errInvalidBlocks && prob.code != errInvalidBlocksFormat {
				t.Fatalf("unexpected code %q", prob.code)
			}
			return
		}
		if again := validateBlocks(filled); again != nil {
			t.Fatalf("filled blocks refused: %v (from %s)", again.details, raw)
		}
		refilled := Message{Blocks: filled}.Buttons()
		if len(refilled) != len(buttons) {
			t.Fatalf("buttons changed: %v → %v", buttons, refilled)
		}
		for i := range buttons {
			if buttons[i] != refilled[i] {
				t.Fatalf("button %d changed: %+v → %+v", i, buttons[i], refilled[i])
			}
		}
	})
}

// FuzzParseAck feeds arbitrary frames a client could send on the socket.
func FuzzParseAck(f *testing.F) {
	for _, seed := range []string{`{"envelope_id":"e"}`, `{"envelope_id":"e","payload":{"a":[1]}}`, `{"envelope_id":""}`, `[]`, `x`, `{"envelope_id":"e","payload":null}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		a, err := parseAck(frame)
		if err != nil {
			return
		}
		if a.EnvelopeID == "" {
			t.Fatal("accepted an ack without envelope_id")
		}
		if a.Payload != nil && !json.Valid(a.Payload) {
			t.Fatalf("payload is not JSON: %q", a.Payload)
		}
	})
}

// FuzzParseAPIRequest feeds arbitrary bodies and content types to the Web
// API request parser.
func FuzzParseAPIRequest(f *testing.F) {
	f.Add("application/json", `{"channel":"C1","blocks":[{"type":"divider"}],"n":1}`)
	f.Add("application/json; charset=utf-8", ``)
	f.Add("application/x-www-form-urlencoded", `token=x&channel=C1&blocks=%5B%5D`)
	f.Add("multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--b--\r\n")
	f.Add("text/plain", `%zz`)
	f.Add("", `{"a":`)
	f.Fuzz(func(t *testing.T, ctype, body string) {
		req := httptest.NewRequest(http.MethodPost, "/api/chat.postMessage", strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Authorization", "Bearer "+ctype)
		got, err := parseAPIRequest(httptest.NewRecorder(), req)
		if err != nil {
			return
		}
		if got.params == nil {
			t.Fatal("nil params")
		}
	})
}

// FuzzFlattenJSON checks that every flattened non-string value is valid JSON.
func FuzzFlattenJSON(f *testing.F) {
	for _, seed := range []string{`{}`, `{"a":"b","c":[1,{"d":null}],"e":1e3}`, `[]`, ``, `{"a":"\ud800"}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		params, err := flattenJSON(body)
		if err != nil {
			return
		}
		var obj map[string]json.RawMessage
		if len(strings.TrimSpace(string(body))) == 0 {
			return
		}
		if json.Unmarshal(body, &obj) != nil {
			t.Fatalf("accepted a body encoding/json refuses: %q", body)
		}
		for k, v := range params {
			var s string
			if json.Unmarshal(obj[k], &s) != nil && !json.Valid([]byte(v)) {
				t.Fatalf("field %q flattened to invalid JSON %q", k, v)
			}
		}
	})
}

// FuzzParseTS checks that every ts the history parser accepts orders the
// same way as its text, for the fixed-width ts values the fake hands out.
func FuzzParseTS(f *testing.F) {
	for _, seed := range []string{"1700000000.000100", "5", "5.1", "", ".", "1.1234567", "-1", "1.-1"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := parseTS(s)
		if !ok {
			return
		}
		if v < 0 {
			t.Fatalf("%q parsed to a negative ts %d", s, v)
		}
		back, ok := parseCursor(encodeCursor(v))
		if !ok || back != v {
			t.Fatalf("cursor round trip of %d gave %d, %v", v, back, ok)
		}
	})
}
