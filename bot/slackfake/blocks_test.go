package slackfake

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dividers is a blocks array of n dividers.
func dividers(n int) string {
	return "[" + strings.TrimSuffix(strings.Repeat(`{"type":"divider"},`, n), ",") + "]"
}

func section(text string) string {
	b, _ := json.Marshal(map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": text}})
	return string(b)
}

func button(actionID, value, text string) string {
	b, _ := json.Marshal(map[string]any{
		"type": "button", "action_id": actionID, "value": value,
		"text": map[string]any{"type": "plain_text", "text": text},
	})
	return string(b)
}

func actions(elements ...string) string {
	return `{"type":"actions","elements":[` + strings.Join(elements, ",") + `]}`
}

func TestValidateBlocks(t *testing.T) {
	fields := func(n, size int) string {
		fs := make([]string, n)
		for i := range fs {
			fs[i] = `{"type":"mrkdwn","text":"` + strings.Repeat("f", size) + `"}`
		}
		return `[{"type":"section","fields":[` + strings.Join(fs, ",") + `]}]`
	}
	buttons := func(n int) string {
		bs := make([]string, n)
		for i := range bs {
			bs[i] = button("a"+strings.Repeat("x", i), "v", "t")
		}
		return "[" + actions(bs...) + "]"
	}
	tests := []struct {
		name   string
		blocks string
		code   string // "" = valid
		detail string
	}{
		{"empty array", `[]`, "", ""},
		{"fifty blocks", dividers(50), "", ""},
		{"fifty-one blocks", dividers(51), errInvalidBlocks, "no more than 50 items allowed [json-pointer:/blocks]"},
		{"section at limit", "[" + section(strings.Repeat("é", 3000)) + "]", "", ""},
		{"section over limit", "[" + section(strings.Repeat("é", 3001)) + "]", errInvalidBlocks, "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"},
		{"ten fields", fields(10, 2000), "", ""},
		{"eleven fields", fields(11, 1), errInvalidBlocks, "no more than 10 items allowed [json-pointer:/blocks/0/fields]"},
		{"field too long", fields(1, 2001), errInvalidBlocks, "must be less than 2001 characters [json-pointer:/blocks/0/fields/0/text]"},
		{"25 elements", buttons(25), "", ""},
		{"26 elements", buttons(26), errInvalidBlocks, "no more than 25 items allowed [json-pointer:/blocks/0/elements]"},
		{"button value at limit", "[" + actions(button("a", strings.Repeat("v", 2000), "t")) + "]", "", ""},
		{"button value too long", "[" + actions(button("a", strings.Repeat("v", 2001), "t")) + "]", errInvalidBlocks, "must be less than 2001 characters [json-pointer:/blocks/0/elements/0/value]"},
		{"button text too long", "[" + actions(button("a", "v", strings.Repeat("t", 76))) + "]", errInvalidBlocks, "must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]"},
		{"action_id at limit", "[" + actions(button(strings.Repeat("a", 255), "v", "t")) + "]", "", ""},
		{"action_id too long", "[" + actions(button(strings.Repeat("a", 256), "v", "t")) + "]", errInvalidBlocks, "must be less than 256 characters [json-pointer:/blocks/0/elements/0/action_id]"},
		{"accessory button checked", `[{"type":"section","text":{"type":"mrkdwn","text":"x"},"accessory":` + button("a", strings.Repeat("v", 2001), "t") + `}]`, errInvalidBlocks, "must be less than 2001 characters [json-pointer:/blocks/0/accessory/value]"},
		{"block_id too long", `[{"type":"divider","block_id":"` + strings.Repeat("b", 256) + `"}]`, errInvalidBlocks, "must be less than 256 characters [json-pointer:/blocks/0/block_id]"},
		{"block without type", `[{"type":"divider"},{}]`, errInvalidBlocks, "missing required field: type [json-pointer:/blocks/1]"},
		{"block not an object", `[1]`, errInvalidBlocks, "missing required field: type [json-pointer:/blocks/0]"},
		{"object instead of array", `{"type":"divider"}`, errInvalidBlocksFormat, ""},
		{"null", `null`, errInvalidBlocksFormat, ""},
		{"not JSON", `[{"type":`, errInvalidBlocksFormat, ""},
		{"trailing data", `[] []`, errInvalidBlocksFormat, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prob := validateBlocks([]byte(tt.blocks))
			if tt.code == "" {
				assert.Nil(t, prob)
				return
			}
			require.NotNil(t, prob)
			assert.Equal(t, tt.code, prob.code)
			require.NotEmpty(t, prob.details)
			if tt.detail != "" {
				assert.Equal(t, []string{tt.detail}, prob.details)
			}
		})
	}
}

func TestValidateBlocksReportsEveryProblem(t *testing.T) {
	blocks := "[" + section(strings.Repeat("x", 3001)) + "," + actions(button(strings.Repeat("a", 256), strings.Repeat("v", 2001), "t")) + "]"
	prob := validateBlocks([]byte(blocks))
	require.NotNil(t, prob)
	assert.Len(t, prob.details, 3)
}

