package kandji

import (
	"bytes"
	"encoding/json"
	"html"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxMessageRunes keeps a server message short enough for a Slack line or a log field.
const maxMessageRunes = 200

// maxMessageDepth stops the rendering of absurdly nested JSON.
const maxMessageDepth = 8

// parseMessage extracts the human-readable part of an error body in any shape Kandji is known to
// send: a bare JSON string, an array of strings, {"detail": …}, {"error": …}, a field map
// ({"field": ["msg"]}), or an HTML/text page. The result is one line of valid UTF-8 of at most
// maxMessageRunes runes (plus "…"), cleaned of secrets before it is cut short: JSON members
// whose key names a secret (isSecretKey) are dropped at any depth, each of secrets (the API
// token) and every run of four or more digits become "[redacted]".
func parseMessage(body []byte, secrets ...string) string {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return ""
	}
	var text string
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err == nil && !dec.More() {
		text = renderJSON(v, 0)
	} else {
		text = html.UnescapeString(stripTags(string(body)))
	}
	text = dropFormatRunes(strings.ToValidUTF8(text, "\uFFFD"))
	return tidy(redactDigits(redactSecrets(text, secrets)))
}

// renderJSON flattens a decoded JSON value into text, preferring the keys that carry a message.
func renderJSON(v any, depth int) string {
	if depth > maxMessageDepth {
		return ""
	}
	switch t := v.(type) {
	case string:
		return t
	case json.Number:
		return t.String()
	case bool:
		if t {
			return "true"
		}
		return "false"
	case []any:
		parts := make([]string, 0, len(t))
		for _, item := range t {
			if s := renderJSON(item, depth+1); s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, "; ")
	case map[string]any:
		// The keys Kandji (Django REST Framework) and its OpenAPI use for the human-readable
		// part of an error, most specific first; anything else is a field map.
		// Secret keys are never among them.
		for _, k := range [...]string{"detail", "error", "message", "errors", "non_field_errors"} {
			if s := renderJSON(t[k], depth+1); s != "" {
				return s
			}
		}
		keys := make([]string, 0, len(t))
		for k := range t {
			if !isSecretKey(k) {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			if s := renderJSON(t[k], depth+1); s != "" {
				parts = append(parts, k+": "+s)
			}
		}
		return strings.Join(parts, "; ")
	}
	return ""
}

// stripTags turns an HTML page into its visible text: tags become spaces, and the contents of
// script and style elements are dropped. It runs in linear time, whatever the page.
func stripTags(s string) string {
	lower := asciiLower(s) // same byte offsets as s
	var b strings.Builder
	for i := 0; i < len(s); {
		open := strings.IndexByte(s[i:], '<')
		if open < 0 {
			b.WriteString(s[i:])
			break
		}
		b.WriteString(s[i : i+open])
		b.WriteByte(' ')
		i += open
		end := strings.IndexByte(s[i:], '>')
		if end < 0 {
			break
		}
		tag := lower[i+1 : i+end]
		i += end + 1
		for _, skip := range [...]string{"script", "style"} {
			if tag == skip || strings.HasPrefix(tag, skip+" ") {
				if j := strings.Index(lower[i:], "</"+skip); j >= 0 {
					i += j
				} else {
					i = len(s)
				}
			}
		}
	}
	return b.String()
}

// tidy makes text one line of valid UTF-8, collapses whitespace and truncates it.
func tidy(text string) string {
	text = strings.ToValidUTF8(text, "\uFFFD")
	fields := strings.FieldsFunc(text, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	})
	text = strings.Join(fields, " ")
	if utf8.RuneCountInString(text) <= maxMessageRunes {
		return text
	}
	runes := []rune(text)
	return strings.TrimSpace(string(runes[:maxMessageRunes])) + "…"
}
