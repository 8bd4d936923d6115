package slackfake

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// blocksJSON encodes slack-go blocks the way slack-go sends them.
func blocksJSON(t *testing.T, bs ...slack.Block) string {
	t.Helper()
	raw, err := json.Marshal(bs)
	require.NoError(t, err)
	return string(raw)
}

func plainTO(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, true, false)
}

func mdTO(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

// lockbotCard is every block type lockbot sends, at its limits.
func lockbotCard(t *testing.T) string {
	t.Helper()
	confirm := slack.NewConfirmationBlockObject(plainTO(strings.Repeat("t", 100)), mdTO(strings.Repeat("x", 300)),
		plainTO(strings.Repeat("c", 30)), plainTO(strings.Repeat("d", 30)))
	approve := slack.NewButtonBlockElement("lock_approve", strings.Repeat("v", 2000), plainTO(strings.Repeat("a", 75))).
		WithStyle(slack.StylePrimary).WithConfirm(confirm)
	deny := slack.NewButtonBlockElement("lock_deny", "r", plainTO("Deny")).WithStyle(slack.StyleDanger)
	link := slack.NewButtonBlockElement("open", "", plainTO("Open"))
	link.URL = "https://example.com/" + strings.Repeat("u", 3000-20)
	return blocksJSON(t,
		slack.NewHeaderBlock(plainTO(strings.Repeat("h", 150))),
		slack.NewSectionBlock(mdTO(strings.Repeat("s", 3000)), nil, nil),
		slack.NewSectionBlock(nil, []*slack.TextBlockObject{mdTO(strings.Repeat("f", 2000)), plainTO("x")}, nil),
		slack.NewSectionBlock(mdTO("PINs"), nil, slack.NewAccessory(slack.NewButtonBlockElement("reveal", "r", plainTO("Reveal")))),
		slack.NewContextBlock("", mdTO("one"), plainTO("two")),
		slack.NewDividerBlock(),
		slack.NewActionBlock("decision:"+strings.Repeat("b", 246), approve, deny, link),
	)
}

func TestValidateBlocksAcceptsWhatLockbotSends(t *testing.T) {
	assert.Nil(t, validateBlocks([]byte(lockbotCard(t))))
}

func TestValidateBlockKitRules(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	btn := func(b *slack.ButtonBlockElement) string {
		return blocksJSON(t, slack.NewActionBlock("", b))
	}
	withConfirm := func(c *slack.ConfirmationBlockObject) string {
		return btn(slack.NewButtonBlockElement("a", "v", plainTO("Go")).WithConfirm(c))
	}
	okConfirm := func() *slack.ConfirmationBlockObject {
		return slack.NewConfirmationBlockObject(plainTO("Sure?"), mdTO("Really"), plainTO("Yes"), plainTO("No"))
	}
	tests := []struct {
		name   string
		blocks string
		want   []string // details; nil = accepted
	}{
		{"header too long", blocksJSON(t, slack.NewHeaderBlock(plainTO(long(151)))),
			[]string{"must be less than 151 characters [json-pointer:/blocks/0/text/text]"}},
		{"header in mrkdwn", blocksJSON(t, slack.NewHeaderBlock(mdTO("h"))),
			[]string{"must be plain_text [json-pointer:/blocks/0/text/type]"}},
		{"header without text", `[{"type":"header"}]`,
			[]string{"missing required field: text [json-pointer:/blocks/0]"}},
		{"empty header", blocksJSON(t, slack.NewHeaderBlock(plainTO(""))),
			[]string{"must be more than 0 characters [json-pointer:/blocks/0/text/text]"}},
		{"empty section text", blocksJSON(t, slack.NewSectionBlock(mdTO(""), nil, nil)),
			[]string{"must be more than 0 characters [json-pointer:/blocks/0/text/text]"}},
		{"section with neither text nor fields", blocksJSON(t, slack.NewSectionBlock(nil, nil, nil)),
			[]string{"missing required field: text [json-pointer:/blocks/0]"}},
		{"empty field", blocksJSON(t, slack.NewSectionBlock(nil, []*slack.TextBlockObject{mdTO("a"), mdTO("")}, nil)),
			[]string{"must be more than 0 characters [json-pointer:/blocks/0/fields/1/text]"}},
		{"plain_text with verbatim", `[{"type":"section","text":{"type":"plain_text","text":"x","verbatim":true}}]`,
			[]string{"invalid additional property: verbatim [json-pointer:/blocks/0/text]"}},
		{"mrkdwn with emoji", `[{"type":"section","text":{"type":"mrkdwn","text":"x","emoji":true}}]`,
			[]string{"invalid additional property: emoji [json-pointer:/blocks/0/text]"}},
		{"emoji not a boolean", `[{"type":"section","text":{"type":"plain_text","text":"x","emoji":"yes"}}]`,
			[]string{"must be a boolean [json-pointer:/blocks/0/text/emoji]"}},
		{"unknown text type", `[{"type":"section","text":{"type":"markdown","text":"x"}}]`,
			[]string{"must be one of: plain_text, mrkdwn [json-pointer:/blocks/0/text/type]"}},
		{"text as a string", `[{"type":"section","text":"x"}]`,
			[]string{"must be an object [json-pointer:/blocks/0/text]"}},
		{"context of ten", blocksJSON(t, slack.NewContextBlock("", mdTO("1"), mdTO("2"), mdTO("3"), mdTO("4"), mdTO("5"), mdTO("6"), mdTO("7"), mdTO("8"), mdTO("9"), mdTO("10"))), nil},
		{"context of eleven", blocksJSON(t, slack.NewContextBlock("", mdTO("1"), mdTO("2"), mdTO("3"), mdTO("4"), mdTO("5"), mdTO("6"), mdTO("7"), mdTO("8"), mdTO("9"), mdTO("10"), mdTO("11"))),
			[]string{"no more than 10 items allowed [json-pointer:/blocks/0/elements]"}},
		{"empty context", `[{"type":"context","elements":[]}]`,
			[]string{"must provide at least 1 item [json-pointer:/blocks/0/elements]"}},
		{"context with empty text", blocksJSON(t, slack.NewContextBlock("", mdTO(""))),
			[]string{"must be more than 0 characters [json-pointer:/blocks/0/elements/0/text]"}},
		{"context image", `[{"type":"context","elements":[{"type":"image","image_url":"https://x/i.png","alt_text":"i"}]}]`, nil},
		{"context image without alt_text", `[{"type":"context","elements":[{"type":"image","image_url":"https://x/i.png"}]}]`,
			[]string{"missing required field: alt_text [json-pointer:/blocks/0/elements/0]"}},
		{"context button", `[{"type":"context","elements":[` + button("a", "v", "t") + `]}]`,
			[]string{"failed to match all allowed schemas [json-pointer:/blocks/0/elements/0]"}},
		{"actions without elements", `[{"type":"actions"}]`,
			[]string{"missing required field: elements [json-pointer:/blocks/0]"}},
		{"empty actions", `[{"type":"actions","elements":[]}]`,
			[]string{"must provide at least 1 item [json-pointer:/blocks/0/elements]"}},
		{"duplicate action_id in a block", "[" + actions(button("a", "1", "t"), button("a", "2", "t")) + "]",
			[]string{"action_id must be unique within the block [json-pointer:/blocks/0/elements/1/action_id]"}},
		{"same action_id in two blocks", "[" + actions(button("a", "1", "t")) + "," + actions(button("a", "2", "t")) + "]", nil},
		{"duplicate block_id", `[{"type":"divider","block_id":"x"},{"type":"divider","block_id":"x"}]`,
			[]string{"block_id must be unique within the message [json-pointer:/blocks/1/block_id]"}},
		{"block_id not a string", `[{"type":"divider","block_id":7}]`,
			[]string{"must be a string [json-pointer:/blocks/0/block_id]"}},
		{"button text in mrkdwn", btn(slack.NewButtonBlockElement("a", "v", mdTO("Go"))),
			[]string{"must be plain_text [json-pointer:/blocks/0/elements/0/text/type]"}},
		{"empty button text", btn(slack.NewButtonBlockElement("a", "v", plainTO(""))),
			[]string{"must be more than 0 characters [json-pointer:/blocks/0/elements/0/text/text]"}},
		{"button without text", `[{"type":"actions","elements":[{"type":"button","action_id":"a"}]}]`,
			[]string{"missing required field: text [json-pointer:/blocks/0/elements/0]"}},
		{"button url too long", `[{"type":"actions","elements":[{"type":"button","text":{"type":"plain_text","text":"t"},"url":"` + long(3001) + `"}]}]`,
			[]string{"must be less than 3001 characters [json-pointer:/blocks/0/elements/0/url]"}},
		{"button style", `[{"type":"actions","elements":[{"type":"button","text":{"type":"plain_text","text":"t"},"style":"green"}]}]`,
			[]string{"must be one of: primary, danger [json-pointer:/blocks/0/elements/0/style]"}},
		{"accessibility_label too long", `[{"type":"actions","elements":[{"type":"button","text":{"type":"plain_text","text":"t"},"accessibility_label":"` + long(76) + `"}]}]`,
			[]string{"must be less than 76 characters [json-pointer:/blocks/0/elements/0/accessibility_label]"}},
		{"other interactive element", `[{"type":"actions","elements":[{"type":"static_select","action_id":"s"}]}]`, nil},
		{"unknown element", `[{"type":"actions","elements":[{"type":"lever"}]}]`,
			[]string{"failed to match all allowed schemas [json-pointer:/blocks/0/elements/0]"}},
		{"confirm title too long", withConfirm(slack.NewConfirmationBlockObject(plainTO(long(101)), mdTO("t"), plainTO("Yes"), plainTO("No"))),
			[]string{"must be less than 101 characters [json-pointer:/blocks/0/elements/0/confirm/title/text]"}},
		{"confirm text too long", withConfirm(slack.NewConfirmationBlockObject(plainTO("T"), mdTO(long(301)), plainTO("Yes"), plainTO("No"))),
			[]string{"must be less than 301 characters [json-pointer:/blocks/0/elements/0/confirm/text/text]"}},
		{"confirm button too long", withConfirm(slack.NewConfirmationBlockObject(plainTO("T"), mdTO("t"), plainTO(long(31)), plainTO("No"))),
			[]string{"must be less than 31 characters [json-pointer:/blocks/0/elements/0/confirm/confirm/text]"}},
		{"deny too long", withConfirm(slack.NewConfirmationBlockObject(plainTO("T"), mdTO("t"), plainTO("Yes"), plainTO(long(31)))),
			[]string{"must be less than 31 characters [json-pointer:/blocks/0/elements/0/confirm/deny/text]"}},
		{"confirm without deny", withConfirm(slack.NewConfirmationBlockObject(plainTO("T"), mdTO("t"), plainTO("Yes"), nil)),
			[]string{"missing required field: deny [json-pointer:/blocks/0/elements/0/confirm]"}},
		{"confirm title in mrkdwn", withConfirm(slack.NewConfirmationBlockObject(mdTO("T"), mdTO("t"), plainTO("Yes"), plainTO("No"))),
			[]string{"must be plain_text [json-pointer:/blocks/0/elements/0/confirm/title/type]"}},
		{"good confirm", withConfirm(okConfirm()), nil},
		{"image accessory", `[{"type":"section","text":{"type":"mrkdwn","text":"x"},"accessory":{"type":"image","image_url":"https://x/i.png","alt_text":"i"}}]`, nil},
		{"unknown block type", `[{"type":"carousel"}]`,
			[]string{"failed to match all allowed schemas [json-pointer:/blocks/0]"}},
		{"other known block type", `[{"type":"rich_text","elements":[]}]`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prob := validateBlocks([]byte(tt.blocks))
			if tt.want == nil {
				assert.Nil(t, prob, "%s", tt.blocks)
				return
			}
			require.NotNil(t, prob, "%s", tt.blocks)
			assert.Equal(t, errInvalidBlocks, prob.code)
			assert.Equal(t, tt.want, prob.details)
		})
	}
}

