package bot

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lockbot/lockbot/approvals"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		text    string
		want    command
		wantErr string
	}{
		{"", command{Kind: cmdHelp}, ""},
		{"  help ", command{Kind: cmdHelp}, ""},
		{"HELP", command{Kind: cmdHelp}, ""},
		{"bob@corp.com", command{Kind: cmdLock, Email: "bob@corp.com"}, ""},
		{"Bob.Builder+it@Corp.COM lost   at the airport", command{Kind: cmdLock, Email: "bob.builder+it@corp.com", Reason: "lost at the airport"}, ""},
		{"<mailto:bob@corp.com|bob@corp.com> stolen", command{Kind: cmdLock, Email: "bob@corp.com", Reason: "stolen"}, ""},
		{"<mailto:bob@corp.com>", command{Kind: cmdLock, Email: "bob@corp.com"}, ""},
		{"status bob@corp.com", command{Kind: cmdStatus, Email: "bob@corp.com"}, ""},
		{"PINS bob@corp.com", command{Kind: cmdPins, Email: "bob@corp.com"}, ""},
		{"status", command{}, "exactly one email"},
		{"pins a@b.co c@d.co", command{}, "exactly one email"},
		{"<mailto:eve@evil.com|bob@corp.com>", command{}, "not an email address"},
		{"bob", command{}, "exactly one @"},
		{"bob@", command{}, "needs a dot"},
		{"@corp.com", command{}, "nothing before the @"},
		{"bob@corp", command{}, "needs a dot"},
		{"bob@corp.c", command{}, "top-level domain"},
		{"bob@corp.123", command{}, "top-level domain"},
		{"bob..b@corp.com", command{}, "misplaced dot"},
		{".bob@corp.com", command{}, "misplaced dot"},
		{"bob@-corp.com", command{}, "hyphen"},
		{"bob@corp..com", command{}, "domain label"},
		{"bob@[127.0.0.1]", command{}, "not allowed in the domain"},
		{`"bob"@corp.com`, command{}, "not allowed before the @"},
		{"bob@corp.com\u202e", command{}, "not allowed in the domain"},
		{"bøb@corp.com", command{}, "not allowed before the @"},
		{strings.Repeat("a", 65) + "@corp.com", command{}, "over 64"},
		{"bob@" + strings.Repeat("a", 250) + ".com", command{}, "too long"},
		{"bob@corp.com " + strings.Repeat("x", 501), command{}, "longer than 500"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			got, err := parseCommand(tt.text)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"", "help", "bob@corp.com why", "status a@b.co", "pins x@y.zz", "<mailto:a@b.co|a@b.co>", "a@@b", "\x00@\xff.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := parseCommand(text)
		if err != nil {
			return
		}
		if c.Kind == cmdHelp {
			return
		}
		// Whatever is accepted is a plain lower-case address with one @
		// and only the characters the validator allows.
		require.Equal(t, strings.ToLower(c.Email), c.Email)
		require.Equal(t, 1, strings.Count(c.Email, "@"))
		for _, r := range c.Email {
			require.True(t, r < utf8.RuneSelf && r > ' ' && r != '<' && r != '>', "%q in %q", r, c.Email)
		}
		again, err := approvals.ParseEmail(c.Email)
		require.NoError(t, err)
		require.Equal(t, c.Email, again)
	})
}

func TestDomainAllowedIsExact(t *testing.T) {
	b := &Bot{}
	assert.True(t, b.domainAllowed("a@corp.com"))
	b.cfg.AllowedDomains = []string{"example.org", "CORP.com"}
	assert.True(t, b.domainAllowed("a@corp.com"))
	b.cfg.AllowedDomains = []string{"corp.com"}
	assert.False(t, b.domainAllowed("a@corp.com.evil"))
	assert.False(t, b.domainAllowed("a@sub.corp.com"))
	assert.False(t, b.domainAllowed("a@\u212Aorp.com"), "a look-alike domain is another domain")
}
