// Package printers renders cluster records for people (aligned tables, relative ages,
// colors on a terminal) and machines (JSON, YAML), the way kubectl does, so the
// read-only CLI commands stay thin and their output can be tested with golden files.
package printers

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keelson/keelson/api"
)

// Table holds aligned columns; the first row is the header. It aligns by itself
// rather than with text/tabwriter because tabwriter counts ANSI color codes as
// width, which breaks the columns as soon as a cell is colored.
type Table struct {
	rows [][]string
}

// Row appends one row.
func (t *Table) Row(cols ...string) { t.rows = append(t.rows, cols) }

// Len is the number of data rows (header excluded).
func (t *Table) Len() int { return max(len(t.rows)-1, 0) }

// Rows returns the data rows.
func (t *Table) Rows() [][]string {
	if len(t.rows) == 0 {
		return nil
	}
	return t.rows[1:]
}

// Widths returns the width of each column over every row, header included.
func (t *Table) Widths() []int {
	var w []int
	for _, r := range t.rows {
		for i, c := range r {
			if i >= len(w) {
				w = append(w, 0)
			}
			w[i] = max(w[i], utf8.RuneCountInString(c))
		}
	}
	return w
}

// Write prints the whole table, columns separated by at least three spaces; with
// color, status words are colored (see Colorize).
func (t *Table) Write(w io.Writer, color bool) error {
	return WriteRows(w, t.Widths(), t.rows, color)
}

// WriteRows prints rows padded to the given column widths. Watch mode uses it to print
// only the rows that changed, aligned under a table printed earlier; a cell wider than
// its column still gets a separating space.
func WriteRows(w io.Writer, widths []int, rows [][]string, color bool) error {
	var b strings.Builder
	for _, r := range rows {
		for i, c := range r {
			text := c
			if color {
				text = Colorize(c)
			}
			b.WriteString(text)
			if i == len(r)-1 {
				break
			}
			pad := 1
			if i < len(widths) {
				pad = max(widths[i]-utf8.RuneCountInString(c)+3, 1)
			}
			b.WriteString(strings.Repeat(" ", pad))
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ANSI color codes used for status words.
const (
	ansiReset  = "\x1b[0m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
)

// colorOf maps the status words the tables show to a color: green is fine, yellow is
// on its way, red needs a person. Only whole cells match, and object names are
// lower-case DNS labels, so a name is never colored by accident.
func colorOf(s string) string {
	switch s {
	case "Running", "Ready", "Synced", "Healthy", "Succeeded", "leader", "healthy":
		return ansiGreen
	case "Pending", "Progressing", "OutOfSync", "Terminating", "ContainerCreating", "Waiting", "Warning", "NotReady":
		return ansiYellow
	case "Failed", "Down", "Degraded", "Missing", api.ReasonCrashLoopBackOff, api.ReasonUnschedulable, api.ReasonNodeLost, api.ReasonError,
		"ErrImagePull", "ImagePullBackOff", "OOMKilled", "Refused", "unhealthy":
		return ansiRed
	}
	return ""
}

// Colorize wraps a known status word in its ANSI color; other text is returned as is.
func Colorize(s string) string {
	if c := colorOf(s); c != "" {
		return c + s + ansiReset
	}
	return s
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
