package okta

// Logins and emails are compared with ASCII-only case folding. Unicode
// folding (strings.EqualFold, strings.ToLower) maps U+212A KELVIN SIGN to
// "k" and U+017F LONG S to "s", so "\u212Aate@corp.com" would be taken for
// kate@corp.com, and a lock would hit the wrong person.

// equalFoldASCII reports whether a and b are equal when ASCII letters are
// compared case-insensitively; every other byte must match exactly.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// trimSpaceASCII removes surrounding ASCII white space. Unicode spaces are
// kept: they are part of a (strange) identifier, not padding.
func trimSpaceASCII(s string) string {
	start, end := 0, len(s)
	for start < end && isSpaceASCII(s[start]) {
		start++
	}
	for end > start && isSpaceASCII(s[end-1]) {
		end--
	}
	return s[start:end]
}

func isSpaceASCII(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}
