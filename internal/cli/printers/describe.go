package printers

import (
	"fmt"
	"io"
	"strings"

	"github.com/keelson/keelson/api"
	corev1 "k8s.io/api/core/v1"
)

// describer writes kubectl-describe style "Label:  value" blocks with indented
// sub-sections.
type describer struct {
	b     strings.Builder
	o     Options
	color bool
}

func (d *describer) line(indent int, label, value string) {
	pad := strings.Repeat("  ", indent)
	switch {
	case label == "":
		fmt.Fprintf(&d.b, "%s%s\n", pad, value)
	case value == "": // a section heading
		fmt.Fprintf(&d.b, "%s%s:\n", pad, label)
	default:
		fmt.Fprintf(&d.b, "%s%-*s %s\n", pad, 18-2*indent, label+":", value)
	}
}

func (d *describer) paint(s string) string {
	if d.color {
		return Colorize(s)
	}
	return s
}

func (d *describer) events(evs []api.Event) {
	if len(evs) == 0 {
		d.line(0, "Events", "<none>")
		return
	}
	d.line(0, "Events", "")
	t := &Table{}
	t.Row("LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE")
	for i := range evs {
		t.Row(EventRow(&evs[i], d.o)...)
	}
	var tb strings.Builder
	_ = t.Write(&tb, d.color) // a strings.Builder never fails
	for _, l := range strings.Split(strings.TrimRight(tb.String(), "\n"), "\n") {
		d.b.WriteString("  " + l + "\n")
	}
}

func (d *describer) flush(w io.Writer) error {
	_, err := io.WriteString(w, d.b.String())
	return err
}

// containers describes the declared containers with their observed states.
func (d *describer) containers(title string, ctrs []corev1.Container, statuses []api.ContainerStatus) {
	if len(ctrs) == 0 && title != "Containers" {
		return
	}
	d.line(0, title, "")
	for i := range ctrs {
		c := &ctrs[i]
		d.line(1, c.Name, "")
		d.line(2, "Image", c.Image)
		if len(c.Command) > 0 {
			d.line(2, "Command", strings.Join(c.Command, " "))
		}
		if len(c.Args) > 0 {
			d.line(2, "Args", strings.Join(c.Args, " "))
		}
		if len(c.Ports) > 0 {
			var ps []string
			for _, p := range c.Ports {
				s := fmt.Sprintf("%d/%s", p.ContainerPort, orDefault(string(p.Protocol), "TCP"))
				if p.Name != "" {
					s += " (" + p.Name + ")"
				}
				ps = append(ps, s)
			}
			d.line(2, "Ports", strings.Join(ps, ", "))
		}
		if len(c.Resources.Requests) > 0 {
			d.line(2, "Requests", resourceList(c.Resources.Requests))
		}
		if len(c.Resources.Limits) > 0 {
			d.line(2, "Limits", resourceList(c.Resources.Limits))
		}
		if st := findStatus(statuses, c.Name); st != nil {
			state := d.paint(string(st.State))
			if st.Reason != "" {
				state += " (" + st.Reason + ")"
			}
			if st.State == api.ContainerTerminated {
				state += fmt.Sprintf(" exit code %d", st.ExitCode)
			}
			d.line(2, "State", state)
			if st.Message != "" {
				d.line(2, "Message", st.Message)
			}
			if !st.StartedAt.IsZero() {
				d.line(2, "Started", Age(d.o.Now, st.StartedAt)+" ago")
			}
			d.line(2, "Ready", fmt.Sprint(st.Ready))
			d.line(2, "Restart Count", fmt.Sprint(st.RestartCount))
		} else {
			d.line(2, "State", d.paint("Waiting")+" (no status reported yet)")
		}
	}
}

func findStatus(sts []api.ContainerStatus, name string) *api.ContainerStatus {
	for i := range sts {
		if sts[i].Name == name {
			return &sts[i]
		}
	}
	return nil
}

