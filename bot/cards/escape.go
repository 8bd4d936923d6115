package cards

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxFieldRunes bounds a single outside value in a card before escaping:
// a 10 kB device name must not push a card past Block Kit's limits.
const maxFieldRunes = 120

// Mrkdwn makes outside text safe inside a Slack mrkdwn text: &, < and >
// are escaped, which neutralises every mention and link, and line breaks
// and other control characters become spaces, so a hostile name cannot
// fake extra lines (such as "Approved by …"). Emphasis markers are left
// alone: they are cosmetic, and mangling them would corrupt emails such as
// first_last@corp.com. The result is at most maxFieldRunes runes of input.
func Mrkdwn(s string) string { return escapeWithin(clip(s, maxFieldRunes), -1) }

// mrkdwnWithin is Mrkdwn bounded to at most n characters of escaped text,
// cut at a whole character (never inside an entity) and marked with an
// ellipsis.
func mrkdwnWithin(s string, n int) string { return escapeWithin(clip(s, n), n) }

// escapeWithin escapes s and, when limit ≥ 0 and the escaped text would
// be longer than limit runes, cuts it at a whole character so that it ends
// in an ellipsis and is exactly within limit.
func escapeWithin(s string, limit int) string {
	pieces := make([]string, 0, len(s))
	total := 0
	for _, r := range s {
		piece := string(r)
		switch {
		case r == '&':
			piece = "&amp;"
		case r == '<':
			piece = "&lt;"
		case r == '>':
			piece = "&gt;"
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			piece = " "
		}
		pieces = append(pieces, piece)
		total += utf8.RuneCountInString(piece)
	}
	if limit < 0 || total <= limit {
		return strings.Join(pieces, "")
	}
	var b strings.Builder
	n := 0
	for _, p := range pieces {
		w := utf8.RuneCountInString(p)
		if n+w > limit-1 {
			break
		}
		b.WriteString(p)
		n += w
	}
	b.WriteString("…")
	return b.String()
}

// plain cleans outside text for a plain_text object: Slack does not parse
// plain_text, so only length and control characters matter.
func plain(s string, max int) string {
	s = clip(s, max)
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
}

// clip shortens s to at most max runes, marking the cut with an ellipsis,
// and replaces invalid UTF-8 so Slack never rejects the payload.
func clip(s string, max int) string {
	s = strings.ToValidUTF8(strings.TrimSpace(s), "\uFFFD")
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	runes := []rune(s)
	return string(runes[:max-1]) + "…"
}
