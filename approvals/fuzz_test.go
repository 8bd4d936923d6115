package approvals

import (
	"bytes"
	"encoding/csv"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"
)

// emailSeeds are inputs every fuzz run starts from: accepted and refused
// forms of each kind ParseEmail tells apart.
var emailSeeds = []string{
	"bob@example.com",
	"Bob.Smith+tag@Mail.Example.COM",
	"  bob@example.com\t",
	"<mailto:bob@example.com|bob@example.com>",
	"<mailto:Bob@example.com|bob@EXAMPLE.com>",
	"<mailto:bob@example.com>",
	"<mailto:eve@example.com|bob@example.com>",
	"<mailto:bob@example.com|>",
	"<bob@example.com>",
	"Bob <bob@example.com>",
	`"bob"@example.com`,
	"bob@[192.168.0.1]",
	"bob@192.168.0.1",
	"bob@example.c",
	"bob@example.123",
	"bob@-example.com",
	"bob@example..com",
	".bob@example.com",
	"bo..b@example.com",
	"b\u043eb@example.com",
	"bob@b\u00fccher.de",
	"bo\u200bb@example.com",
	"\u00a0bob@example.com\u00a0",
	"bo\x00b@example.com",
	"bo\xffb@example.com",
	"a!#$%&'*+/=?^_`{|}~-b@example.com",
	"@",
	"",
	"<>",
	"<mailto:|>",
	addr254,
	"l" + addr254,
	local64 + "l@example.com",
	"x@" + label63 + "d.com",
}

// domainChars and localChars are every byte a parsed address may hold on
// either side of its @.
const (
	domainChars = "abcdefghijklmnopqrstuvwxyz0123456789-."
	localChars  = "abcdefghijklmnopqrstuvwxyz0123456789" + localSpecials
)

// asciiLower folds ASCII letters only, like EmailKey without the trim.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func FuzzParseEmail(f *testing.F) {
	for _, s := range emailSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseEmail(in)
		if err != nil {
			if !errors.Is(err, ErrBadEmail) {
				t.Fatalf("ParseEmail(%q): error %v does not wrap ErrBadEmail", in, err)
			}
			if got != "" {
				t.Fatalf("ParseEmail(%q) = %q with error %v", in, got, err)
			}
			if len(err.Error()) > 1024 {
				t.Fatalf("ParseEmail(%q): error message of %d bytes", in, len(err.Error()))
			}
			return
		}
		if len(got) > maxEmailLen {
			t.Fatalf("ParseEmail(%q) = %q: %d bytes", in, got, len(got))
		}
		if EmailKey(got) != got {
			t.Fatalf("ParseEmail(%q) = %q, not in EmailKey form", in, got)
		}
		if strings.Count(got, "@") != 1 {
			t.Fatalf("ParseEmail(%q) = %q: not exactly one @", in, got)
		}
		local, domain, _ := strings.Cut(got, "@")
		for i := 0; i < len(local); i++ {
			if !strings.ContainsRune(localChars, rune(local[i])) {
				t.Fatalf("ParseEmail(%q) = %q: byte %q before the @", in, got, local[i])
			}
		}
		for i := 0; i < len(domain); i++ {
			if !strings.ContainsRune(domainChars, rune(domain[i])) {
				t.Fatalf("ParseEmail(%q) = %q: byte %q after the @", in, got, domain[i])
			}
		}
		if !strings.Contains(asciiLower(in), got) {
			t.Fatalf("ParseEmail(%q) = %q, which the input does not contain", in, got)
		}
		if again, err := ParseEmail(got); err != nil || again != got {
			t.Fatalf("ParseEmail(%q) = %q, but ParseEmail(%q) = %q, %v", in, got, got, again, err)
		}
		if upper, err := ParseEmail(strings.ToUpper(got)); err != nil || upper != got {
			t.Fatalf("ParseEmail(upper %q) = %q, %v", got, upper, err)
		}
		// Unless a Slack link was unwrapped or Unicode space trimmed, the
		// result is the input's EmailKey.
		if trimmed := strings.TrimSpace(in); !strings.HasPrefix(trimmed, "<") && trimmed == strings.Trim(in, " \t\n\v\f\r") && got != EmailKey(in) {
			t.Fatalf("ParseEmail(%q) = %q, want EmailKey(in) = %q", in, got, EmailKey(in))
		}
	})
}

// formulaStarts are the first bytes defuseFormula promises no cell of
// WriteCSV begins with.
const formulaStarts = "=+-@\t\r"

