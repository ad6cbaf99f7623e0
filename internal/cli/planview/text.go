package planview

import (
	"fmt"
	"io"
	"strings"
)

// ANSI colors of the text report (only on a terminal).
const (
	ansiReset  = "\x1b[0m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
)

// Text writes the report for a terminal, terraform-style: +, ~, - per object, field
// changes below, then the consequences.
func (r *Report) Text(w io.Writer, color bool) error {
	var b strings.Builder
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return code + s + ansiReset
	}
	fmt.Fprintf(&b, "plan %s → %s\n", revLine(r.Base), revLine(r.Head))
	if r.BaseErrors > 0 {
		fmt.Fprintf(&b, "warning: the base revision has %d error(s); the diff is against its valid part\n", r.BaseErrors)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "%s %s\n", paint(ansiRed, "error:"), e.Error())
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(&b, "%d error(s): this commit would be refused; the cluster would stay on the last good revision\n", len(r.Errors))
	}
	if len(r.Objects) == 0 && len(r.Errors) == 0 {
		b.WriteString("no changes\n")
	}
	if len(r.Objects) > 0 {
		fmt.Fprintf(&b, "\nobjects: %s\n", objectSummary(r.Objects))
	}
	sign := map[ChangeKind]string{Added: paint(ansiGreen, "+"), Changed: paint(ansiYellow, "~"), Removed: paint(ansiRed, "-")}
	for _, o := range r.Objects {
		fmt.Fprintf(&b, "%s %s (%s:%d)\n", sign[o.Change], o.Key, o.Source.File, o.Source.Line)
		for _, f := range o.Fields {
			switch {
			case f.Old == "":
				fmt.Fprintf(&b, "    %s: %s\n", f.Path, paint(ansiGreen, "+ "+diffValue(f.New)))
			case f.New == "":
				fmt.Fprintf(&b, "    %s: %s\n", f.Path, paint(ansiRed, "- "+diffValue(f.Old)))
			default:
				fmt.Fprintf(&b, "    %s: %s → %s\n", f.Path, diffValue(f.Old), diffValue(f.New))
			}
		}
	}
	if c := r.Consequences; c != nil && (len(r.Objects) > 0 || !c.Empty()) {
		where := "without a server: placement not checked"
		if c.Live {
			where = "against the live cluster"
		}
		fmt.Fprintf(&b, "\nconsequences (%s): %d pods created, %d stopped, %d rolled, %d left pending, in %d steps\n",
			where, len(c.Created), len(c.Stopped), len(c.Rolled), len(c.Pending), c.Steps)
		on := func(node string) string {
			if !c.Live || node == "" {
				return ""
			}
			return " on " + node
		}
		for _, p := range c.Created {
			fmt.Fprintf(&b, "  %s pod %s (%s)%s\n", paint(ansiGreen, "create"), p.Pod, p.Owner, on(p.Node))
		}
		for _, p := range c.Stopped {
			fmt.Fprintf(&b, "  %s pod %s (%s)%s: %s\n", paint(ansiRed, "stop"), p.Pod, p.Owner, on(p.Node), p.Reason)
		}
		for _, p := range c.Rolled {
			fmt.Fprintf(&b, "  %s pod %s%s → %s%s (%s)\n", paint(ansiYellow, "roll"), p.Pod, on(p.Node), p.Replacement, on(p.ReplacementNode), p.Owner)
		}
		for _, p := range c.Pending {
			fmt.Fprintf(&b, "  %s pod %s (%s): %s\n", paint(ansiRed, "pending"), p.Pod, p.Owner, p.Reason)
		}
		for _, s := range c.Services {
			fmt.Fprintf(&b, "  service %s: %s\n", s.Key, s.Summary())
		}
		for _, n := range c.Nodes {
			fmt.Fprintf(&b, "  node %s: pods %d → %d, cpu %dm → %dm of %dm, memory %s → %s of %s\n", n.Node, n.PodsBefore, n.PodsAfter,
				n.Before.MilliCPU, n.After.MilliCPU, n.Allocatable.MilliCPU,
				mib(n.Before.MemoryBytes), mib(n.After.MemoryBytes), mib(n.Allocatable.MemoryBytes))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
