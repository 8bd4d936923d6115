package okta

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	oktasdk "github.com/okta/okta-sdk-golang/v2/okta"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const fixtureDir = "../testdata/okta"

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, name))
	require.NoError(t, err)
	return b
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

var adminActor = Actor{ID: "00uadmin0000000001", Type: "User", AlternateID: "it.admin@acme.example", DisplayName: "IT Admin"}

// batchEvents is what ParseDelivery must return for delivery_batch.json:
// the AppInstance-only event is dropped, the rest come back in order
// (type filtering and dedupe are not the parser's job).
func batchEvents() []Event {
	bob := Event{
		UUID: "b2000000-0000-11ee-8000-000000000001", Type: EventSuspend, Published: ts("2024-05-06T11:00:00Z"),
		Message: "Suspend Okta user", UserID: "00utarget000000002", Login: "bob.smith@acme.example",
		Email: "bob.smith@acme.example", Name: "Bob Smith", Actor: adminActor, ClientIP: "198.51.100.7", Source: SourceHook,
	}
	bobDup := bob
	bobDup.Message = "Suspend Okta user (duplicate inside the same delivery)"
	bobDup.ClientIP = ""
	return []Event{
		bob,
		{
			UUID: "b2000000-0000-11ee-8000-000000000002", Type: EventDeactivate, Published: ts("2024-05-06T11:00:01.5Z"),
			Message: "Deactivate Okta User", UserID: "00utarget000000003", Login: "cjones", Name: "Carol Jones",
			Actor: adminActor, ClientIP: "198.51.100.7", Source: SourceHook,
		},
		{
			UUID: "b2000000-0000-11ee-8000-000000000003", Type: EventSuspicious, Published: ts("2024-05-06T11:00:02Z"),
			Message: "User report suspicious activity", UserID: "00utarget000000004", Login: "dave@acme.example",
			Email: "dave@acme.example", Name: "Dave Lee",
			Actor:    Actor{ID: "00utarget000000004", Type: "User", AlternateID: "dave@acme.example", DisplayName: "Dave Lee"},
			ClientIP: "203.0.113.9", Source: SourceHook,
		},
		{
			UUID: "b2000000-0000-11ee-8000-000000000004", Type: "user.session.start", Published: ts("2024-05-06T11:00:03Z"),
			Message: "User login to Okta", UserID: "00utarget000000005", Login: "erin@acme.example", Email: "erin@acme.example",
			Name:   "Erin",
			Actor:  Actor{ID: "00utarget000000005", Type: "User", AlternateID: "erin@acme.example", DisplayName: "Erin"},
			Source: SourceHook,
		},
		bobDup,
	}
}

