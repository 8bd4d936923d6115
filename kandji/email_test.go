package kandji

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEqualEmail(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"alice@corp.com", "alice@corp.com", true},
		{"Alice@Corp.COM", "alice@corp.com", true},
		{" Bob@Corp.com ", "bob@corp.com", true},
		{"\tbob@corp.com\r\n", " BOB@CORP.COM", true},
		{"kate@corp.com", "\u212Aate@corp.com", false}, // KELVIN SIGN folds to k under Unicode rules
		{"kate@corp.com", "Kate@corp.com", true},
		{"alice@corp.com", "alice@corp.co\u017F", false}, // LATIN SMALL LETTER LONG S folds to s
		{"\u00e9mile@corp.com", "\u00c9mile@corp.com", false},
		{"\u00a0alice@corp.com", "alice@corp.com", false}, // U+00A0 is not trimmed
		{"alice@corp.com", "xalice@corp.com", false},
		{"alice@corp.com", "alice@corp.com.evil", false},
		{"a b@corp.com", "ab@corp.com", false},
		{"", "", true},
		{"", " ", true},
		{"alice@corp.com", "", false},
		{"\xff@corp.com", "\xff@corp.com", true},
	}
	for _, tt := range tests {
		t.Run(tt.a+"|"+tt.b, func(t *testing.T) {
			assert.Equal(t, tt.want, EqualEmail(tt.a, tt.b))
			assert.Equal(t, tt.want, EqualEmail(tt.b, tt.a), "symmetric")
			assert.Equal(t, tt.want, EmailKey(tt.a) == EmailKey(tt.b), "EmailKey agrees with EqualEmail")
		})
	}
	assert.Equal(t, "bob@corp.com", EmailKey(" Bob@Corp.COM\t"))
	assert.Equal(t, "\u212Aate@corp.com", EmailKey("\u212AATE@corp.com"))
}

// FuzzEqualEmail checks EqualEmail against EmailKey and against ASCII-only folding: two
// addresses are equal only if they agree byte for byte outside ASCII letters.
func FuzzEqualEmail(f *testing.F) {
	for _, seed := range [][2]string{
		{"alice@corp.com", "ALICE@corp.com"}, {"kate@corp.com", "\u212Aate@corp.com"},
		{" Bob@Corp.com ", "bob@corp.com"}, {"\u017F", "s"}, {"\xff", "\xff"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		eq := EqualEmail(a, b)
		if eq != (EmailKey(a) == EmailKey(b)) {
			t.Fatalf("EqualEmail(%q, %q) = %v disagrees with EmailKey", a, b, eq)
		}
		if eq != EqualEmail(b, a) {
			t.Fatalf("EqualEmail(%q, %q) is not symmetric", a, b)
		}
		ta, tb := trimASCIISpace(a), trimASCIISpace(b)
		if !eq {
			return
		}
		if len(ta) != len(tb) {
			t.Fatalf("EqualEmail(%q, %q) matched values of different lengths", a, b)
		}
		for i := range len(ta) {
			x, y := ta[i], tb[i]
			if x != y && (x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z') {
				t.Fatalf("EqualEmail(%q, %q) folds byte %q to %q", a, b, x, y)
			}
		}
	})
}
