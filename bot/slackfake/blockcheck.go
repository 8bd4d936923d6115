package slackfake

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Block Kit limits production Slack enforces on messages, from the block,
// element and composition-object references.
const (
	maxBlocks             = 50
	maxTextObject         = 3000
	maxSectionText        = 3000
	maxSectionFields      = 10
	maxFieldText          = 2000
	maxHeaderText         = 150
	maxContextElements    = 10
	maxActionsElements    = 25
	maxButtonText         = 75
	maxButtonValue        = 2000
	maxButtonURL          = 3000
	maxAccessibilityLabel = 75
	maxActionID           = 255
	maxBlockID            = 255
	maxConfirmTitle       = 100
	maxConfirmText        = 300
	maxConfirmButton      = 30
)

// knownBlockType says whether Slack accepts the block type in messages;
// the fake checks the ones lockbot sends (header, section, context,
// actions, divider) field by field and lets the others through.
func knownBlockType(typ string) bool {
	switch typ {
	case "actions", "context", "divider", "file", "header", "image", "input",
		"markdown", "rich_text", "section", "video", "table":
		return true
	}
	return false
}

// interactiveElementType says whether an actions block or a section
// accessory may hold the element type besides buttons; only the action_id
// of these is checked.
func interactiveElementType(typ string) bool {
	switch typ {
	case "checkboxes", "datepicker", "datetimepicker", "overflow", "radio_buttons",
		"static_select", "external_select", "users_select", "conversations_select", "channels_select",
		"multi_static_select", "multi_external_select", "multi_users_select",
		"multi_conversations_select", "multi_channels_select", "timepicker", "workflow_button":
		return true
	}
	return false
}

// blockCheck collects every violation in one message's blocks, each
// pointing at the offending value the way Slack's errors do.
type blockCheck struct {
	details  []string
	blockIDs map[string]bool
}

func (c *blockCheck) add(at, format string, args ...any) {
	c.details = append(c.details, fmt.Sprintf(format, args...)+" [json-pointer:"+at+"]")
}

// validateBlocks checks a blocks array against Slack's Block Kit rules and
// reports every violation.
func validateBlocks(raw []byte) *blockProblem {
	blocks, err := decodeBlocks(raw)
	if err != nil {
		return &blockProblem{code: errInvalidBlocksFormat, details: []string{err.Error()}}
	}
	c := &blockCheck{blockIDs: map[string]bool{}}
	if len(blocks) > maxBlocks {
		c.add("/blocks", "no more than %d items allowed", maxBlocks)
	}
	for i, b := range blocks {
		c.block("/blocks/"+strconv.Itoa(i), b)
	}
	if len(c.details) > 0 {
		return &blockProblem{code: errInvalidBlocks, details: c.details}
	}
	return nil
}

func (c *blockCheck) block(at string, b map[string]any) {
	typ := stringField(b, "type")
	if b == nil || typ == "" {
		c.add(at, "missing required field: type")
		return
	}
	if v, has := b["block_id"]; has {
		c.blockID(at+"/block_id", v)
	}
	switch typ {
	case "header":
		c.requiredText(at, b, "text", maxHeaderText, true)
	case "section":
		c.section(at, b)
	case "context":
		c.context(at, b)
	case "actions":
		c.actions(at, b)
	case "divider":
	default:
		if !knownBlockType(typ) {
			c.add(at, "failed to match all allowed schemas")
		}
	}
}

// blockID checks one block_id: a string of at most 255 characters, used
// once in the message.
func (c *blockCheck) blockID(at string, v any) {
	id, isString := v.(string)
	switch {
	case !isString:
		c.add(at, "must be a string")
	case utf8.RuneCountInString(id) > maxBlockID:
		c.add(at, "must be less than %d characters", maxBlockID+1)
	case c.blockIDs[id]:
		c.add(at, "block_id must be unique within the message")
	default:
		c.blockIDs[id] = true
	}
}

func (c *blockCheck) section(at string, b map[string]any) {
	text, hasText := b["text"]
	fields, _ := b["fields"].([]any)
	_, hasFields := b["fields"]
	if !hasText && len(fields) == 0 {
		c.add(at, "missing required field: text")
	}
	if hasText {
		c.text(at+"/text", text, maxSectionText, false)
	}
	if hasFields && fields == nil {
		c.add(at+"/fields", "must be an array")
	}
	if len(fields) > maxSectionFields {
		c.add(at+"/fields", "no more than %d items allowed", maxSectionFields)
	}
	for j, f := range fields {
		c.text(at+"/fields/"+strconv.Itoa(j), f, maxFieldText, false)
	}
	if acc, has := b["accessory"]; has {
		c.element(at+"/accessory", acc, nil, true)
	}
}

func (c *blockCheck) context(at string, b map[string]any) {
	els, ok := c.elements(at, b, maxContextElements)
	if !ok {
		return
	}
	for j, e := range els {
		eat := at + "/elements/" + strconv.Itoa(j)
		o, _ := e.(map[string]any)
		switch stringField(o, "type") {
		case "plain_text", "mrkdwn":
			c.text(eat, o, maxTextObject, false)
		case "image":
			c.image(eat, o)
		default:
			c.add(eat, "failed to match all allowed schemas")
		}
	}
}

func (c *blockCheck) actions(at string, b map[string]any) {
	els, ok := c.elements(at, b, maxActionsElements)
	if !ok {
		return
	}
	actionIDs := map[string]bool{}
	for j, e := range els {
		c.element(at+"/elements/"+strconv.Itoa(j), e, actionIDs, false)
	}
}

