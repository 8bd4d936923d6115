package kandjitest

import "strings"

// ContainsPIN reports whether pin (a six-digit unlock PIN of this fake)
// stands in text as a number of its own, for tests that scan what was
// sent, logged and stored for PINs. A PIN inside a longer run of digits (a
// duration in nanoseconds, a timestamp's fraction) or after a dot (the
// fraction of a Slack message ts, "1796129919.287361") is chance, not a
// leak: plain substring search finds those in about one test in a hundred
// once a few dozen PINs meet a few hundred log lines.
func ContainsPIN(text, pin string) bool {
	if pin == "" {
		return false
	}
	for from := 0; ; {
		i := strings.Index(text[from:], pin)
		if i < 0 {
			return false
		}
		i += from
		end := i + len(pin)
		before := i == 0 || !isDigit(text[i-1]) && text[i-1] != '.'
		after := end == len(text) || !isDigit(text[end])
		if before && after {
			return true
		}
		from = i + 1
	}
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }
