package approvals

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Building blocks for the length limits: a 64-byte local part, 63-byte
// labels, and a 254-byte address (64 + 1 + 63 + 1 + 63 + 1 + 61).
var (
	local64   = strings.Repeat("l", 64)
	label63   = strings.Repeat("d", 63)
	addr254   = local64 + "@" + label63 + "." + strings.Repeat("e", 63) + "." + strings.Repeat("f", 61)
	label63TL = "x@" + label63 + ".com"
)

func TestLengthFixtures(t *testing.T) {
	require.Len(t, local64, 64)
	require.Len(t, label63, 63)
	require.Len(t, addr254, maxEmailLen)
}

func TestParseEmailAccepts(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "bob@example.com", "bob@example.com"},
		{"folds ASCII case", "Bob.Smith@Example.COM", "bob.smith@example.com"},
		{"trims ASCII space", " \t bob@example.com \r\n", "bob@example.com"},
		{"plus addressing", "bob+lockbot@example.com", "bob+lockbot@example.com"},
		{"subdomains", "bob@mail.eu.example.com", "bob@mail.eu.example.com"},
		{"hyphen in domain", "bob@my-company.example", "bob@my-company.example"},
		{"double hyphen inside label (punycode)", "bob@example.xn--p1ai", "bob@example.xn--p1ai"},
		{"hyphen and underscore in local", "bob-smith_jr@example.com", "bob-smith_jr@example.com"},
		{"dots inside local", "b.o.b@example.com", "b.o.b@example.com"},
		{"every atext special", "a!#$%&'*+/=?^_`{|}~-b@example.com", "a!#$%&'*+/=?^_`{|}~-b@example.com"},
		{"digits everywhere", "007@123.example.com", "007@123.example.com"},
		{"numeric second-level label", "bob@123.com", "bob@123.com"},
		{"alphanumeric TLD", "bob@example.c0", "bob@example.c0"},
		{"two-letter TLD", "bob@example.io", "bob@example.io"},
		{"one-letter labels below the TLD", "a@b.cd", "a@b.cd"},

		{"Slack link with same label", "<mailto:bob@example.com|bob@example.com>", "bob@example.com"},
		{"Slack link, label differs only in case", "<mailto:Bob@Example.com|bob@EXAMPLE.com>", "bob@example.com"},
		{"Slack link, label with mailto prefix", "<mailto:bob@example.com|mailto:bob@example.com>", "bob@example.com"},
		{"Slack link without label", "<mailto:bob@example.com>", "bob@example.com"},
		{"Slack link with surrounding space", "  <mailto:bob@example.com|bob@example.com>\n", "bob@example.com"},
		// As implemented, bare angle brackets are unwrapped too (the
		// "mailto:" prefix is optional); only a display name is refused.
		{"bare angle brackets", "<bob@example.com>", "bob@example.com"},

		{"254 characters", addr254, addr254},
		{"254 characters inside a Slack link", "<mailto:" + addr254 + "|" + addr254 + ">", addr254},
		{"64-character local part", local64 + "@example.com", local64 + "@example.com"},
		{"63-character label", label63TL, label63TL},
		{"upper case folded before length checks", strings.ToUpper(addr254), addr254},
		// strings.TrimSpace removes Unicode spaces around the input too
		// (unlike EmailKey); the result is still plain ASCII.
		{"surrounding no-break space", "\u00a0bob@example.com\u00a0", "bob@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEmail(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, EmailKey(got), got, "result is in EmailKey form")
			again, err := ParseEmail(got)
			require.NoError(t, err, "the result parses again")
			assert.Equal(t, got, again)
		})
	}
}

func TestParseEmailRejects(t *testing.T) {
	tests := []struct {
		name, in, reason string
	}{
		{"empty", "", "needs exactly one @"},
		{"only space", "   ", "needs exactly one @"},
		{"no @", "bob.example.com", "needs exactly one @"},
		{"two @", "bob@alice@example.com", "needs exactly one @"},
		{"double @", "bob@@example.com", "needs exactly one @"},
		{"empty local part", "@example.com", "nothing before the @"},
		{"empty domain", "bob@", "the domain needs a dot"},
		{"domain without dot", "bob@localhost", "the domain needs a dot"},
		{"leading dot in local", ".bob@example.com", "misplaced dot before the @"},
		{"trailing dot in local", "bob.@example.com", "misplaced dot before the @"},
		{"double dot in local", "bo..b@example.com", "misplaced dot before the @"},
		{"only a dot in local", ".@example.com", "misplaced dot before the @"},
		{"leading dot in domain", "bob@.example.com", "empty or over-long domain label"},
		{"trailing dot in domain", "bob@example.com.", "empty or over-long domain label"},
		{"double dot in domain", "bob@example..com", "empty or over-long domain label"},
		{"label starts with hyphen", "bob@-example.com", "starts or ends with a hyphen"},
		{"label ends with hyphen", "bob@example-.com", "starts or ends with a hyphen"},
		{"TLD starts with hyphen", "bob@example.-com", "starts or ends with a hyphen"},
		{"underscore in domain", "bob@my_company.com", `character '_' is not allowed in the domain`},
		{"IP literal", "bob@[192.168.0.1]", `character '[' is not allowed in the domain`},
		{"IPv6 literal", "bob@[IPv6:2001:db8::1]", "needs a dot"},
		{"bare IPv4 address", "bob@192.168.0.1", "the top-level domain is not valid"},
		{"numeric TLD", "bob@example.123", "the top-level domain is not valid"},
		{"two-digit numeric TLD", "bob@10.0.0.10", "the top-level domain is not valid"},
		{"one-letter TLD", "bob@example.c", "the top-level domain is not valid"},
		{"quoted local part", `"bob"@example.com`, `character '"' is not allowed before the @`},
		{"quoted local with space", `"bob smith"@example.com`, `character '"' is not allowed before the @`},
		{"display name", "Bob <bob@example.com>", `character ' ' is not allowed before the @`},
		{"display name, quoted", `"Bob" <bob@example.com>`, `character '"' is not allowed before the @`},
		{"comment in local", "bob(work)@example.com", `character '(' is not allowed before the @`},
		{"comment after domain", "bob@example.com (Bob)", "is not allowed in the domain"},
		{"space inside local", "bob smith@example.com", `character ' ' is not allowed before the @`},
		{"mailto without brackets", "mailto:bob@example.com", `character ':' is not allowed before the @`},
		{"unclosed Slack link", "<mailto:bob@example.com", `character '<' is not allowed before the @`},
		{"backslash in local", `bob\@example.com`, `character '\\' is not allowed before the @`},
		{"comma list", "bob@example.com,eve@example.com", "needs exactly one @"},

		{"Cyrillic o in local (homoglyph)", "b\u043eb@example.com", `character 'о' is not allowed before the @`},
		{"Cyrillic a in domain (homoglyph)", "bob@ex\u0430mple.com", `character 'а' is not allowed in the domain`},
		{"Kelvin sign", "bob@\u212aandji.com", "is not allowed in the domain"},
		{"long s", "bo\u017f@example.com", "is not allowed before the @"},
		{"IDN domain", "bob@b\u00fccher.de", `character 'ü' is not allowed in the domain`},
		{"non-ASCII local", "j\u00f6rg@example.de", `character 'ö' is not allowed before the @`},
		{"fullwidth at sign", "bob\uff20example.com", "needs exactly one @"},
		{"zero-width space in local", "bo\u200bb@example.com", `character '\u200b' is not allowed before the @`},
		{"leading zero-width space", "\u200bbob@example.com", `is not allowed before the @`},
		{"trailing zero-width space", "bob@example.com\u200b", `is not allowed in the domain`},
		{"BOM", "\ufeffbob@example.com", `is not allowed before the @`},
		{"NUL in local", "bo\x00b@example.com", `character '\x00' is not allowed before the @`},
		{"DEL in domain", "bob@exa\x7fmple.com", `character '\x7f' is not allowed in the domain`},
		{"newline in local", "bo\nb@example.com", `character '\n' is not allowed before the @`},
		{"escape in domain", "bob@exa\x1bmple.com", `character '\x1b' is not allowed in the domain`},
		{"invalid UTF-8", "bo\xffb@example.com", `is not allowed before the @`},

		{"255 characters", "l" + addr254, "255 characters is too long"},
		{"65-character local part", local64 + "l@example.com", "over 64 characters"},
		{"64-character label", "x@" + label63 + "d.com", "empty or over-long domain label"},
		{"64-character TLD", "x@example." + label63 + "d", "empty or over-long domain label"},

		{"Slack link, label names someone else", "<mailto:eve@example.com|bob@example.com>", "needs exactly one @"},
		{"Slack link, label other domain", "<mailto:bob@evil.example|bob@example.com>", "needs exactly one @"},
		{"Slack link, homoglyph label", "<mailto:bob@example.com|b\u043eb@example.com>", "needs exactly one @"},
		{"Slack link, empty label", "<mailto:bob@example.com|>", `character '<' is not allowed before the @`},
		{"Slack link, two labels", "<mailto:bob@example.com|bob@example.com|x>", "needs exactly one @"},
		{"Slack link, empty", "<mailto:>", "needs exactly one @"},
		{"Slack link, bad target", "<mailto:bob@example|bob@example>", "the domain needs a dot"},
		{"Slack link, nested", "<mailto:<mailto:bob@example.com>>", `character '<' is not allowed before the @`},
		{"Slack link, query in target", "<mailto:bob@example.com?subject=hi>", `character '?' is not allowed in the domain`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEmail(tt.in)
			require.Error(t, err)
			assert.Empty(t, got)
			assert.ErrorIs(t, err, ErrBadEmail)
			assert.Contains(t, err.Error(), tt.reason)
			assert.True(t, strings.HasPrefix(err.Error(), ErrBadEmail.Error()+": "), "message %q", err)
		})
	}
}

// TestParseEmailRejectsWhitespaceInDomain: a space or control character
// right after the @ must be refused like anywhere else. checkDomain is
// given EmailKey(domain), which trims ASCII space, so the check passes,
// and ParseEmail then returns EmailKey(s), which keeps the inner space.
func TestParseEmailRejectsWhitespaceInDomain(t *testing.T) {
	for _, in := range []string{
		"bob@ example.com",
		"bob@\texample.com",
		"bob@\nexample.com",
		"bob@\r\nexample.com",
		"bob@\vexample.com",
		"bob@\fexample.com",
		"<mailto:bob@ example.com|bob@ example.com>",
	} {
		got, err := ParseEmail(in)
		assert.ErrorIs(t, err, ErrBadEmail, "ParseEmail(%q) = %q, want an error", in, got)
	}
}

func TestParseEmailClipsEcho(t *testing.T) {
	t.Run("huge input is not echoed", func(t *testing.T) {
		in := strings.Repeat("a", 1<<20) + "@example.com"
		_, err := ParseEmail(in)
		require.ErrorIs(t, err, ErrBadEmail)
		assert.Less(t, len(err.Error()), 100, "message %q", err)
		assert.NotContains(t, err.Error(), strings.Repeat("a", 81))
	})
	t.Run("huge Slack link is not echoed", func(t *testing.T) {
		big := strings.Repeat("a", 10000) + "@example.com"
		_, err := ParseEmail("<mailto:" + big + "|" + big + ">")
		require.ErrorIs(t, err, ErrBadEmail)
		assert.Contains(t, err.Error(), "too long")
		assert.Less(t, len(err.Error()), 100)
	})
	t.Run("under the length limit, the echo is clipped to 80 runes", func(t *testing.T) {
		in := strings.Repeat("a", 200) + "TAIL" // no @
		_, err := ParseEmail(in)
		require.ErrorIs(t, err, ErrBadEmail)
		msg := err.Error()
		assert.NotContains(t, msg, "TAIL")
		assert.Contains(t, msg, `"`+strings.Repeat("a", 79)+`…"`)
		assert.NotContains(t, msg, strings.Repeat("a", 80))
	})
	t.Run("clipped by runes, not bytes", func(t *testing.T) {
		in := strings.Repeat("ж", 100) + "@example.com" // 212 bytes
		_, err := ParseEmail(in)
		require.ErrorIs(t, err, ErrBadEmail)
		msg := err.Error()
		assert.True(t, utf8.ValidString(msg))
		assert.Contains(t, msg, `"`+strings.Repeat("ж", 79)+`…"`)
		assert.NotContains(t, msg, strings.Repeat("ж", 80))
	})
	t.Run("invalid UTF-8 is not echoed raw", func(t *testing.T) {
		_, err := ParseEmail("bo\xffb@example.com")
		require.ErrorIs(t, err, ErrBadEmail)
		assert.True(t, utf8.ValidString(err.Error()), "message %q", err)
	})
}

func TestClip(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"", 5, ""},
		{"abc", 5, "abc"},
		{"abcde", 5, "abcde"},
		{"abcdef", 5, "abcd…"},
		{"жжжжжж", 5, "жжжж…"},
		{"a\xffb", 5, "a\uFFFDb"},
		{"a\xffb\xffc\xffd", 5, "a\uFFFDb\uFFFD…"},
		{"\xff\xfe\xfd\xfc\xfb\xfa", 3, "\uFFFD"}, // a run of invalid bytes is one replacement
	}
	for _, tt := range tests {
		got := clip(tt.in, tt.n)
		assert.Equal(t, tt.want, got, "clip(%q, %d)", tt.in, tt.n)
		assert.LessOrEqual(t, utf8.RuneCountInString(got), tt.n)
	}
}

