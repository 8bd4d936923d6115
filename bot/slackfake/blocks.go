package slackfake

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"slices"
	"strconv"
	"unicode/utf8"
)

// maxMessageText is where Slack cuts a message's text: longer text is
// truncated, not refused.
const maxMessageText = 40000

// Slack error codes for message content.
const (
	errInvalidBlocks       = "invalid_blocks"
	errInvalidBlocksFormat = "invalid_blocks_format"
	errNoText              = "no_text"
)

// blockProblem is why Slack would refuse a message's blocks: code is the
// Slack error, details the human-readable "errors" entries Slack adds.
type blockProblem struct {
	code    string
	details []string
}

// checkContent applies the rules chat.postMessage, chat.update,
// chat.postEphemeral and response_url share: some content, and valid
// blocks. It returns nil when the content is acceptable.
func checkContent(text string, blocks []byte, needContent bool) *blockProblem {
	if blocks == nil {
		if needContent && text == "" {
			return &blockProblem{code: errNoText}
		}
		return nil
	}
	return validateBlocks(blocks)
}

// truncateText is text as Slack stores it, and whether it was cut.
func truncateText(text string) (string, bool) {
	if utf8.RuneCountInString(text) <= maxMessageText {
		return text, false
	}
	n := 0
	for i := range text {
		if n == maxMessageText {
			return text[:i], true
		}
		n++
	}
	return text, false
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
// sent without. The invented IDs are messageBlockIDs', so Buttons and Click
// agree.
func fillBlockIDs(raw json.RawMessage) json.RawMessage {
	blocks, err := decodeBlocks(raw)
	if err != nil {
		return raw
	}
	ids := messageBlockIDs(blocks)
	for i, b := range blocks {
		if b != nil {
			b["block_id"] = ids[i]
		}
	}
	out, err := json.Marshal(blocks)
	if err != nil {
		return raw
	}
	return out
}

// messageBlockIDs is each block's block_id as Slack reports it: the
// block's own, or a stable one the fake invents ("fakeblk" and the index)
// that no other block of the message uses.
func messageBlockIDs(blocks []map[string]any) []string {
	taken := map[string]bool{}
	for _, b := range blocks {
		if id, ok := b["block_id"].(string); ok && id != "" {
			taken[id] = true
		}
	}
	out := make([]string, len(blocks))
	for i, b := range blocks {
		if id, ok := b["block_id"].(string); ok && id != "" {
			out[i] = id
			continue
		}
		id := "fakeblk" + strconv.Itoa(i)
		for taken[id] {
			id += "x"
		}
		taken[id] = true
		out[i] = id
	}
	return out
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
