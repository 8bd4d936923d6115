package approvals

import "strings"

// EmailKey is the form in which two emails are compared: surrounding ASCII
// space trimmed and ASCII letters folded to lower case, nothing else (the
// rule kandji.EmailKey applies to the devices' side). Unicode
// folding would make look-alikes equal (a Kelvin sign folds to "k", a long
// s to "s"), and a look-alike is a different person: locking one for the
// other is the worst mistake lockbot can make.
func EmailKey(email string) string {
	// Only ASCII space is trimmed: a Unicode space is part of the value.
	email = strings.Trim(email, " \t\n\v\f\r")
	b := []byte(email)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// SameEmail reports whether a and b name the same mailbox by the rule of
// EmailKey. Blank names no mailbox, so it is nobody's.
func SameEmail(a, b string) bool {
	k := EmailKey(a)
	return k != "" && k == EmailKey(b)
}

// DomainOf returns the EmailKey of the part after the last "@", or "".
func DomainOf(email string) string {
	i := strings.LastIndexByte(email, '@')
	if i < 0 {
		return ""
	}
	return EmailKey(email[i+1:])
}
