package printers

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/keelson/keelson/api"
)

// Status renders `keelson status` the way `argocd app get` and `flux get` do: a block
// of "Label: value" lines about the applied commit, sync, health and the Git source;
// the newest refused revision with every file:line error; then servers, nodes, pods
// per phase, objects that are not synced and healthy, and recent events.
func Status(w io.Writer, s *api.StatusResponse, o Options, color bool) error {
	var b strings.Builder
	paint := func(v string) string {
		if color {
			return Colorize(v)
		}
		return v
	}
	field := func(label, value string) { fmt.Fprintf(&b, "%-10s %s\n", label+":", value) }

	if a := s.Applied; a != nil {
		field("Commit", fmt.Sprintf("%s %s", Short(a.Commit), FirstLine(a.Message)))
		field("Author", fmt.Sprintf("%s, %s ago", a.Author, Age(o.Now, a.Time)))
	} else {
		field("Commit", "<none> (no valid revision applied yet)")
	}
	field("Sync", paint(string(cmp.Or(s.Cluster.Sync, "Unknown"))))
	field("Health", paint(string(cmp.Or(s.Cluster.Health, "Unknown"))))
	if s.Cluster.Message != "" {
		field("Message", s.Cluster.Message)
	}
	field("Source", sourceLine(&s.Source, o, paint))
	if s.Leader != "" {
		field("Leader", s.Leader)
	}

	if r := s.Refused; r != nil {
		fmt.Fprintf(&b, "\n%s revision %s %s\n", paint("Refused"), Short(r.Commit), FirstLine(r.Message))
		field("Author", fmt.Sprintf("%s, %s ago", r.Author, Age(o.Now, r.Time)))
		if r.Reason != "" {
			field("Reason", r.Reason)
		}
		b.WriteString("The cluster stays on the applied commit until a fixed commit is pushed:\n")
		for _, e := range r.Errors {
			fmt.Fprintf(&b, "  %s\n", e.Error())
		}
	}

	section := func(title string, t *Table) error {
		fmt.Fprintf(&b, "\n%s\n", title)
		return t.Write(&b, color)
	}
	if len(s.Servers) > 0 {
		t := &Table{}
		t.Row("ID", "RAFT ADDRESS", "HTTP ADDRESS", "ROLE")
		for _, sv := range s.Servers {
			role := "follower"
			switch {
			case sv.Leader:
				role = "leader"
			case !sv.Voter:
				role = "nonvoter"
			}
			t.Row(sv.ID, sv.RaftAddr, orNone(sv.HTTPAddr), role)
		}
		if err := section("SERVERS", t); err != nil {
			return err
		}
	}
	nodes := &Table{}
	nodes.Row("NAME", "STATUS", "ADDRESS", "POD-CIDR", "AGE")
	for i := range s.Nodes {
		n := &s.Nodes[i]
		nodes.Row(n.Name, NodeStatusText(n), orNone(n.Address), orNone(n.PodCIDR), Age(o.Now, n.RegisteredAt))
	}
	if len(s.Nodes) == 0 {
		b.WriteString("\nNODES\nnone registered\n")
	} else if err := section(fmt.Sprintf("NODES (%d)", len(s.Nodes)), nodes); err != nil {
		return err
	}
	fmt.Fprintf(&b, "\nPODS\n%s\n", podCounts(s.PodCount, paint))
	if notOK := unhealthyObjects(s.Objects); len(notOK) > 0 {
		t := &Table{}
		t.Row("OBJECT", "SYNC", "HEALTH", "READY", "MESSAGE")
		for _, ob := range notOK {
			t.Row(ob.Key, string(ob.Sync), string(ob.Health), fmt.Sprintf("%d/%d", ob.Ready, ob.Desired), ob.Message)
		}
		if err := section("OBJECTS NOT SYNCED OR HEALTHY", t); err != nil {
			return err
		}
	} else if len(s.Objects) > 0 {
		fmt.Fprintf(&b, "\nOBJECTS\nall %d synced and healthy\n", len(s.Objects))
	}
	if len(s.Events) > 0 {
		if err := section("RECENT EVENTS", Events(s.Events, o)); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// sourceLine summarizes the Git source: where, which branch, the head seen, and
// whether the last fetch worked.
func sourceLine(src *api.SourceStatus, o Options, paint func(string) string) string {
	s := fmt.Sprintf("%s (branch %s", orNone(src.URL), orNone(src.Branch))
	if src.Path != "" {
		s += ", path " + src.Path
	}
	s += ")"
	if src.Head != "" {
		s += " head " + Short(src.Head)
	}
	state := paint("healthy")
	if !src.Healthy {
		state = paint("unhealthy")
	}
	s += ": " + state
	if src.Message != "" {
		s += ": " + src.Message
	}
	if !src.CheckedAt.IsZero() {
		s += ", checked " + Age(o.Now, src.CheckedAt) + " ago"
	}
	return s
}

// podCounts formats "Running 5   Pending 1" in a fixed phase order.
func podCounts(counts map[string]int, paint func(string) string) string {
	order := []string{"Running", "Pending", "Succeeded", "Failed", "Unknown"}
	var extra []string
	for phase := range counts {
		if !slices.Contains(order, phase) {
			extra = append(extra, phase)
		}
	}
	slices.Sort(extra)
	order = append(order, extra...)
	var parts []string
	total := 0
	for _, phase := range order {
		if n := counts[phase]; n > 0 {
			parts = append(parts, paint(phase)+" "+strconv.Itoa(n))
			total += n
		}
	}
	if total == 0 {
		return "none"
	}
	return fmt.Sprintf("%d total: %s", total, strings.Join(parts, ", "))
}

func unhealthyObjects(objs []api.ObjectStatus) []api.ObjectStatus {
	var out []api.ObjectStatus
	for _, o := range objs {
		if o.Sync != api.Synced || o.Health != api.Healthy {
			out = append(out, o)
		}
	}
	return out
}

// FirstLine returns the subject line of a commit message.
func FirstLine(msg string) string {
	first, _, _ := strings.Cut(strings.TrimSpace(msg), "\n")
	return first
}