func resourceList(rl corev1.ResourceList) string {
	var parts []string
	for _, k := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := rl[k]; ok {
			parts = append(parts, string(k)+"="+q.String())
		}
	}
	return strings.Join(parts, ", ")
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// DescribePod writes `keelson describe pod`: identity, where it runs, its Git source
// (src, the owner's file:line when known), status, containers and events.
func DescribePod(w io.Writer, p *api.PodRecord, src api.Source, evs []api.Event, o Options, color bool) error {
	d := &describer{o: o, color: color}
	d.line(0, "Name", p.Name)
	d.line(0, "Namespace", orDefault(p.Namespace, api.DefaultNamespace))
	d.line(0, "UID", p.UID)
	d.line(0, "Owner", orNone(p.Owner))
	d.line(0, "Source", SourceText(src))
	d.line(0, "Commit", orNone(Short(p.Commit)))
	d.line(0, "Node", orNone(p.Node))
	d.line(0, "Created", Age(o.Now, p.CreatedAt)+" ago")
	d.line(0, "Labels", orNone(Labels(p.Labels)))
	d.line(0, "Desire", string(p.Desire))
	d.line(0, "Status", d.paint(PodStatusText(p)))
	if p.Status.Reason != "" {
		d.line(0, "Reason", p.Status.Reason)
	}
	if p.Status.Message != "" {
		d.line(0, "Message", p.Status.Message)
	}
	d.line(0, "IP", orNone(p.Status.PodIP))
	d.line(0, "Ready", fmt.Sprint(p.Status.Ready))
	d.containers("Init Containers", p.Spec.InitContainers, p.Status.InitContainers)
	d.containers("Containers", p.Spec.Containers, p.Status.Containers)
	d.events(evs)
	return d.flush(w)
}

// DescribeRC writes `keelson describe rc`: the Git side (source, replicas, selector,
// images), sync/health, its pods with where they run, and events.
func DescribeRC(w io.Writer, rc *api.RCView, pods []api.PodRecord, evs []api.Event, o Options, color bool) error {
	d := &describer{o: o, color: color}
	d.line(0, "Name", rc.Name)
	d.line(0, "Namespace", orDefault(rc.Namespace, api.DefaultNamespace))
	d.line(0, "Source", SourceText(rc.Source))
	d.line(0, "Selector", orNone(Labels(rc.Selector)))
	d.line(0, "Images", orNone(strings.Join(rc.Images, ", ")))
	d.line(0, "Replicas", fmt.Sprintf("%d desired, %d current, %d ready", rc.Replicas, rc.Current, rc.Ready))
	d.line(0, "Sync", d.paint(orDefault(string(rc.Status.Sync), "Unknown")))
	d.line(0, "Health", d.paint(orDefault(string(rc.Status.Health), "Unknown")))
	if rc.Status.Message != "" {
		d.line(0, "Message", rc.Status.Message)
	}
	d.podList(pods)
	d.events(evs)
	return d.flush(w)
}

func (d *describer) podList(pods []api.PodRecord) {
	if len(pods) == 0 {
		d.line(0, "Pods", "<none>")
		return
	}
	d.line(0, "Pods", "")
	t := &Table{}
	t.Row("NAME", "READY", "STATUS", "NODE", "IP", "AGE")
	for i := range pods {
		p := &pods[i]
		t.Row(p.Name, PodReadyText(p), PodStatusText(p), orNone(p.Node), orNone(p.Status.PodIP), Age(d.o.Now, p.CreatedAt))
	}
	var tb strings.Builder
	_ = t.Write(&tb, d.color) // a strings.Builder never fails
	for _, l := range strings.Split(strings.TrimRight(tb.String(), "\n"), "\n") {
		d.b.WriteString("  " + l + "\n")
	}
}