func TestUnwrapSlackLink(t *testing.T) {
	tests := []struct{ in, want string }{
		{"bob@example.com", "bob@example.com"},
		{"<mailto:bob@example.com|bob@example.com>", "bob@example.com"},
		{"<mailto:bob@example.com>", "bob@example.com"},
		{"<bob@example.com>", "bob@example.com"},
		{"<mailto:Bob@example.com|bob@example.com>", "Bob@example.com"}, // the target, not the label
		{"<mailto:bob@example.com|eve@example.com>", "<mailto:bob@example.com|eve@example.com>"},
		{"<mailto:bob@example.com|>", "<mailto:bob@example.com|>"},
		{"<mailto:|>", "<mailto:|>"}, // SameEmail("", "") is false
		{"<mailto:bob@example.com", "<mailto:bob@example.com"},
		{"mailto:bob@example.com>", "mailto:bob@example.com>"},
		{"<>", ""},
		{"<", "<"},
		{">", ">"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, unwrapSlackLink(tt.in), "unwrapSlackLink(%q)", tt.in)
	}
}

func TestParseEmailErrorsWrapOnlyErrBadEmail(t *testing.T) {
	_, err := ParseEmail("nope")
	require.Error(t, err)
	for _, other := range []error{ErrInvalid, ErrNotFound, ErrNotApprover} {
		assert.False(t, errors.Is(err, other))
	}
}

func TestEmailKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"bob@example.com", "bob@example.com"},
		{"Bob@Example.COM", "bob@example.com"},
		{" \t\n\v\f\rBob@Example.com\r\n\f\v\t ", "bob@example.com"},
		{"ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"},
		{"@[`{", "@[`{"}, // the bytes next to A-Z and a-z are left alone
		{"a b@example.com", "a b@example.com"},
		{"\u00a0bob@example.com\u00a0", "\u00a0bob@example.com\u00a0"}, // a Unicode space is part of the value
		{"\u2003bob@example.com", "\u2003bob@example.com"},
		{"\u200bbob@example.com", "\u200bbob@example.com"},
		{"\u212a@example.com", "\u212a@example.com"}, // Kelvin sign does not fold to k
		{"\u017f@example.com", "\u017f@example.com"}, // long s does not fold to s
		{"\u0130@example.com", "\u0130@example.com"}, // Turkish dotted I
		{"\u00c4\u00d6\u00dc@EXAMPLE.de", "\u00c4\u00d6\u00dc@example.de"},
		{"B\u041eB@example.com", "b\u041eb@example.com"}, // Cyrillic capital O stays
		{"\xC3\xFFA", "\xC3\xFFa"},                       // invalid UTF-8 bytes untouched
	}
	for _, tt := range tests {
		got := EmailKey(tt.in)
		assert.Equal(t, tt.want, got, "EmailKey(%q)", tt.in)
		assert.Equal(t, got, EmailKey(got), "EmailKey is idempotent on %q", tt.in)
	}
}

func TestSameEmail(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"", "", false},
		{"", "bob@example.com", false},
		{"bob@example.com", "", false},
		{"bob@example.com", "bob@example.com", true},
		{"Bob@Example.COM", " bob@example.com\t", true},
		{"bob@example.com", "bob@example.org", false},
		{"bob@example.com", "bob+x@example.com", false},
		{"bob@example.com", "b\u043eb@example.com", false},
		{"kim@example.com", "\u212aim@example.com", false},
		{"bob@example.com", "\u00a0bob@example.com", false},
		{"bob", "BOB", true}, // no validation: it compares keys
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, SameEmail(tt.a, tt.b), "SameEmail(%q, %q)", tt.a, tt.b)
		assert.Equal(t, tt.want, SameEmail(tt.b, tt.a), "SameEmail(%q, %q)", tt.b, tt.a)
	}
}

// TestSameEmailBlankIsNoMailbox: SameEmail("", "") is false because an
// empty string names no mailbox, and neither does one of only space. The
// guard checks a != "" on the raw a, so SameEmail(" ", "") is true while
// SameEmail("", " ") is false: not even symmetric. Filter.Match inherits
// it: Filter{Target: " "} matches records with no target.
func TestSameEmailBlankIsNoMailbox(t *testing.T) {
	for _, c := range [][2]string{{" ", ""}, {"", " "}, {" ", " "}, {"\t", "\n"}} {
		assert.False(t, SameEmail(c[0], c[1]), "SameEmail(%q, %q)", c[0], c[1])
	}
	assert.False(t, Filter{Target: " "}.Match(Record{Kind: KindOpened}),
		"a blank target filter must not select records without a target")
}

func TestDomainOf(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"bob", ""},
		{"bob@", ""},
		{"@example.com", "example.com"},
		{"bob@Example.COM", "example.com"},
		{" bob@example.com \n", "example.com"},
		{"a@b@Example.com", "example.com"}, // the part after the last @
		{"bob@ex\u0430mple.com", "ex\u0430mple.com"},
		{"<mailto:bob@example.com|bob@example.com>", "example.com>"}, // no unwrapping
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, DomainOf(tt.in), "DomainOf(%q)", tt.in)
	}
}
