package kandji

import (
	"strings"
	"unicode"
)

// redactedMark stands in for whatever an error message must not show.
const redactedMark = "[redacted]"

// minSecretDigits is the shortest run of digits an error message never shows. A Mac unlock PIN
// is six digits and Apple passcodes are four or six, and a longer run may hold a PIN glued to
// other digits, so every run of four or more goes. The cost is the odd year or large number in
// a server's message, which no operator needs from an error line.
const minSecretDigits = 4

// isSecretKey reports JSON keys whose values an error message drops unseen: any key naming a
// PIN in any case ("PIN", "pin", "unlock_pin"), and the other secrets Kandji's device-secret
// endpoints return (passcodes, passwords, FileVault keys, Activation Lock bypass codes).
func isSecretKey(k string) bool {
	k = asciiLower(k)
	for _, s := range [...]string{"pin", "passcode", "password", "secret", "token", "albc"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return k == "key"
}

// redactDigits replaces every run of minSecretDigits or more decimal digits (of any script) with
// redactedMark.
func redactDigits(s string) string {
	var b strings.Builder
	runStart := -1
	flush := func(end int) {
		if runStart < 0 {
			return
		}
		run := s[runStart:end]
		if len([]rune(run)) >= minSecretDigits {
			b.WriteString(redactedMark)
		} else {
			b.WriteString(run)
		}
		runStart = -1
	}
	for i, r := range s {
		if unicode.IsDigit(r) {
			if runStart < 0 {
				runStart = i
			}
			continue
		}
		flush(i)
		b.WriteRune(r)
	}
	flush(len(s))
	return b.String()
}

// dropFormatRunes removes invisible format characters (zero-width spaces and joiners, soft
// hyphens, bidi marks), so that "246\u200b810" cannot slip a PIN past redactDigits.
func dropFormatRunes(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, s)
}

// redactSecrets replaces every occurrence of each non-empty secret in s.
func redactSecrets(s string, secrets []string) string {
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, redactedMark)
		}
	}
	return s
}