// elements reads a block's required elements array of 1…limit items.
func (c *blockCheck) elements(at string, b map[string]any, limit int) ([]any, bool) {
	raw, has := b["elements"]
	els, isArray := raw.([]any)
	switch {
	case !has:
		c.add(at, "missing required field: elements")
		return nil, false
	case !isArray:
		c.add(at+"/elements", "must be an array")
		return nil, false
	case len(els) == 0:
		c.add(at+"/elements", "must provide at least 1 item")
	case len(els) > limit:
		c.add(at+"/elements", "no more than %d items allowed", limit)
	}
	return els, true
}

// element checks an interactive element (or a section accessory, which may
// also be an image). actionIDs, when not nil, are the action_ids already
// used in the same block.
func (c *blockCheck) element(at string, v any, actionIDs map[string]bool, accessory bool) {
	o, _ := v.(map[string]any)
	typ := stringField(o, "type")
	switch {
	case typ == "button":
		c.button(at, o)
	case typ == "image" && accessory:
		c.image(at, o)
		return
	case interactiveElementType(typ):
	default:
		c.add(at, "failed to match all allowed schemas")
		return
	}
	raw, has := o["action_id"]
	if !has {
		return
	}
	id, isString := raw.(string)
	switch {
	case !isString:
		c.add(at+"/action_id", "must be a string")
	case utf8.RuneCountInString(id) > maxActionID:
		c.add(at+"/action_id", "must be less than %d characters", maxActionID+1)
	case actionIDs == nil:
	case actionIDs[id]:
		c.add(at+"/action_id", "action_id must be unique within the block")
	default:
		actionIDs[id] = true
	}
}

func (c *blockCheck) button(at string, o map[string]any) {
	c.requiredText(at, o, "text", maxButtonText, true)
	c.maxString(at, o, "value", maxButtonValue)
	c.maxString(at, o, "url", maxButtonURL)
	c.maxString(at, o, "accessibility_label", maxAccessibilityLabel)
	c.style(at, o)
	if conf, has := o["confirm"]; has {
		c.confirm(at+"/confirm", conf)
	}
}

// confirm checks a confirmation dialog: all four texts are required.
func (c *blockCheck) confirm(at string, v any) {
	o, isObject := v.(map[string]any)
	if !isObject {
		c.add(at, "must be an object")
		return
	}
	c.requiredText(at, o, "title", maxConfirmTitle, true)
	c.requiredText(at, o, "text", maxConfirmText, false)
	c.requiredText(at, o, "confirm", maxConfirmButton, true)
	c.requiredText(at, o, "deny", maxConfirmButton, true)
	c.style(at, o)
}

func (c *blockCheck) image(at string, o map[string]any) {
	_, url := o["image_url"]
	_, file := o["slack_file"]
	if !url && !file {
		c.add(at, "missing required field: image_url")
	}
	if stringField(o, "alt_text") == "" {
		c.add(at, "missing required field: alt_text")
	}
}

// style checks a button or dialog style: primary or danger.
func (c *blockCheck) style(at string, o map[string]any) {
	v, has := o["style"]
	if !has {
		return
	}
	if s, _ := v.(string); s != "primary" && s != "danger" {
		c.add(at+"/style", "must be one of: primary, danger")
	}
}

// maxString checks an optional string field's length.
func (c *blockCheck) maxString(at string, o map[string]any, key string, limit int) {
	v, has := o[key]
	if !has {
		return
	}
	s, isString := v.(string)
	switch {
	case !isString:
		c.add(at+"/"+key, "must be a string")
	case utf8.RuneCountInString(s) > limit:
		c.add(at+"/"+key, "must be less than %d characters", limit+1)
	}
}

// requiredText checks a required text-object field of o.
func (c *blockCheck) requiredText(at string, o map[string]any, key string, limit int, plainOnly bool) {
	v, has := o[key]
	if !has {
		c.add(at, "missing required field: %s", key)
		return
	}
	c.text(at+"/"+key, v, limit, plainOnly)
}

// text checks a text object: plain_text may carry emoji, mrkdwn may
// carry verbatim, nothing else is allowed, and the text must be 1…limit
// characters.
func (c *blockCheck) text(at string, v any, limit int, plainOnly bool) {
	o, isObject := v.(map[string]any)
	if !isObject {
		c.add(at, "must be an object")
		return
	}
	typ, _ := o["type"].(string)
	extra := "" // the one optional property the type allows
	switch typ {
	case "plain_text":
		extra = "emoji"
	case "mrkdwn":
		extra = "verbatim"
		if plainOnly {
			c.add(at+"/type", "must be plain_text")
		}
	case "":
		c.add(at, "missing required field: type")
	default:
		c.add(at+"/type", "must be one of: plain_text, mrkdwn")
	}
	for _, k := range sortedKeys(o) {
		switch {
		case k == "type" || k == "text":
		case k == extra && extra != "":
			if _, isBool := o[k].(bool); !isBool {
				c.add(at+"/"+k, "must be a boolean")
			}
		default:
			c.add(at, "invalid additional property: %s", k)
		}
	}
	raw, has := o["text"]
	text, isString := raw.(string)
	n := utf8.RuneCountInString(text)
	switch {
	case !has:
		c.add(at, "missing required field: text")
	case !isString:
		c.add(at+"/text", "must be a string")
	case n == 0:
		c.add(at+"/text", "must be more than 0 characters")
	case n > limit:
		c.add(at+"/text", "must be less than %d characters", limit+1)
	}
}
