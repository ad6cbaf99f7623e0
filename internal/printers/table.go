// Package printers renders cluster records for people (aligned tables, relative ages)
// and machines (JSON, YAML), the way kubectl does, so the read-only CLI commands stay
// thin and their output can be tested with golden files.
package printers

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Table writes aligned columns; the first row is the header.
type Table struct {
	rows [][]string
}

// Row appends one row.
func (t *Table) Row(cols ...string) { t.rows = append(t.rows, cols) }

// Len is the number of data rows (header excluded).
func (t *Table) Len() int { return max(len(t.rows)-1, 0) }

// Write prints the table with columns separated by at least three spaces.
func (t *Table) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	for _, r := range t.rows {
		if _, err := fmt.Fprintln(tw, strings.Join(r, "\t")); err != nil {
			return err
		}
	}
	return tw.Flush()
}

// Age formats the time since t like kubectl: 45s, 12m, 3h, 2d; "<unknown>" for zero.
func Age(now, t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "0s"
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 2*time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

// orNone returns s or "<none>" when s is empty.
func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// Short abbreviates a commit id to 7 characters.
func Short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