// DescribeService writes `keelson describe service`: Git source, allocation, ports,
// and each endpoint with the pod and node behind it.
func DescribeService(w io.Writer, s *api.ServiceView, evs []api.Event, o Options, color bool) error {
	d := &describer{o: o, color: color}
	d.line(0, "Name", s.Name)
	d.line(0, "Namespace", orDefault(s.Namespace, api.DefaultNamespace))
	d.line(0, "Source", SourceText(s.Source))
	d.line(0, "Type", orDefault(string(s.Spec.Type), string(corev1.ServiceTypeClusterIP)))
	d.line(0, "Selector", orNone(Labels(s.Spec.Selector)))
	d.line(0, "Cluster IP", orNone(s.Spec.ClusterIP))
	if s.Spec.SessionAffinity != "" {
		d.line(0, "Affinity", string(s.Spec.SessionAffinity))
	}
	d.line(0, "Ports", "")
	for _, p := range s.Spec.Ports {
		v := fmt.Sprintf("%d/%s → %s", p.Port, orDefault(string(p.Protocol), "TCP"), p.TargetPort.String())
		if p.NodePort != 0 {
			v += fmt.Sprintf(", nodePort %d", p.NodePort)
		}
		d.line(1, orDefault(p.Name, "<unnamed>"), v)
	}
	ready, total := EndpointPods(s.Endpoints)
	if total == 0 {
		d.line(0, "Endpoints", "<none>")
	} else {
		d.line(0, "Endpoints", fmt.Sprintf("%d/%d pods ready", ready, total))
		t := &Table{}
		t.Row("PORT", "ADDRESS", "POD", "NODE", "READY")
		for _, e := range s.Endpoints {
			t.Row(orDefault(e.ServicePort, "<unnamed>"), fmt.Sprintf("%s:%d/%s", e.IP, e.Port, orDefault(string(e.Protocol), "TCP")),
				e.PodName, orNone(e.Node), fmt.Sprint(e.Ready))
		}
		var tb strings.Builder
		_ = t.Write(&tb, false) // a strings.Builder never fails
		for _, l := range strings.Split(strings.TrimRight(tb.String(), "\n"), "\n") {
			d.b.WriteString("  " + l + "\n")
		}
	}
	d.events(evs)
	return d.flush(w)
}

// DescribeNode writes `keelson describe node`: status, addresses, capacity against
// what its pods request, the pods it runs, and events.
func DescribeNode(w io.Writer, n *api.Node, pods []api.PodRecord, evs []api.Event, o Options, color bool) error {
	d := &describer{o: o, color: color}
	d.line(0, "Name", n.Name)
	d.line(0, "Status", d.paint(NodeStatusText(n)))
	if n.StatusReason != "" {
		d.line(0, "Reason", n.StatusReason)
	}
	d.line(0, "Since", Age(o.Now, n.StatusChangedAt)+" ago")
	d.line(0, "Registered", Age(o.Now, n.RegisteredAt)+" ago")
	d.line(0, "Address", orNone(n.Address))
	d.line(0, "Agent", orNone(n.AgentURL))
	d.line(0, "Pod CIDR", orNone(n.PodCIDR))
	d.line(0, "Labels", orNone(Labels(n.Labels)))
	u := UsageByNode(pods)[n.Name]
	d.line(0, "Capacity", fmt.Sprintf("cpu %dm, memory %s", n.Capacity.MilliCPU, Bytes(n.Capacity.MemoryBytes)))
	d.line(0, "Allocatable", fmt.Sprintf("cpu %dm, memory %s", n.Allocatable.MilliCPU, Bytes(n.Allocatable.MemoryBytes)))
	d.line(0, "Requested", fmt.Sprintf("cpu %dm (%s), memory %s (%s)",
		u.Requested.MilliCPU, percent(u.Requested.MilliCPU, n.Allocatable.MilliCPU),
		Bytes(u.Requested.MemoryBytes), percent(u.Requested.MemoryBytes, n.Allocatable.MemoryBytes)))
	d.podList(pods)
	d.events(evs)
	return d.flush(w)
}

func percent(a, b int64) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%d%%", a*100/b)
}
