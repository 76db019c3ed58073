package distcheck

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
)

// Table is one MSI database table as `msiinfo export` prints it in the
// IDT format: a line of column names, a line of column types, a line with
// the table name and its key columns, then one tab-separated line per row.
type Table struct {
	Name    string
	Columns []string
	Types   []string
	Keys    []string
	Rows    []Row
}

// Row maps column names to values. A null value is the empty string.
type Row map[string]string

// ParseIDT parses an IDT table. Control characters inside values are
// escaped by the format (\r as \x11, \n as \x19, \t as \x15), and are
// turned back into themselves.
func ParseIDT(r io.Reader) (*Table, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	var lines []string
	for sc.Scan() {
		lines = append(lines, strings.TrimSuffix(sc.Text(), "\r"))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read IDT: %w", err)
	}
	if len(lines) < 3 {
		return nil, fmt.Errorf("IDT has %d header lines, want 3", len(lines))
	}
	t := &Table{
		Columns: strings.Split(lines[0], "\t"),
		Types:   strings.Split(lines[1], "\t"),
	}
	if len(t.Types) != len(t.Columns) {
		return nil, fmt.Errorf("IDT has %d columns but %d types", len(t.Columns), len(t.Types))
	}
	head := strings.Split(lines[2], "\t")
	t.Name, t.Keys = head[0], head[1:]
	unescape := strings.NewReplacer("\x11", "\r", "\x19", "\n", "\x15", "\t")
	for i, l := range lines[3:] {
		if l == "" {
			continue
		}
		vals := strings.Split(l, "\t")
		if len(vals) > len(t.Columns) {
			return nil, fmt.Errorf("IDT %s row %d has %d values for %d columns", t.Name, i+1, len(vals), len(t.Columns))
		}
		row := make(Row, len(t.Columns))
		for j, c := range t.Columns {
			if j < len(vals) {
				row[c] = unescape.Replace(vals[j])
			} else {
				row[c] = ""
			}
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

// Find returns the rows whose column col equals val.
func (t *Table) Find(col, val string) []Row {
	var out []Row
	for _, r := range t.Rows {
		if r[col] == val {
			out = append(out, r)
		}
	}
	return out
}

// Value returns column want of the single row whose column col equals val,
// and reports whether exactly one such row exists.
func (t *Table) Value(col, val, want string) (string, bool) {
	rows := t.Find(col, val)
	if len(rows) != 1 {
		return "", false
	}
	return rows[0][want], true
}

// ExportTable reads one table of an MSI with `msiinfo export`.
func ExportTable(ctx context.Context, msi, table string) (*Table, error) {
	out, err := Output(ctx, "msiinfo", "export", msi, table)
	if err != nil {
		return nil, fmt.Errorf("export %s from %s: %w", table, msi, err)
	}
	t, err := ParseIDT(strings.NewReader(out))
	if err != nil {
		return nil, fmt.Errorf("parse %s of %s: %w", table, msi, err)
	}
	if t.Name != table {
		return nil, fmt.Errorf("export %s from %s gave table %q", table, msi, t.Name)
	}
	return t, nil
}

// SummaryInfo reads an MSI's summary information stream with
// `msiinfo suminfo` as "Field: value" pairs.
func SummaryInfo(ctx context.Context, msi string) (map[string]string, error) {
	out, err := Output(ctx, "msiinfo", "suminfo", msi)
	if err != nil {
		return nil, fmt.Errorf("summary information of %s: %w", msi, err)
	}
	info := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(l, ": ")
		if ok {
			info[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return info, nil
}