func TestInventedBlockIDsNeverCollide(t *testing.T) {
	raw := json.RawMessage(`[{"type":"divider"},{"type":"divider","block_id":"fakeblk0"}]`)
	assert.Nil(t, validateBlocks(raw))
	filled := fillBlockIDs(raw)
	assert.Nil(t, validateBlocks(filled), "Slack's invented IDs never clash with the app's: %s", filled)
	assert.JSONEq(t, `[{"type":"divider","block_id":"fakeblk0x"},{"type":"divider","block_id":"fakeblk0"}]`, string(filled))
}

func TestInvalidBlocksAnswerCarriesSlacksDetail(t *testing.T) {
	fake := newFake(t)
	status, answer := rawCall(t, fake, "chat.postMessage", map[string][]string{
		"token": {fake.BotToken()}, "channel": {approval},
		"blocks": {`[{"type":"header","text":{"type":"plain_text","text":"` + strings.Repeat("h", 151) + `"}}]`},
	})
	assert.Equal(t, 200, status)
	assert.Equal(t, "invalid_blocks", answer["error"])
	assert.Equal(t, []any{"must be less than 151 characters [json-pointer:/blocks/0/text/text]"}, answer["errors"])
	assert.Equal(t, map[string]any{"messages": []any{"[ERROR] must be less than 151 characters [json-pointer:/blocks/0/text/text]"}},
		answer["response_metadata"])
}

func TestTruncateText(t *testing.T) {
	s, cut := truncateText(strings.Repeat("é", 40000))
	assert.False(t, cut)
	assert.Len(t, []rune(s), 40000)
	s, cut = truncateText(strings.Repeat("é", 40001) + "tail")
	assert.True(t, cut)
	assert.Equal(t, strings.Repeat("é", 40000), s)
}
