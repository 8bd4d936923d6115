package approvals

import (
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

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
