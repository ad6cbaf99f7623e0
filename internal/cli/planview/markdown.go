package planview

import (
	"fmt"
	"io"
	"strings"
)

// Markdown writes the report as a pull-request comment (GitHub-flavoured: tables,
// collapsible field diffs, emoji shortcodes).
func (r *Report) Markdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### Keelson plan: `%s` → `%s`\n\n", revLine(r.Base), revLine(r.Head))
	if r.Head.Message != "" {
		fmt.Fprintf(&b, "Head commit: %s — %s\n\n", mdEscape(r.Head.Message), mdEscape(r.Head.Author))
	}
	if r.BaseErrors > 0 {
		fmt.Fprintf(&b, ":warning: The base revision has %d error(s) itself; the diff is against the part of it that is valid.\n\n", r.BaseErrors)
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(&b, ":x: **%d error(s): this commit would be refused; the cluster would stay on the last good revision.**\n\n", len(r.Errors))
		b.WriteString("| where | object | field | problem |\n| --- | --- | --- | --- |\n")
		for _, e := range r.Errors {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", e.Pos.String(), mdCode(e.Object), mdCode(e.Field), mdEscape(e.Message))
		}
		b.WriteString("\n")
	}
	if len(r.Objects) == 0 && len(r.Errors) == 0 {
		b.WriteString(":white_check_mark: No changes: the cluster would stay as it is.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	if len(r.Objects) > 0 {
		r.markdownObjects(&b)
	}
	if c := r.Consequences; c != nil {
		markdownConsequences(&b, c)
	} else if len(r.Errors) > 0 {
		b.WriteString("_Nothing of this commit would reach the cluster until the errors are fixed._\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Report) markdownObjects(b *strings.Builder) {
	fmt.Fprintf(b, "#### Objects: %s\n\n", objectSummary(r.Objects))
	if len(r.Errors) > 0 {
		b.WriteString("_As far as the invalid commit could be read:_\n\n")
	}
	b.WriteString("| change | object | source |\n| --- | --- | --- |\n")
	icon := map[ChangeKind]string{Added: ":heavy_plus_sign: added", Changed: ":pencil2: changed", Removed: ":heavy_minus_sign: removed"}
	for _, o := range r.Objects {
		fmt.Fprintf(b, "| %s | `%s` | `%s:%d` |\n", icon[o.Change], o.Key, o.Source.File, o.Source.Line)
	}
	b.WriteString("\n")
	for _, o := range r.Objects {
		if o.Change != Changed {
			continue
		}
		fmt.Fprintf(b, "<details><summary><code>%s</code>: %d field(s) changed</summary>\n\n```diff\n", o.Key, len(o.Fields))
		for _, f := range o.Fields {
			if f.Old != "" {
				fmt.Fprintf(b, "- %s: %s\n", f.Path, diffValue(f.Old))
			}
			if f.New != "" {
				fmt.Fprintf(b, "+ %s: %s\n", f.Path, diffValue(f.New))
			}
		}
		b.WriteString("```\n\n</details>\n\n")
	}
}

func markdownConsequences(b *strings.Builder, c *Consequences) {
	b.WriteString("#### What the cluster would do\n\n")
	if !c.Live {
		b.WriteString("_Previewed without a server: placement and capacity are not checked (`keelson plan --server URL` previews against the live cluster)._\n\n")
	}
	fmt.Fprintf(b, "| pods created | pods stopped | pods rolled | pods left Pending | reconcile steps |\n| ---: | ---: | ---: | ---: | ---: |\n| %d | %d | %d | %d | %d |\n\n",
		len(c.Created), len(c.Stopped), len(c.Rolled), len(c.Pending), c.Steps)
	section(b, "Created", "", len(c.Created), "| owner | pod | node |\n| --- | --- | --- |\n", func() {
		for _, p := range c.Created {
			fmt.Fprintf(b, "| `%s` | %s | %s |\n", p.Owner, p.Pod, nodeOrDash(p.Node, c.Live))
		}
	})
	section(b, "Stopped", "", len(c.Stopped), "| owner | pod | node | why |\n| --- | --- | --- | --- |\n", func() {
		for _, p := range c.Stopped {
			fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", p.Owner, p.Pod, nodeOrDash(p.Node, c.Live), mdEscape(p.Reason))
		}
	})
	section(b, "Rolled", " (replaced one at a time, each new pod ready before the next old one stops)", len(c.Rolled),
		"| owner | old pod | node | new pod | node |\n| --- | --- | --- | --- | --- |\n", func() {
			for _, p := range c.Rolled {
				fmt.Fprintf(b, "| `%s` | %s | %s | %s | %s |\n", p.Owner, p.Pod, nodeOrDash(p.Node, c.Live), p.Replacement, nodeOrDash(p.ReplacementNode, c.Live))
			}
		})
	if len(c.Pending) > 0 {
		b.WriteString(":warning: ")
	}
	section(b, "Pods that would stay Pending", "", len(c.Pending), "| owner | pod | why |\n| --- | --- | --- |\n", func() {
		for _, p := range c.Pending {
			fmt.Fprintf(b, "| `%s` | %s | %s |\n", p.Owner, p.Pod, mdEscape(p.Reason))
		}
	})
	if len(c.Services) > 0 {
		b.WriteString("**Services**\n\n")
		for _, s := range c.Services {
			fmt.Fprintf(b, "- `%s`: %s\n", s.Key, mdEscape(s.Summary()))
		}
		b.WriteString("\n")
	}
	if len(c.Nodes) > 0 {
		b.WriteString("**Capacity** (requested → after the change / allocatable)\n\n| node | pods | cpu | memory |\n| --- | ---: | ---: | ---: |\n")
		for _, n := range c.Nodes {
			fmt.Fprintf(b, "| %s | %d → %d | %dm → %dm / %dm | %s → %s / %s |\n", n.Node, n.PodsBefore, n.PodsAfter,
				n.Before.MilliCPU, n.After.MilliCPU, n.Allocatable.MilliCPU,
				mib(n.Before.MemoryBytes), mib(n.After.MemoryBytes), mib(n.Allocatable.MemoryBytes))
		}
		b.WriteString("\n")
	}
}

// foldRows is how many rows a pod table shows before it is folded into <details>, so
// the pull-request comment of a large scale-up stays readable.
const foldRows = 10

// section writes a titled pod table (nothing when it has no rows), folded when long.
func section(b *strings.Builder, title, note string, rows int, header string, writeRows func()) {
	if rows == 0 {
		return
	}
	if rows > foldRows {
		fmt.Fprintf(b, "<details><summary><b>%s</b> (%d pods)%s</summary>\n\n%s", title, rows, note, header)
		writeRows()
		b.WriteString("\n</details>\n\n")
		return
	}
	fmt.Fprintf(b, "**%s**%s\n\n%s", title, note, header)
	writeRows()
	b.WriteString("\n")
}

func mib(b int64) string { return fmt.Sprintf("%dMi", b>>20) }

// mdEscape keeps user text (commit messages, error messages) from breaking a table
// row or turning into markup.
func mdEscape(s string) string {
	r := strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;", "*", `\*`, "_", `\_`, "`", "'")
	return r.Replace(s)
}

// mdCode renders s as inline code, or nothing when empty.
func mdCode(s string) string {
	if s == "" {
		return ""
	}
	return "`" + strings.ReplaceAll(strings.ReplaceAll(s, "`", "'"), "|", `\|`) + "`"
}
