package kandji

import "strings"

// EqualEmail reports whether a and b name the same mailbox by the rule lockbot uses everywhere:
// surrounding ASCII whitespace is ignored and ASCII letters match regardless of case, but no
// other character is folded. Unicode case folding would make "\u212Aate@corp.com" (KELVIN SIGN)
// equal "kate@corp.com", so a device assigned to a look-alike address would be locked for the
// wrong person; an address that differs outside ASCII is a different address here.
func EqualEmail(a, b string) bool {
	return asciiEqualFold(trimASCIISpace(a), trimASCIISpace(b))
}

// EmailKey returns the form of email under which EqualEmail matches, for use as a map key when
// matching many people against an inventory sweep: EqualEmail(a, b) == (EmailKey(a) ==
// EmailKey(b)).
func EmailKey(email string) string {
	return asciiLower(trimASCIISpace(email))
}

// asciiEqualFold is strings.EqualFold restricted to ASCII letters.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerByte(a[i]) != lowerByte(b[i]) {
			return false
		}
	}
	return true
}

// asciiLower lower-cases ASCII letters byte by byte, so offsets stay valid for the original
// string even when it is not valid UTF-8.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = lowerByte(c)
	}
	return string(b)
}

func lowerByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// trimASCIISpace drops surrounding spaces, tabs and line breaks, but not Unicode spaces such as
// U+00A0, which are part of the value as far as matching is concerned.
func trimASCIISpace(s string) string {
	return strings.Trim(s, " \t\n\v\f\r")
}