// parseDetails is formatDetails' inverse: it splits on unescaped ';' and
// the first unescaped '=', and reports whether s was well formed.
func parseDetails(s string) (map[string]string, bool) {
	m := map[string]string{}
	if s == "" {
		return m, true
	}
	var key string
	var cur strings.Builder
	inKey := true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
			if i == len(s) {
				return nil, false
			}
			cur.WriteByte(s[i])
		case c == '=':
			if !inKey {
				return nil, false
			}
			key, inKey = cur.String(), false
			cur.Reset()
		case c == ';':
			if inKey {
				return nil, false
			}
			if _, dup := m[key]; dup {
				return nil, false
			}
			m[key], inKey = cur.String(), true
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if inKey {
		return nil, false
	}
	if _, dup := m[key]; dup {
		return nil, false
	}
	m[key] = cur.String()
	return m, true
}

// csvRow is what WriteCSV should write for r before the CSV quoting.
func csvRow(r Record) []string {
	row := []string{r.Time.UTC().Format(time.RFC3339Nano), string(r.Kind), r.ID, r.Actor, r.Target, formatDetails(r.Details)}
	for i, c := range row {
		if c != "" && strings.IndexByte(formulaStarts, c[0]) >= 0 {
			c = "'" + c
		}
		// encoding/csv reads a CR LF inside a quoted field as LF.
		row[i] = strings.ReplaceAll(c, "\r\n", "\n")
	}
	return row
}

func FuzzWriteCSV(f *testing.F) {
	f.Add("request.opened", "R1", "U1", "bob@example.com", "reason", "stolen", "required", "1", int64(1700000000), int64(0))
	f.Add("=kind", "+id", "-actor", "@target", "=k", "=HYPERLINK(\"http://x\")", "\tk", "\rv", int64(-62135596800), int64(1))
	f.Add("k,ind", "i\"d", "act\nor", "tar\r\nget", "a;b", "c=d", `e\`, `\f`, int64(0), int64(999999999))
	f.Add("", "", "", "", "", "", "", "", int64(0), int64(0))
	f.Add("\r\n", "\n", " =x", "'=x", "pin", "1234", "\xff", "\xc3", int64(253402300799), int64(-1))
	f.Add(`\.`, "\"", ",", "\u00a0=1", "\u0085", "\u2028", "k", "", int64(-1<<62), int64(1<<62))
	f.Fuzz(func(t *testing.T, kind, id, actor, target, k1, v1, k2, v2 string, sec, nsec int64) {
		when := time.Unix(sec, nsec).In(time.FixedZone("X", -7*3600-1800))
		d := map[string]string{k1: v1, k2: v2}
		recs := []Record{
			{Time: when, Kind: Kind(kind), ID: id, Actor: actor, Target: target, Details: d},
			{Kind: Kind(target), ID: actor, Actor: id, Target: kind},
		}
		var buf bytes.Buffer
		if err := WriteCSV(&buf, recs); err != nil {
			t.Fatalf("WriteCSV: %v", err)
		}
		rows, err := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
		if err != nil {
			t.Fatalf("reading back %q: %v", buf.String(), err)
		}
		if len(rows) != len(recs)+1 {
			t.Fatalf("%d rows read back from %q, want %d", len(rows), buf.String(), len(recs)+1)
		}
		if strings.Join(rows[0], ",") != "time,kind,id,actor,target,details" {
			t.Fatalf("header %q", rows[0])
		}
		for i, r := range recs {
			want, got := csvRow(r), rows[i+1]
			if strings.Join(want, "\x00") != strings.Join(got, "\x00") {
				t.Fatalf("row %d: read back %q, want %q", i+1, got, want)
			}
			for _, cell := range got {
				if cell != "" && strings.IndexByte(formulaStarts, cell[0]) >= 0 {
					t.Fatalf("row %d: cell %q starts a formula", i+1, cell)
				}
			}
		}
		back, ok := parseDetails(formatDetails(d))
		if !ok || !maps.Equal(back, d) {
			t.Fatalf("formatDetails(%q) = %q reads back as %q (ok %v)", d, formatDetails(d), back, ok)
		}
		if y := when.UTC().Year(); y >= 0 && y <= 9999 {
			at, err := time.Parse(time.RFC3339Nano, rows[1][0])
			if err != nil || !at.Equal(when) {
				t.Fatalf("time cell %q reads back as %v, %v; want %v", rows[1][0], at, err, when)
			}
		}
	})
}
