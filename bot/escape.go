package bot

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxFieldRunes bounds any single outside-supplied value shown in a card.
// Device names and reasons come from Kandji admins and Slack users; a
// 10 kB device name must not push a card past Block Kit's limits.
const maxFieldRunes = 120

// mrkdwn makes outside text safe inside a Slack mrkdwn field.
//
// Slack only parses control sequences inside angle brackets (<!channel>,
// <@U123>, <http://…|label>), so escaping &, < and > neutralises every
// mention and link. Line breaks and other control characters become spaces
// so that a hostile name cannot fake extra lines (such as "Approved by …")
// in a card. Emphasis markers are left alone: they are cosmetic, and
// mangling them would corrupt emails such as first_last@corp.com.
func mrkdwn(s string) string {
	return escapeMrkdwn(clip(s, maxFieldRunes))
}

// mrkdwnLong is mrkdwn with a caller-chosen length bound, for reasons.
func mrkdwnLong(s string, max int) string {
	return escapeMrkdwn(clip(s, max))
}

func escapeMrkdwn(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			b.WriteRune(' ')
		default:
			b.WriteRune(r)
		}
	}
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
