package approvals

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
)

// Filter selects journal records. Zero fields select everything.
type Filter struct {
	Since  time.Time // records at or after Since
	Until  time.Time // records strictly before Until
	Kinds  []Kind    // any of these kinds
	Target string    // this target email, compared case-insensitively
	ID     string    // this request or lock ID
}

// match reports whether rec passes every set field of f.
func (f Filter) match(rec Record) bool {
	switch {
	case !f.Since.IsZero() && rec.Time.Before(f.Since),
		!f.Until.IsZero() && !rec.Time.Before(f.Until),
		len(f.Kinds) > 0 && !slices.Contains(f.Kinds, rec.Kind),
		f.Target != "" && !strings.EqualFold(f.Target, rec.Target),
		f.ID != "" && f.ID != rec.ID:
		return false
	}
	return true
}

// maxJournalLine bounds one record; a longer line can only be garbage (no
// record lockbot writes comes near it) and is skipped.
const maxJournalLine = 1 << 20

// ReadJournal returns the records of r that pass f, in file order. Lines that
// are not a whole record (a torn last line after a crash, garbage) are skipped
// and counted rather than failing the read, because one bad line must not
// hide the rest of an audit trail. err is only an error reading r.
func ReadJournal(r io.Reader, f Filter) (recs []Record, skipped int, err error) {
	br := bufio.NewReader(r)
	for {
		line, tooLong, rerr := readLine(br)
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return recs, skipped, fmt.Errorf("approvals: read journal: %w", rerr)
		}
		switch {
		case tooLong:
			skipped++
		case len(bytes.TrimSpace(line)) == 0:
		default:
			rec, ok := parseRecord(line)
			if !ok {
				skipped++
			} else if f.match(rec) {
				recs = append(recs, rec)
			}
		}
		if rerr != nil {
			return recs, skipped, nil
		}
	}
}

// readLine returns the next line without its newline, reporting lines longer
// than maxJournalLine (discarded unbuffered) instead of holding them.
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			line = append(line, chunk...)
			if len(line) > maxJournalLine {
				tooLong, line = true, nil
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimSuffix(line, []byte{'\n'}), tooLong, err
	}
}

// parseRecord decodes one line strictly enough that a fragment of a record is
// not mistaken for a whole one: it must be a single JSON object with a kind
// and a time.
func parseRecord(line []byte) (Record, bool) {
	var rec Record
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&rec); err != nil || dec.More() {
		return Record{}, false
	}
	if rec.Kind == "" || rec.Time.IsZero() {
		return Record{}, false
	}
	return rec, true
}

// csvHeader is the first row of WriteCSV; `lockbot audit` users script
// against it.
var csvHeader = []string{"time", "kind", "id", "actor", "target", "details"}

// WriteCSV writes recs as CSV with the header time,kind,id,actor,target,details.
// Times are RFC 3339 in UTC; details are k=v pairs joined by ';' in key order,
// with '\', ';' and '=' inside keys and values escaped by a backslash.
//
// A cell that a spreadsheet would run as a formula (starting with =, +, -, @,
// tab or carriage return) is prefixed with a single quote: reasons and names
// come from users, and an audit export must not become an attack on whoever
// opens it.
func WriteCSV(w io.Writer, recs []Record) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return fmt.Errorf("approvals: write csv: %w", err)
	}
	for _, r := range recs {
		row := []string{
			r.Time.UTC().Format(time.RFC3339Nano),
			string(r.Kind), r.ID, r.Actor, r.Target, formatDetails(r.Details),
		}
		for i := range row {
			row[i] = defuseFormula(row[i])
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("approvals: write csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("approvals: write csv: %w", err)
	}
	return nil
}

// detailEscaper keeps k=v;k=v unambiguous whatever the values hold.
var detailEscaper = strings.NewReplacer(`\`, `\\`, `;`, `\;`, `=`, `\=`)

// formatDetails renders details as k=v;k=v sorted by key.
func formatDetails(d map[string]string) string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(detailEscaper.Replace(k))
		b.WriteByte('=')
		b.WriteString(detailEscaper.Replace(d[k]))
	}
	return b.String()
}

// defuseFormula prefixes a quote to a cell that spreadsheets would evaluate.
func defuseFormula(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