func TestCheckContent(t *testing.T) {
	assert.Nil(t, checkContent("hi", nil, true))
	assert.Nil(t, checkContent("", nil, false))
	assert.Nil(t, checkContent("", []byte(`[]`), true))
	assert.Equal(t, errNoText, checkContent("", nil, true).code)
	assert.Nil(t, checkContent(strings.Repeat("x", 40001), nil, true), "long text is cut, not refused")
	assert.Equal(t, errInvalidBlocks, checkContent("hi", []byte(dividers(51)), true).code)
}

func TestMessageAllTextAndButtons(t *testing.T) {
	m := Message{
		Text: "fallback",
		Blocks: json.RawMessage("[" + section("Target *alice@corp.example*") + "," +
			`{"type":"section","fields":[{"type":"mrkdwn","text":"Serial C02XYZ"}]},` +
			`{"type":"actions","block_id":"act","elements":[` + button("lock_approve", "req-1", "Approve") + "," + button("lock_deny", "req-1", "Deny") + `]},` +
			`{"type":"section","text":{"type":"mrkdwn","text":"PINs"},"accessory":` + button("lock_reveal_pins", "lock-9", "Send me the unlock PINs") + `}]`),
	}
	all := m.AllText()
	for _, want := range []string{"fallback", "Target *alice@corp.example*", "Serial C02XYZ", "req-1", "Approve", "lock-9", "Send me the unlock PINs"} {
		assert.Contains(t, all, want)
	}
	assert.True(t, strings.HasPrefix(all, "fallback\n"))
	assert.NotContains(t, all, "mrkdwn", "types are not text")

	assert.Equal(t, []Button{
		{ActionID: "lock_approve", Value: "req-1", Text: "Approve", BlockID: "act"},
		{ActionID: "lock_deny", Value: "req-1", Text: "Deny", BlockID: "act"},
		{ActionID: "lock_reveal_pins", Value: "lock-9", Text: "Send me the unlock PINs", BlockID: "fakeblk3"},
	}, m.Buttons())

	assert.Equal(t, "only", Message{Text: "only"}.AllText())
	assert.Equal(t, "x", Message{Text: "x", Blocks: json.RawMessage(`not json`)}.AllText())
	assert.Empty(t, Message{Blocks: json.RawMessage(`{}`)}.Buttons())
	assert.Empty(t, Message{}.Buttons())
}

func TestFillBlockIDs(t *testing.T) {
	out := fillBlockIDs(json.RawMessage(`[{"type":"divider"},{"type":"divider","block_id":"keep"},{"type":"divider","block_id":""},7]`))
	assert.JSONEq(t, `[{"type":"divider","block_id":"fakeblk0"},{"type":"divider","block_id":"keep"},{"type":"divider","block_id":"fakeblk2"},null]`, string(out))
	assert.Equal(t, `nope`, string(fillBlockIDs(json.RawMessage(`nope`))))
}

func TestFlattenJSON(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    map[string]string
		wantErr bool
	}{
		{"empty body", "", map[string]string{}, false},
		{"blank body", " \n", map[string]string{}, false},
		{"scalars", `{"s":"x","b":true,"n":12.50,"z":null}`, map[string]string{"s": "x", "b": "true", "n": "12.50"}, false},
		{"nested compacted", `{"blocks":[ {"type" : "divider"} ],"o":{"a":1}}`, map[string]string{"blocks": `[{"type":"divider"}]`, "o": `{"a":1}`}, false},
		{"escaped string", `{"t":"a\"b\u00e9"}`, map[string]string{"t": `a"bé`}, false},
		{"array body", `[1]`, nil, true},
		{"null body", `null`, nil, true},
		{"broken", `{"a":`, nil, true},
		{"two values", `{} {}`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := flattenJSON([]byte(tt.body))
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseAck(t *testing.T) {
	tests := []struct {
		frame   string
		id      string
		payload string
		wantErr bool
	}{
		{`{"envelope_id":"e1"}`, "e1", "", false},
		{`{"envelope_id":"e1","payload":null}`, "e1", "", false},
		{`{"envelope_id":"e1","payload":{"text":"hi"}}`, "e1", `{"text":"hi"}`, false},
		{`{"envelope_id":""}`, "", "", true},
		{`{"payload":{}}`, "", "", true},
		{`{"envelope_id":5}`, "", "", true},
		{`[]`, "", "", true},
		{`ping`, "", "", true},
	}
	for _, tt := range tests {
		a, err := parseAck([]byte(tt.frame))
		if tt.wantErr {
			assert.Error(t, err, tt.frame)
			continue
		}
		require.NoError(t, err, tt.frame)
		assert.Equal(t, tt.id, a.EnvelopeID)
		assert.Equal(t, tt.payload, string(a.Payload))
	}
}
