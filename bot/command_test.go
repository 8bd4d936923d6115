package bot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
		again, err := parseEmail(c.Email)
		require.NoError(t, err)
		require.Equal(t, c.Email, again)
	})
}

func TestDomainAllowed(t *testing.T) {
	assert.True(t, domainAllowed("a@corp.com", nil))
	assert.True(t, domainAllowed("a@corp.com", []string{"example.org", "CORP.com"}))
	assert.False(t, domainAllowed("a@corp.com.evil", []string{"corp.com"}))
	assert.False(t, domainAllowed("a@sub.corp.com", []string{"corp.com"}))
}

func TestMrkdwnEscapes(t *testing.T) {
	tests := map[string]string{
		"<!channel>":          "&lt;!channel&gt;",
		"<@U123|boss>":        "&lt;@U123|boss&gt;",
		"a & b":               "a &amp; b",
		"line1\nApproved ✅":   "line1 Approved ✅",
		"first_last@corp.com": "first_last@corp.com",
		"\xff bad utf8":       "\uFFFD bad utf8",
	}
	for in, want := range tests {
		assert.Equal(t, want, mrkdwn(in), in)
	}
	long := mrkdwn(strings.Repeat("é", 1000))
	assert.Equal(t, maxFieldRunes, utf8.RuneCountInString(long))
	assert.True(t, strings.HasSuffix(long, "…"))
}

func FuzzMrkdwn(f *testing.F) {
	for _, s := range []string{"<!here>", "a&b", "x\ny", "\u2028", strings.Repeat("<", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := mrkdwn(s)
		require.True(t, utf8.ValidString(out))
		require.NotContains(t, out, "<")
		require.NotContains(t, out, ">")
		require.NotContains(t, out, "\n")
		require.LessOrEqual(t, utf8.RuneCountInString(out), maxFieldRunes*5, "escaping at most multiplies by five")
	})
}

func TestPINRedactsEverywhere(t *testing.T) {
	p := pin("493817")
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	logger.Info("x", "pin", p, "result", deviceResult{PIN: p})
	slog.New(slog.NewTextHandler(&logs, nil)).Info("y", "pin", p)
	js, err := json.Marshal(deviceResult{PIN: p})
	require.NoError(t, err)
	for _, out := range []string{
		fmt.Sprint(p), fmt.Sprintf("%v %s %q %d %x %#v %+v", p, p, p, p, p, p, deviceResult{PIN: p}),
		logs.String(), string(js), fmt.Errorf("wrapped %v", p).Error(),
	} {
		assert.NotContains(t, out, "493817")
	}
	assert.Equal(t, "493817", p.reveal())
}