func TestParseDelivery(t *testing.T) {
	tests := []struct {
		name    string
		body    []byte
		want    []Event
		wantErr error
	}{
		{
			name: "single suspend",
			body: fixture(t, "delivery_suspend.json"),
			want: []Event{{
				UUID: "a1000000-0000-11ee-8000-000000000001", Type: EventSuspend, Published: ts("2024-05-06T10:15:30.123Z"),
				Message: "Suspend Okta user", UserID: "00utarget000000001", Login: "jane.doe@acme.example",
				Email: "jane.doe@acme.example", Name: "Jane Doe", Actor: adminActor, ClientIP: "198.51.100.7", Source: SourceHook,
			}},
		},
		{name: "batch", body: fixture(t, "delivery_batch.json"), want: batchEvents()},
		{name: "empty events", body: fixture(t, "delivery_empty.json"), want: []Event{}},
		{name: "inline hook envelope", body: fixture(t, "inline_hook.json"), wantErr: ErrNotEnvelope},
		{name: "not JSON", body: []byte("hello"), wantErr: ErrMalformed},
		{name: "truncated JSON", body: []byte(`{"eventType":"com.okta.event_hook","data":{"events":[`), wantErr: ErrMalformed},
		{name: "trailing garbage", body: []byte(`{"eventType":"com.okta.event_hook","data":{"events":[]}} x`), wantErr: ErrMalformed},
		{name: "empty body", body: nil, wantErr: ErrMalformed},
		{name: "JSON array", body: []byte(`[]`), wantErr: ErrNotEnvelope},
		{name: "JSON null", body: []byte(`null`), wantErr: ErrNotEnvelope},
		{name: "no eventType", body: []byte(`{"data":{"events":[]}}`), wantErr: ErrNotEnvelope},
		{name: "no data", body: []byte(`{"eventType":"com.okta.event_hook"}`), wantErr: ErrNotEnvelope},
		{name: "no events", body: []byte(`{"eventType":"com.okta.event_hook","data":{}}`), wantErr: ErrNotEnvelope},
		{name: "null events", body: []byte(`{"eventType":"com.okta.event_hook","data":{"events":null}}`), wantErr: ErrNotEnvelope},
		{name: "events not an array", body: []byte(`{"eventType":"com.okta.event_hook","data":{"events":{}}}`), wantErr: ErrNotEnvelope},
		{name: "data not an object", body: []byte(`{"eventType":"com.okta.event_hook","data":5}`), wantErr: ErrNotEnvelope},
		{
			name: "odd events are dropped, not fatal",
			body: []byte(`{"eventType":"com.okta.event_hook","data":{"events":[null, 5, "x", [], {},
				{"uuid":"u1","target":[{"type":"User"}]},
				{"uuid":"u2","target":[{"type":"user","id":"00ulower"}]},
				{"uuid":"u3","target":"User"}]}}`),
			want: []Event{},
		},
		{
			name: "wrong field types keep the rest of the event",
			body: []byte(`{"eventType":"com.okta.event_hook","data":{"events":[
				{"uuid":"u1","eventType":"user.lifecycle.suspend","displayMessage":5,"published":"yesterday",
				 "client":{"ipAddress":7},"actor":"admin",
				 "target":[5,{"type":"User","id":"00u1","alternateId":"Ann <ann@x.example>"}]}]}}`),
			want: []Event{{UUID: "u1", Type: EventSuspend, UserID: "00u1", Login: "Ann <ann@x.example>", Source: SourceHook}},
		},
		{
			name: "login without id still identifies the user",
			body: []byte(`{"eventType":"com.okta.event_hook","data":{"events":[
				{"uuid":"u1","eventType":"user.lifecycle.suspend","target":[{"type":"User","id":""},{"type":"User","alternateId":"x@y.example"}]}]}}`),
			want: []Event{{UUID: "u1", Type: EventSuspend, Login: "x@y.example", Email: "x@y.example", Source: SourceHook}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDelivery(tt.body)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseDeliveryMalformedWrapsJSONError(t *testing.T) {
	_, err := ParseDelivery([]byte("{nope"))
	require.ErrorIs(t, err, ErrMalformed)
	assert.Contains(t, err.Error(), "invalid character")
}

func TestEmailFrom(t *testing.T) {
	tests := map[string]string{
		"jane@acme.example":          "jane@acme.example",
		"Jane.Doe+it@acme.example":   "Jane.Doe+it@acme.example",
		"jdoe":                       "",
		"":                           "",
		"Jane <jane@acme.example>":   "",
		"jane@acme.example ":         "",
		"two@acme.example,x@y.com":   "",
		"@acme.example":              "",
		"jane@":                      "",
		"jane@acme.example\n":        "",
		"\"odd local\"@acme.example": "", // ParseAddress unquotes it, so it is not the login
	}
	for in, want := range tests {
		assert.Equal(t, want, emailFrom(in), "emailFrom(%q)", in)
	}
}

func TestFromSDKMatchesHookConversion(t *testing.T) {
	pub := ts("2024-05-06T09:10:00Z")
	sdk := &oktasdk.LogEvent{
		Uuid: "u1", EventType: EventSuspend, DisplayMessage: "Suspend Okta user", Published: &pub,
		Actor:  &oktasdk.LogActor{Id: "00uadmin", Type: "User", AlternateId: "admin@x.example", DisplayName: "Admin"},
		Client: &oktasdk.LogClient{IpAddress: "192.0.2.1"},
		Target: []*oktasdk.LogTarget{nil, {Id: "0oa1", Type: "AppInstance"}, {Id: "00u1", Type: "User", AlternateId: "u@x.example", DisplayName: "U"}},
	}
	le := fromSDK(sdk)
	got, ok := le.toEvent(SourceCatchup)
	require.True(t, ok)
	assert.Equal(t, Event{
		UUID: "u1", Type: EventSuspend, Published: pub, Message: "Suspend Okta user", UserID: "00u1", Login: "u@x.example",
		Email: "u@x.example", Name: "U", Actor: Actor{ID: "00uadmin", Type: "User", AlternateID: "admin@x.example", DisplayName: "Admin"},
		ClientIP: "192.0.2.1", Source: SourceCatchup,
	}, got)

	bare := fromSDK(&oktasdk.LogEvent{Uuid: "u2"})
	_, ok = bare.toEvent(SourceCatchup)
	assert.False(t, ok, "an event without targets has nobody to lock")
}

func TestEventTypes(t *testing.T) {
	d := DefaultAutoLockTypes()
	assert.Equal(t, []string{EventSuspend, EventDeactivate, EventSuspicious}, d)
	d[0] = "changed"
	assert.Equal(t, EventSuspend, DefaultAutoLockTypes()[0], "each call returns a fresh slice")

	for _, typ := range []string{EventSuspend, EventDeactivate, EventSuspicious, EventRiskDetect, EventRiskChange, EventUnsuspend, EventReactivate} {
		assert.True(t, KnownEventType(typ), typ)
	}
	for _, typ := range []string{"", "user.session.start", "USER.LIFECYCLE.SUSPEND", "user.lifecycle.suspend "} {
		assert.False(t, KnownEventType(typ), typ)
	}
}

func FuzzParseDelivery(f *testing.F) {
	entries, err := os.ReadDir(fixtureDir)
	require.NoError(f, err)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "delivery_") || strings.HasPrefix(e.Name(), "inline_") {
			f.Add(fixture(f, e.Name()))
		}
	}
	f.Add([]byte(`{"eventType":"com.okta.event_hook","data":{"events":[{"uuid":"u","target":[{"type":"User","id":"x"}]}]}}`))
	f.Add([]byte(`{"eventType":"com.okta.event_hook","data":{"events":[{"target":[{"type":"User"},{"type":"User","alternateId":"a@b.c"}]}]}}`))
	f.Add([]byte(`{"eventType":"com.okta.event_hook","data":{"events":[null,1,{"target":[1,"x",{"type":"User","id":7}]}]}}`))
	f.Add([]byte(`{"eventType":"com.okta.event_hook","data":{"events":[{"published":"2024-13-99T99:99:99Z","target":[{"type":"User","id":"x"}]}]}}`))
	f.Add([]byte(`{"eventType":"com.okta.event_hook","data":{"events":{}}}`))
	f.Add([]byte("\xff\xfe"))
	f.Add([]byte(`{"data":{"events":[{"uuid":"u","target":[{"type":"User","id":"x"}]}]},"eventType":"com.okta.event_hook"}`))
	f.Add([]byte(`{"eventType":"com.okta.event_hook","data":{"events":[{"uuid":"a","target":[{"type":"User","id":"x"}]}]},"data":{"events":[]}}`))
	f.Add([]byte(`{"eventType":"com.okta.event_hook","data":{"events":[],"events":null}}`))
	f.Add([]byte(`{"eventType":"com.okta.event_hook","Data":{"events":[]}}`))
	f.Add([]byte(`{"eventType":"com.okta.event_hook","data":{"events":[1e999,{"uuid":1e999}]},"x":[1e999,{"y":[]}]}`))
	f.Add([]byte(`{"eventType":"com.okta.event_hook","data":{"events":[]}} {}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := ParseDelivery(body)
		want, wantDropped, wantErr := referenceParse(body)
		switch {
		case wantErr != nil:
			require.ErrorIs(t, err, wantErr, "the streaming decoder classifies the body as encoding/json does")
			require.Nil(t, evs)
			return
		default:
			require.NoError(t, err)
		}
		require.Equal(t, want, evs, "streaming and whole-body decoding agree")
		b, err := decodeDelivery(bytes.NewReader(body), nil)
		require.NoError(t, err)
		require.Equal(t, wantDropped, b.dropped)
		for _, ev := range evs {
			require.True(t, ev.UserID != "" || ev.Login != "", "event without a User target: %+v", ev)
			require.Equal(t, SourceHook, ev.Source)
			if ev.Email != "" {
				require.Equal(t, ev.Login, ev.Email, "email only ever comes from the login")
			}
		}
	})
}

// referenceParse decodes a delivery the simple way, the whole body at once
// with encoding/json (objects as maps, so keys match exactly and the last
// duplicate wins), to check the streaming decoder against.
func referenceParse(body []byte) ([]Event, int, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, 0, ErrMalformed
		}
		return nil, 0, ErrNotEnvelope
	}
	var typ string
	if json.Unmarshal(top["eventType"], &typ) != nil || typ != hookEnvelopeType {
		return nil, 0, ErrNotEnvelope
	}
	var data map[string]json.RawMessage
	if json.Unmarshal(top["data"], &data) != nil || data == nil {
		return nil, 0, ErrNotEnvelope
	}
	var raw []json.RawMessage
	if json.Unmarshal(data["events"], &raw) != nil || raw == nil {
		return nil, 0, ErrNotEnvelope
	}
	evs, dropped := []Event{}, 0
	for _, r := range raw {
		var le logEvent
		if err := json.Unmarshal(r, &le); err != nil {
			var typ *json.UnmarshalTypeError
			if !errors.As(err, &typ) {
				dropped++
				continue
			}
		}
		ev, ok := le.toEvent(SourceHook)
		if !ok {
			dropped++
			continue
		}
		evs = append(evs, ev)
	}
	return evs, dropped, nil
}

func TestParseDeliveryKeyOrderAndDuplicates(t *testing.T) {
	user := `{"uuid":"u1","eventType":"user.lifecycle.suspend","target":[{"type":"User","id":"00u1"}]}`
	tests := []struct {
		name    string
		body    string
		want    int
		wantErr error
	}{
		{name: "data before eventType", body: `{"data":{"events":[` + user + `]},"eventType":"com.okta.event_hook"}`, want: 1},
		{name: "last data wins", body: `{"eventType":"com.okta.event_hook","data":{"events":[` + user + `]},"data":{"events":[]}}`},
		{name: "last events wins", body: `{"eventType":"com.okta.event_hook","data":{"events":[` + user + `],"events":null}}`, wantErr: ErrNotEnvelope},
		{name: "last eventType wins", body: `{"eventType":"com.okta.event_hook","eventType":"x","data":{"events":[]}}`, wantErr: ErrNotEnvelope},
		{name: "keys match exactly", body: `{"eventType":"com.okta.event_hook","Data":{"events":[]}}`, wantErr: ErrNotEnvelope},
		{name: "long S is not s", body: `{"eventType":"com.okta.event_hook","data":{"event\u017f":[]}}`, wantErr: ErrNotEnvelope},
		{name: "bad JSON after a wrong shape", body: `{"eventType":5,"data":{"events":[}`, wantErr: ErrMalformed},
		{name: "huge number skipped", body: `{"eventType":"com.okta.event_hook","n":1e999,"data":{"events":[1e999]}}`},
		{name: "second top-level value", body: `{"eventType":"com.okta.event_hook","data":{"events":[]}} {}`, wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDelivery([]byte(tt.body))
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Len(t, got, tt.want)
		})
	}
}

func TestParseDeliveryTrimsIdentities(t *testing.T) {
	got, err := ParseDelivery([]byte(`{"eventType":"com.okta.event_hook","data":{"events":[
		{"uuid":"u1","target":[{"type":"User","id":"  ","alternateId":" "}]},
		{"uuid":"u2","target":[{"type":"User","id":" 00u2\t","alternateId":"  ann@x.example "}]}]}}`))
	require.NoError(t, err)
	require.Len(t, got, 1, "a User target of spaces identifies nobody")
	assert.Equal(t, "00u2", got[0].UserID)
	assert.Equal(t, "ann@x.example", got[0].Login)
	assert.Equal(t, "ann@x.example", got[0].Email)
}
