package approvals

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readJournalFile(t *testing.T, path string, f Filter) ([]Record, int) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	recs, skipped, err := ReadJournal(bytes.NewReader(b), f)
	require.NoError(t, err)
	return recs, skipped
}

func TestJournalAppendAndRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit", "audit.jsonl")
	j, err := OpenJournal(path)
	require.NoError(t, err)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	want := []Record{
		{Time: at, Kind: KindOpened, ID: "R1", Actor: requester, Target: target, Details: map[string]string{"reason": "stolen"}},
		{Time: at.Add(time.Minute), Kind: KindPINRevealed, ID: "R1", Actor: approverA, Target: target,
			Details: map[string]string{"device": "C02XK1JHJG5J", "to": approverA}},
	}
	for _, r := range want {
		require.NoError(t, j.Append(r))
	}
	before := time.Now()
	require.NoError(t, j.Append(Record{Kind: KindEvent, ID: "evt-1"}))
	require.NoError(t, j.Close())
	require.NoError(t, j.Close(), "closing twice is harmless")
	require.ErrorIs(t, j.Append(Record{Kind: KindEvent}), errClosed)

	got, skipped := readJournalFile(t, path, Filter{})
	assert.Zero(t, skipped)
	require.Len(t, got, 3)
	for i, w := range want {
		assert.True(t, w.Time.Equal(got[i].Time))
		assert.Equal(t, time.UTC, got[i].Time.Location(), "journal times are UTC")
		w.Time = got[i].Time
		assert.Equal(t, w, got[i])
	}
	assert.WithinDuration(t, before, got[2].Time, time.Minute, "a zero time is set to now")

	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
}

func TestJournalRefusesPINKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	j, err := OpenJournal(path)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, j.Close()) })
	for _, key := range []string{"pin", "PIN", "unlock_pin", "UnlockPin", "pin_code", "spinner"} {
		t.Run(key, func(t *testing.T) {
			err := j.Append(Record{Kind: KindPINRevealed, Details: map[string]string{"to": approverA, key: "123456"}})
			require.ErrorIs(t, err, errPINDetail)
			assert.NotContains(t, err.Error(), "123456", "the refusal does not repeat the value")
		})
	}
	nop, err := OpenJournal("")
	require.NoError(t, err)
	require.ErrorIs(t, nop.Append(Record{Kind: KindPINRevealed, Details: map[string]string{"pin": "1"}}), errPINDetail,
		"even a journal that keeps nothing refuses")
	require.Error(t, j.Append(Record{ID: "no kind"}))

	recs, _ := readJournalFile(t, path, Filter{})
	assert.Empty(t, recs, "nothing refused was written")
}

func TestJournalThatKeepsNothing(t *testing.T) {
	j, err := OpenJournal("")
	require.NoError(t, err)
	require.NoError(t, j.Append(Record{Kind: KindOpened}))
	require.NoError(t, j.Close())
	var nilJournal *Journal
	require.NoError(t, nilJournal.Append(Record{Kind: KindOpened}))
	require.NoError(t, nilJournal.Close())
}

func TestOpenJournalErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	_, err := OpenJournal(filepath.Join(file, "audit.jsonl"))
	require.ErrorContains(t, err, "journal directory")
	_, err = OpenJournal(dir)
	require.ErrorContains(t, err, "open journal")
}

// TestJournalSurvivesTornLastLine is the crash case: a partial last line is
// skipped (and counted) by the reader, and appending after a reopen does not
// glue a new record onto it.
func TestJournalSurvivesTornLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	j, err := OpenJournal(path)
	require.NoError(t, err)
	require.NoError(t, j.Append(Record{Kind: KindOpened, ID: "R1"}))
	require.NoError(t, j.Close())
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"time":"2026-03-01T12:00:00Z","kind":"request.appr`)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	recs, skipped := readJournalFile(t, path, Filter{})
	assert.Equal(t, 1, skipped, "the torn line is counted, not fatal")
	require.Len(t, recs, 1)

	j, err = OpenJournal(path)
	require.NoError(t, err)
	require.NoError(t, j.Append(Record{Kind: KindApproval, ID: "R1"}))
	require.NoError(t, j.Close())
	recs, skipped = readJournalFile(t, path, Filter{})
	assert.Equal(t, 1, skipped)
	require.Len(t, recs, 2)
	assert.Equal(t, KindApproval, recs[1].Kind)
}

func TestJournalConcurrentAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	j, err := OpenJournal(path)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 10 {
				assert.NoError(t, j.Append(Record{Kind: KindLockResult, ID: fmt.Sprintf("%d-%d", g, i),
					Details: map[string]string{"reason": strings.Repeat("x", 5000)}}))
			}
		})
	}
	wg.Wait()
	require.NoError(t, j.Close())
	recs, skipped := readJournalFile(t, path, Filter{})
	assert.Zero(t, skipped, "records never interleave")
	assert.Len(t, recs, 80)
}

