package bot

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// commandKind is what a person asked the slash command to do.
type commandKind int

const (
	cmdHelp commandKind = iota
	cmdLock
	cmdStatus
	cmdPins
)

// maxReasonRunes bounds the free-text reason; it is shown on the card and
// written to the journal, so it must stay a sentence, not a document.
const maxReasonRunes = 500

// command is a parsed slash-command invocation.
type command struct {
	Kind   commandKind
	Email  string // lower-cased target, for every kind but help
	Reason string
}

// errUsage marks input that is not a command at all; its message is shown
// to the person together with the usage text.
var errUsage = errors.New("usage")

// parseCommand turns the text after the slash command into a command.
//
// Slack may deliver an email as a mailto link (<mailto:a@b.c|a@b.c>) when
// the client auto-links it, so links are unwrapped before validation.
func parseCommand(text string) (command, error) {
	fields := strings.Fields(text)
	if len(fields) == 0 {
		return command{Kind: cmdHelp}, nil
	}
	switch strings.ToLower(fields[0]) {
	case "help", "-h", "--help", "?":
		return command{Kind: cmdHelp}, nil
	case "status", "pins":
		kind := cmdStatus
		if strings.EqualFold(fields[0], "pins") {
			kind = cmdPins
		}
		if len(fields) != 2 {
			return command{}, fmt.Errorf("%w: %s takes exactly one email address", errUsage, strings.ToLower(fields[0]))
		}
		email, err := parseEmail(fields[1])
		if err != nil {
			return command{}, err
		}
		return command{Kind: kind, Email: email}, nil
	}
	email, err := parseEmail(fields[0])
	if err != nil {
		return command{}, err
	}
	reason := strings.Join(fields[1:], " ")
	if utf8.RuneCountInString(reason) > maxReasonRunes {
		return command{}, fmt.Errorf("%w: the reason is longer than %d characters", errUsage, maxReasonRunes)
	}
	return command{Kind: cmdLock, Email: email, Reason: reason}, nil
}

// errBadEmail is wrapped by every email validation failure.
var errBadEmail = errors.New("not an email address")

// parseEmail validates one address strictly and lower-cases it.
//
// The check is deliberately narrower than RFC 5322: no display names, no
// quoted local parts, no comments, no IP-literal domains. Those never name a
// company account, and accepting them would only widen what reaches the
// Kandji filter.
func parseEmail(s string) (string, error) {
	s = unwrapSlackLink(strings.TrimSpace(s))
	if len(s) > 254 {
		return "", fmt.Errorf("%w: %d characters is too long", errBadEmail, len(s))
	}
	at := strings.IndexByte(s, '@')
	if at < 0 || at != strings.LastIndexByte(s, '@') {
		return "", fmt.Errorf("%w: %q needs exactly one @", errBadEmail, clip(s, 80))
	}
	local, domain := s[:at], strings.ToLower(s[at+1:])
	if err := checkLocalPart(local); err != nil {
		return "", fmt.Errorf("%w: %q: %v", errBadEmail, clip(s, 80), err)
	}
	if err := checkDomain(domain); err != nil {
		return "", fmt.Errorf("%w: %q: %v", errBadEmail, clip(s, 80), err)
	}
	return strings.ToLower(local) + "@" + domain, nil
}

// unwrapSlackLink turns "<mailto:a@b.c|a@b.c>" or "<mailto:a@b.c>" into
// "a@b.c". A link whose label differs from its target is left as is so the
// validator rejects it: what the person saw must be what gets locked.
func unwrapSlackLink(s string) string {
	if !strings.HasPrefix(s, "<") || !strings.HasSuffix(s, ">") {
		return s
	}
	inner := strings.TrimPrefix(s[1:len(s)-1], "mailto:")
	target, label, found := strings.Cut(inner, "|")
	if found && !strings.EqualFold(strings.TrimPrefix(label, "mailto:"), target) {
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

// domainAllowed reports whether email's domain is in allowed (lower-case);
// an empty list allows every domain.
func domainAllowed(email string, allowed []string) bool {
	if len(allowed) == 0 {
		return true
	}
	_, domain, _ := strings.Cut(email, "@")
	for _, d := range allowed {
		if strings.EqualFold(d, domain) {
			return true
		}
	}
	return false
}
