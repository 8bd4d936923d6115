package approvals

import (
	"bytes"
	"encoding/csv"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteCSVGolden(t *testing.T) {
	pacific := time.FixedZone("PDT", -7*3600)
	recs := []Record{
		{
			Time: time.Date(2024, 5, 6, 7, 8, 9, 120000000, pacific), Kind: KindOpened, ID: "R1",
			Actor: "U123", Target: "bob@example.com",
			Details: map[string]string{"required": "1", "reason": "stolen laptop", "origin": "manual"},
		},
		{
			Time: time.Date(2024, 5, 6, 14, 8, 9, 0, time.UTC), Kind: KindRefused, ID: "R1",
			Actor: "=HYPERLINK(\"http://evil\")", Target: "+1 555", Details: map[string]string{"reason": "-1+2", "op": "@SUM(A1)"},
		},
		{
			Time: time.Date(2024, 5, 6, 14, 8, 9, 1, time.UTC), Kind: KindCommand, ID: "\tR2",
			Actor: "\rU9", Target: "-bob@example.com",
			Details: map[string]string{"=k": "v", "a;b": "c=d", `back\slash`: `x\;y`},
		},
		{
			Time: time.Date(2024, 5, 6, 14, 8, 10, 0, time.UTC), Kind: KindDenied, ID: "R3",
			Actor: "Smith, Bob", Target: `say "hi"`,
			Details: map[string]string{"reason": "line one\nline two"},
		},
		{Kind: KindEvent, Actor: "'=already quoted", Target: " =leading space", Details: map[string]string{}},
	}
	var buf bytes.Buffer
	require.NoError(t, WriteCSV(&buf, recs))
	want := strings.Join([]string{
		"time,kind,id,actor,target,details",
		"2024-05-06T14:08:09.12Z,request.opened,R1,U123,bob@example.com,origin=manual;reason=stolen laptop;required=1",
		`2024-05-06T14:08:09Z,request.refused,R1,"'=HYPERLINK(""http://evil"")",'+1 555,op=@SUM(A1);reason=-1+2`,
		"2024-05-06T14:08:09.000000001Z,slack.command,'\tR2,\"'\rU9\",'-bob@example.com,\\=k=v;a\\;b=c\\=d;back\\\\slash=x\\\\\\;y",
		"2024-05-06T14:08:10Z,request.denied,R3,\"Smith, Bob\",\"say \"\"hi\"\"\",\"reason=line one\nline two\"",
		"0001-01-01T00:00:00Z,okta.event,,'=already quoted,\" =leading space\",",
		"",
	}, "\n")
	assert.Equal(t, want, buf.String())

	// And it reads back as six columns per row.
	rows, err := csv.NewReader(strings.NewReader(buf.String())).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, len(recs)+1)
	assert.Equal(t, []string{"'\rU9"}, rows[3][3:4])
	assert.Equal(t, `\=k=v;a\;b=c\=d;back\\slash=x\\\;y`, rows[3][5])
	assert.Equal(t, "reason=line one\nline two", rows[4][5])
}

func TestWriteCSVNoRecords(t *testing.T) {
	for _, recs := range [][]Record{nil, {}} {
		var buf bytes.Buffer
		require.NoError(t, WriteCSV(&buf, recs))
		assert.Equal(t, "time,kind,id,actor,target,details\n", buf.String())
	}
}

func TestWriteCSVKeepsOrder(t *testing.T) {
	// Records are written in the order given, not sorted by time.
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	recs := []Record{{Time: t0.Add(time.Hour), Kind: "b", ID: "2"}, {Time: t0, Kind: "a", ID: "1"}}
	var buf bytes.Buffer
	require.NoError(t, WriteCSV(&buf, recs))
	rows, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 3)
	assert.Equal(t, "2", rows[1][2])
	assert.Equal(t, "1", rows[2][2])
}

type failingWriter struct {
	err     error
	allowed int // bytes accepted before failing
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) <= w.allowed {
		w.allowed -= len(p)
		return len(p), nil
	}
	n := w.allowed
	w.allowed = 0
	return n, w.err
}

func TestWriteCSVReportsWriteErrors(t *testing.T) {
	boom := errors.New("disk full")
	t.Run("at flush", func(t *testing.T) {
		err := WriteCSV(&failingWriter{err: boom}, []Record{{Kind: KindOpened}})
		require.ErrorIs(t, err, boom)
		assert.Contains(t, err.Error(), "approvals: write csv")
	})
	t.Run("mid-stream", func(t *testing.T) {
		// More than csv.Writer's buffer, so a Write fails before Flush.
		recs := make([]Record, 2000)
		for i := range recs {
			recs[i] = Record{Kind: KindOpened, Actor: strings.Repeat("x", 100)}
		}
		err := WriteCSV(&failingWriter{err: boom, allowed: 10}, recs)
		require.ErrorIs(t, err, boom)
		assert.Contains(t, err.Error(), "approvals: write csv")
	})
}

func TestDefuseFormula(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"bob", "bob"},
		{"=1+1", "'=1+1"},
		{"+1", "'+1"},
		{"-1", "'-1"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\tx", "'\tx"},
		{"\rx", "'\rx"},
		{"=", "'="},
		{"'=1", "'=1"},         // already quoted: left alone
		{" =1", " =1"},         // only the first byte counts
		{"\n=1", "\n=1"},       // LF is not in the set
		{"a=1", "a=1"},         // later formula characters are harmless
		{"\uff1d1", "\uff1d1"}, // fullwidth equals is not in the set
		{"\xbd=1", "\xbd=1"},   // a non-ASCII byte is not taken for a rune
		{"\u003d\u0301", "'=\u0301"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, defuseFormula(tt.in), "defuseFormula(%q)", tt.in)
	}
}

func TestFormatDetails(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]string
		want string
	}{
		{"nil", nil, ""},
		{"empty", map[string]string{}, ""},
		{"one", map[string]string{"reason": "stolen"}, "reason=stolen"},
		{"sorted by key", map[string]string{"b": "2", "c": "3", "a": "1"}, "a=1;b=2;c=3"},
		{"byte order, upper case first", map[string]string{"b": "1", "B": "2", "a": "3"}, "B=2;a=3;b=1"},
		{"empty key and value", map[string]string{"": ""}, "="},
		{"escapes in values", map[string]string{"k": `a;b=c\d`}, `k=a\;b\=c\\d`},
		{"escapes in keys", map[string]string{`k;=\`: "v"}, `k\;\=\\=v`},
		{"other characters untouched", map[string]string{"k": "a,b \"c\"\n'd"}, "k=a,b \"c\"\n'd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := formatDetails(tt.in)
			assert.Equal(t, tt.want, got)
			back, ok := parseDetails(got)
			require.True(t, ok, "parseDetails(%q)", got)
			if len(tt.in) == 0 {
				assert.Empty(t, back)
			} else {
				assert.Equal(t, tt.in, back)
			}
		})
	}
}

func TestFormatDetailsUnambiguous(t *testing.T) {
	// Maps that a naive k=v;k=v join would render alike.
	pairs := [][2]map[string]string{
		{{"a": "b;c=d"}, {"a": "b", "c": "d"}},
		{{"a=b": "c"}, {"a": "b=c"}},
		{{`a\`: "b"}, {"a": `\b`}},
		{{"": ""}, {}},
	}
	for _, p := range pairs {
		assert.NotEqual(t, formatDetails(p[0]), formatDetails(p[1]), "%q and %q", p[0], p[1])
	}
}