func TestReadJournalFilter(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	all := []Record{
		{Time: t0, Kind: KindOpened, ID: "R1", Target: "jane@example.com"},
		{Time: t0.Add(time.Minute), Kind: KindApproval, ID: "R1", Target: "jane@example.com"},
		{Time: t0.Add(2 * time.Minute), Kind: KindAutoLock, ID: "L2", Target: "bob@example.com"},
		{Time: t0.Add(3 * time.Minute), Kind: KindLockResult, ID: "L2", Target: "bob@example.com"},
	}
	var file bytes.Buffer
	for _, r := range all {
		b, err := json.Marshal(r)
		require.NoError(t, err)
		file.Write(append(b, '\n'))
	}
	tests := []struct {
		name   string
		filter Filter
		want   []int // indexes into all
	}{
		{name: "everything", want: []int{0, 1, 2, 3}},
		{name: "since is inclusive", filter: Filter{Since: t0.Add(time.Minute)}, want: []int{1, 2, 3}},
		{name: "until is exclusive", filter: Filter{Until: t0.Add(2 * time.Minute)}, want: []int{0, 1}},
		{name: "window", filter: Filter{Since: t0.Add(time.Minute), Until: t0.Add(3 * time.Minute)}, want: []int{1, 2}},
		{name: "kinds", filter: Filter{Kinds: []Kind{KindOpened, KindAutoLock}}, want: []int{0, 2}},
		{name: "target ignores case", filter: Filter{Target: "Bob@Example.com"}, want: []int{2, 3}},
		{name: "id", filter: Filter{ID: "R1"}, want: []int{0, 1}},
		{name: "all fields", filter: Filter{Since: t0, Kinds: []Kind{KindApproval}, Target: "jane@example.com", ID: "R1"}, want: []int{1}},
		{name: "nothing matches", filter: Filter{ID: "nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, skipped, err := ReadJournal(bytes.NewReader(file.Bytes()), tt.filter)
			require.NoError(t, err)
			assert.Zero(t, skipped)
			var want []Record
			for _, i := range tt.want {
				want = append(want, all[i])
			}
			assert.Equal(t, want, got)
		})
	}
}

func TestReadJournalSkipsGarbage(t *testing.T) {
	good := `{"time":"2026-03-01T12:00:00Z","kind":"request.opened","id":"R1"}`
	tests := []struct {
		name        string
		input       string
		wantRecs    int
		wantSkipped int
	}{
		{name: "empty"},
		{name: "blank lines are not garbage", input: "\n  \n" + good + "\n\r\n", wantRecs: 1},
		{name: "no trailing newline", input: good, wantRecs: 1},
		{name: "CRLF", input: good + "\r\n" + good + "\r\n", wantRecs: 2},
		{name: "torn last line", input: good + "\n" + good[:30], wantRecs: 1, wantSkipped: 1},
		{name: "binary garbage", input: "\x00\xff\xfe\n" + good + "\n", wantRecs: 1, wantSkipped: 1},
		{name: "object without kind", input: `{"time":"2026-03-01T12:00:00Z"}` + "\n", wantSkipped: 1},
		{name: "object without time", input: `{"kind":"request.opened"}` + "\n", wantSkipped: 1},
		{name: "not an object", input: "[1,2]\n\"x\"\n", wantSkipped: 2},
		{name: "two objects on one line", input: good + good + "\n", wantSkipped: 1},
		{name: "wrong types", input: `{"time":"2026-03-01T12:00:00Z","kind":"x","details":{"a":1}}` + "\n", wantSkipped: 1},
		{name: "line too long", input: `{"kind":"x","id":"` + strings.Repeat("a", maxJournalLine) + "\"}\n" + good + "\n",
			wantRecs: 1, wantSkipped: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, skipped, err := ReadJournal(strings.NewReader(tt.input), Filter{})
			require.NoError(t, err)
			assert.Len(t, recs, tt.wantRecs)
			assert.Equal(t, tt.wantSkipped, skipped)
		})
	}
}

func TestReadJournalReaderError(t *testing.T) {
	broken := errors.New("disk gone")
	_, _, err := ReadJournal(iotest.ErrReader(broken), Filter{})
	require.ErrorIs(t, err, broken)
}

func TestWriteCSV(t *testing.T) {
	recs := []Record{
		{Time: time.Date(2026, 3, 1, 12, 0, 0, 5, time.UTC), Kind: KindOpened, ID: "R1", Actor: requester, Target: target,
			Details: map[string]string{"required": "1", "reason": "stolen, \"really\""}},
		{Time: time.Date(2026, 3, 1, 13, 0, 0, 0, time.FixedZone("CET", 3600)), Kind: KindRefused, ID: "R1", Actor: outsider,
			Details: map[string]string{"reason": "a;b=c\\d", "op": "approve"}},
		{Time: time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC), Kind: KindDenied, Actor: "=HYPERLINK(\"http://evil\")",
			Target: "+1-555", Details: map[string]string{"reason": "-2+3"}},
	}
	var out bytes.Buffer
	require.NoError(t, WriteCSV(&out, recs))
	want := "time,kind,id,actor,target,details\n" +
		"2026-03-01T12:00:00.000000005Z,request.opened,R1,U_REQ,jane@example.com,\"reason=stolen, \"\"really\"\";required=1\"\n" +
		"2026-03-01T12:00:00Z,request.refused,R1,U_OUTSIDER,,op=approve;reason=a\\;b\\=c\\\\d\n" +
		"2026-03-01T12:30:00Z,request.denied,,\"'=HYPERLINK(\"\"http://evil\"\")\",'+1-555,reason=-2+3\n"
	assert.Equal(t, want, out.String())

	out.Reset()
	require.NoError(t, WriteCSV(&out, nil))
	assert.Equal(t, "time,kind,id,actor,target,details\n", out.String())
}

// failingWriter fails every write after the first n bytes.
type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		return 0, errDisk
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteCSVWriterError(t *testing.T) {
	recs := []Record{{Time: time.Now(), Kind: KindOpened, Details: map[string]string{"reason": strings.Repeat("x", 8192)}}}
	for _, n := range []int{0, 40} {
		require.ErrorIs(t, WriteCSV(&failingWriter{n: n}, recs), errDisk, "fail after %d bytes", n)
	}
}
