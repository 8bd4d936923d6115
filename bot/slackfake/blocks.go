package slackfake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Block Kit limits production Slack enforces on messages. Sources:
// docs.slack.dev block reference and node-slack-sdk's block-kit types (see
// shared/reference/slack.md §3).
const (
	maxBlocks          = 50
	maxSectionText     = 3000
	maxSectionFields   = 10
	maxFieldText       = 2000
	maxActionsElements = 25
	maxButtonValue     = 2000
	maxButtonText      = 75
	maxActionID        = 255
	maxBlockID         = 255
	maxMessageText     = 40000
)

// Slack error codes for message content.
const (
	errInvalidBlocks       = "invalid_blocks"
	errInvalidBlocksFormat = "invalid_blocks_format"
	errMsgTooLong          = "msg_too_long"
	errNoText              = "no_text"
)

// blockProblem is why Slack would refuse a message's blocks: code is the
// Slack error, details the human-readable "errors" entries Slack adds.
type blockProblem struct {
	code    string
	details []string
}

// checkContent applies the limits chat.postMessage, chat.update and
// response_url share: text length, presence of some content, and the
// blocks. It returns nil when the content is acceptable.
func checkContent(text string, blocks []byte, needContent bool) *blockProblem {
	if utf8.RuneCountInString(text) > maxMessageText {
		return &blockProblem{code: errMsgTooLong}
	}
	if blocks == nil {
		if needContent && text == "" {
			return &blockProblem{code: errNoText}
		}
		return nil
	}
	return validateBlocks(blocks)
}

// validateBlocks checks a blocks array against the limits above and reports
// every violation, pointing at it the way Slack does.
func validateBlocks(raw []byte) *blockProblem {
	blocks, err := decodeBlocks(raw)
	if err != nil {
		return &blockProblem{code: errInvalidBlocksFormat, details: []string{err.Error()}}
	}
	var details []string
	add := func(format string, args ...any) { details = append(details, fmt.Sprintf(format, args...)) }
	if len(blocks) > maxBlocks {
		add("no more than %d items allowed [json-pointer:/blocks]", maxBlocks)
	}
	for i, b := range blocks {
		at := "/blocks/" + strconv.Itoa(i)
		if b == nil || stringField(b, "type") == "" {
			add("missing required field: type [json-pointer:%s]", at)
			continue
		}
		if id, ok := b["block_id"].(string); ok && utf8.RuneCountInString(id) > maxBlockID {
			add("must be less than %d characters [json-pointer:%s/block_id]", maxBlockID+1, at)
		}
		switch b["type"] {
		case "section":
			if n := utf8.RuneCountInString(textOf(b["text"])); n > maxSectionText {
				add("must be less than %d characters [json-pointer:%s/text/text]", maxSectionText+1, at)
			}
			fields, _ := b["fields"].([]any)
			if len(fields) > maxSectionFields {
				add("no more than %d items allowed [json-pointer:%s/fields]", maxSectionFields, at)
			}
			for j, f := range fields {
				if utf8.RuneCountInString(textOf(f)) > maxFieldText {
					add("must be less than %d characters [json-pointer:%s/fields/%d/text]", maxFieldText+1, at, j)
				}
			}
		case "actions":
			if els, _ := b["elements"].([]any); len(els) > maxActionsElements {
				add("no more than %d items allowed [json-pointer:%s/elements]", maxActionsElements, at)
			}
		}
		walkObjects(b, func(o map[string]any) {
			if id, ok := o["action_id"].(string); ok && utf8.RuneCountInString(id) > maxActionID {
				add("must be less than %d characters [json-pointer:%s action_id]", maxActionID+1, at)
			}
			if o["type"] != "button" {
				return
			}
			if utf8.RuneCountInString(stringField(o, "value")) > maxButtonValue {
				add("must be less than %d characters [json-pointer:%s button value]", maxButtonValue+1, at)
			}
			if utf8.RuneCountInString(textOf(o["text"])) > maxButtonText {
				add("must be less than %d characters [json-pointer:%s button text]", maxButtonText+1, at)
			}
		})
	}
	if len(details) > 0 {
		return &blockProblem{code: errInvalidBlocks, details: details}
	}
	return nil
}

// decodeBlocks parses a blocks array; an element that is not an object comes
// back as nil so the validator can point at it.
func decodeBlocks(raw []byte) ([]map[string]any, error) {
	var items []any
	if err := decodeJSON(raw, &items); err != nil {
		return nil, err
	}
	if items == nil {
		return nil, errors.New("blocks must be a JSON array")
	}
	out := make([]map[string]any, len(items))
	for i, it := range items {
		out[i], _ = it.(map[string]any)
	}
	return out, nil
}

// fillBlockIDs returns the blocks with a block_id on every block, as Slack
// echoes a message back in interaction payloads: Slack invents one for blocks
// sent without. The invented IDs match blockID, so Buttons and Click agree.
func fillBlockIDs(raw json.RawMessage) json.RawMessage {
	blocks, err := decodeBlocks(raw)
	if err != nil {
		return raw
	}
	for i, b := range blocks {
		if b != nil {
			b["block_id"] = blockID(b, i)
		}
	}
	out, err := json.Marshal(blocks)
	if err != nil {
		return raw
	}
	return out
}

// blockID is the block's own block_id, or the stable one the fake invents
// for the i-th block when it has none.
func blockID(b map[string]any, i int) string {
	if id, ok := b["block_id"].(string); ok && id != "" {
		return id
	}
	return "fakeblk" + strconv.Itoa(i)
}

// walkObjects calls fn for v and every object nested in it, depth first.
func walkObjects(v any, fn func(map[string]any)) {
	switch t := v.(type) {
	case map[string]any:
		if t == nil {
			return
		}
		fn(t)
		for _, k := range sortedKeys(t) {
			walkObjects(t[k], fn)
		}
	case []any:
		for _, e := range t {
			walkObjects(e, fn)
		}
	}
}

// textOf reads a text object's text ({"type":"mrkdwn","text":"…"}) or a bare
// string.
func textOf(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case map[string]any:
		return stringField(t, "text")
	}
	return ""
}

func stringField(o map[string]any, k string) string {
	s, _ := o[k].(string)
	return s
}

func sortedKeys(m map[string]any) []string {
	return slices.Sorted(maps.Keys(m))
}

// decodeJSON decodes exactly one JSON value, keeping numbers as written.
func decodeJSON(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}
