package approvals

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrBadEmail is wrapped by every failure of ParseEmail.
var ErrBadEmail = errors.New("not an email address")

// maxEmailLen is the longest address SMTP allows.
const maxEmailLen = 254

// ParseEmail validates one address strictly and returns it in EmailKey
// form. It is narrower than RFC 5322 on purpose: no display names, no
// quoted local parts, no comments, no IP-literal domains, ASCII only. Those
// never name a company account, and accepting them would only widen what
// can be mistaken for one. A Slack mailto link (<mailto:a@b.c|a@b.c>) is
// unwrapped first, as Slack clients send one when they auto-link an email.
func ParseEmail(s string) (string, error) {
	s = unwrapSlackLink(strings.TrimSpace(s))
	if len(s) > maxEmailLen {
		return "", fmt.Errorf("%w: %d characters is too long", ErrBadEmail, len(s))
	}
	at := strings.IndexByte(s, '@')
	if at < 0 || at != strings.LastIndexByte(s, '@') {
		return "", fmt.Errorf("%w: %q needs exactly one @", ErrBadEmail, clip(s, 80))
	}
	local, domain := s[:at], s[at+1:]
	if err := checkLocalPart(local); err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrBadEmail, clip(s, 80), err)
	}
	// The domain as it stands, not EmailKey'd: that would trim a space
	// after the @ ("bob@ corp.com") and let it into the result.
	if err := checkDomain(domain); err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrBadEmail, clip(s, 80), err)
	}
	return EmailKey(s), nil
}

// unwrapSlackLink turns "<mailto:a@b.c|a@b.c>" or "<mailto:a@b.c>" into
// "a@b.c". A link whose label differs from its target is left as it is,
// for the validator to reject: what the person saw must be what gets
// locked.
func unwrapSlackLink(s string) string {
	if !strings.HasPrefix(s, "<") || !strings.HasSuffix(s, ">") {
		return s
	}
	inner := strings.TrimPrefix(s[1:len(s)-1], "mailto:")
	target, label, found := strings.Cut(inner, "|")
	if found && !SameEmail(strings.TrimPrefix(label, "mailto:"), target) {
		return s
	}
	return target
}

const localSpecials = "!#$%&'*+/=?^_`{|}~-."

func checkLocalPart(local string) error {
	switch {
	case local == "":
		return errors.New("nothing before the @")
	case len(local) > 64:
		return errors.New("the part before the @ is over 64 characters")
	case local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, ".."):
		return errors.New("misplaced dot before the @")
	}
	for _, r := range local {
		if !isASCIIAlnum(r) && !strings.ContainsRune(localSpecials, r) {
			return fmt.Errorf("character %q is not allowed before the @", r)
		}
	}
	return nil
}

func checkDomain(domain string) error {
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return errors.New("the domain needs a dot")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return errors.New("empty or over-long domain label")
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return errors.New("a domain label starts or ends with a hyphen")
		}
		for _, r := range l {
			if !isASCIIAlnum(r) && r != '-' {
				return fmt.Errorf("character %q is not allowed in the domain", r)
			}
		}
	}
	tld := labels[len(labels)-1]
	if len(tld) < 2 || strings.Trim(tld, "0123456789") == "" {
		return errors.New("the top-level domain is not valid")
	}
	return nil
}

func isASCIIAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// clip shortens s to at most n runes for an error message, replacing
// invalid UTF-8.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
