package approvals

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzReadJournal feeds arbitrary files to the journal reader: it must never
// fail on content (only on I/O), every record it returns must be whole, and
// writing those records back must read back the same.
func FuzzReadJournal(f *testing.F) {
	good := `{"time":"2026-03-01T12:00:00Z","kind":"request.opened","id":"R1","actor":"U1","target":"a@b.c","details":{"reason":"x"}}`
	for _, seed := range []string{
		"", "\n", good + "\n", good + "\n" + good[:40], good + good, "{}\n[]\nnull\n",
		`{"time":"2026-03-01T12:00:00Z","kind":"x","details":{"a":1}}`, "\x00\xff\n" + good,
		`{"time":"not a time","kind":"x"}`, strings.Repeat("{", 100),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, skipped, err := ReadJournal(bytes.NewReader(data), Filter{})
		require.NoError(t, err)
		require.LessOrEqual(t, len(recs)+skipped, bytes.Count(data, []byte("\n"))+1)
		var again bytes.Buffer
		for _, r := range recs {
			require.NotEmpty(t, r.Kind)
			require.False(t, r.Time.IsZero())
			b, err := json.Marshal(r)
			require.NoError(t, err)
			again.Write(append(b, '\n'))
		}
		back, skipped, err := ReadJournal(&again, Filter{})
		require.NoError(t, err)
		require.Zero(t, skipped)
		require.Len(t, back, len(recs))
		for i := range recs {
			assert.True(t, recs[i].Time.Equal(back[i].Time))
			assert.Equal(t, recs[i].Kind, back[i].Kind)
			if len(recs[i].Details) > 0 || len(back[i].Details) > 0 { // empty and nil both omit
				assert.Equal(t, recs[i].Details, back[i].Details)
			}
		}
	})
}

// FuzzReplayLog feeds arbitrary store logs to the replay: no panic, no
// error for content, and only valid entries are ever loaded.
func FuzzReplayLog(f *testing.F) {
	r := storedRequest("R1", StatePending, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	line, err := json.Marshal(logLine{Seq: 1, entry: entry{Request: r, Until: r.Expires.Add(time.Hour)}})
	require.NoError(f, err)
	good := string(line) + "\n"
	for _, seed := range []string{
		"", good, good + good[:50], "garbage\n" + good, `{"seq":0}` + "\n",
		`{"seq":2,"until":"2030-01-01T00:00:00Z","request":{"id":"X","state":"bogus"}}` + "\n",
		`{"seq":3,"until":"2030-01-01T00:00:00Z","request":{"id":"X","state":"done"}}` + "\n",
		strings.TrimSuffix(good, "\n"),
	} {
		f.Add([]byte(seed), uint64(0))
	}
	f.Add([]byte(good), uint64(1))
	f.Fuzz(func(t *testing.T, data []byte, after uint64) {
		into := map[string]entry{}
		rep, err := replayLog(bytes.NewReader(data), after, into)
		require.NoError(t, err)
		lines := bytes.Count(data, []byte("\n"))
		if len(data) > 0 && data[len(data)-1] != '\n' {
			lines++
		}
		require.Equal(t, lines, rep.lines)
		require.LessOrEqual(t, len(rep.bad), rep.lines)
		require.LessOrEqual(t, rep.size, int64(len(data)))
		for id, e := range into {
			require.True(t, e.valid())
			require.Equal(t, id, e.Request.ID)
		}
		if rep.lastSeq <= after {
			require.Empty(t, into, "nothing at or below the snapshot's sequence is replayed")
		}
	})
}
