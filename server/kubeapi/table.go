package kubeapi

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/cli/printers"
)

// This file is the server-side printing kubectl asks for (Accept: ...;as=Table): the
// same columns, in the same order and with the same priorities (1 = only with
// -o wide), as Kubernetes' own printers, so `kubectl get` looks as on any cluster.
// The cell values reuse the CLI's display rules (internal/printers), so
// `keelson get` and `kubectl get` say the same STATUS and READY.

type column = metav1.TableColumnDefinition

func col(name, typ string, priority int32, desc string) column {
	c := column{Name: name, Type: typ, Priority: priority, Description: desc}
	if name == "Name" {
		c.Format = "name"
	}
	return c
}

var podColumns = []column{
	col("Name", "string", 0, "Name of the pod"),
	col("Ready", "string", 0, "The aggregate readiness state of this pod for accepting traffic."),
	col("Status", "string", 0, "The aggregate status of the containers in this pod."),
	col("Restarts", "string", 0, "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
	col("Age", "string", 0, "Time since the pod was created."),
	col("IP", "string", 1, "The IP address of the pod."),
	col("Node", "string", 1, "The node the pod is assigned to."),
	col("Nominated Node", "string", 1, "Nominated node (Keelson never preempts)."),
	col("Readiness Gates", "string", 1, "Readiness gates (not supported by Keelson)."),
}

var serviceColumns = []column{
	col("Name", "string", 0, "Name of the service"),
	col("Type", "string", 0, "The type of the service."),
	col("Cluster-IP", "string", 0, "The cluster IP of the service."),
	col("External-IP", "string", 0, "External IPs (none: NodePorts listen on the nodes' addresses)."),
	col("Port(s)", "string", 0, "The ports of the service, with NodePorts."),
	col("Age", "string", 0, "Time since the applied commit declared it."),
	col("Selector", "string", 1, "The pod selector."),
}

var rcColumns = []column{
	col("Name", "string", 0, "Name of the replication controller"),
	col("Desired", "integer", 0, "Desired replicas."),
	col("Current", "integer", 0, "Pods that are wanted running."),
	col("Ready", "integer", 0, "Ready pods."),
	col("Age", "string", 0, "Time since the applied commit declared it."),
	col("Containers", "string", 1, "Container names of the template."),
	col("Images", "string", 1, "Images of the template."),
	col("Selector", "string", 1, "The pod selector."),
}

var endpointsColumns = []column{
	col("Name", "string", 0, "Name of the service"),
	col("Endpoints", "string", 0, "Ready endpoints."),
	col("Age", "string", 0, "Time since the applied commit declared the service."),
}

var nodeColumns = []column{
	col("Name", "string", 0, "Name of the node"),
	col("Status", "string", 0, "The status of the node."),
	col("Roles", "string", 0, "The roles of the node."),
	col("Age", "string", 0, "Time since the node registered."),
	col("Version", "string", 0, "The agent's Kubernetes API release."),
	col("Internal-IP", "string", 1, "The node's address."),
	col("External-IP", "string", 1, "External address (none)."),
	col("OS-Image", "string", 1, "OS image (not reported)."),
	col("Kernel-Version", "string", 1, "Kernel version (not reported)."),
	col("Container-Runtime", "string", 1, "Container runtime."),
}

var namespaceColumns = []column{
	col("Name", "string", 0, "Name of the namespace"),
	col("Status", "string", 0, "The status of the namespace."),
	col("Age", "string", 0, "Time since the applied commit."),
}

var eventColumns = []column{
	col("Last Seen", "string", 0, "Time since the event."),
	col("Type", "string", 0, "Normal or Warning."),
	col("Reason", "string", 0, "Why the event happened."),
	col("Object", "string", 0, "The object the event is about."),
	col("Subobject", "string", 1, "The part of the object."),
	col("Source", "string", 1, "Who reported it."),
	col("Message", "string", 0, "What happened."),
	col("First Seen", "string", 1, "Time since the first occurrence."),
	col("Count", "string", 1, "Occurrences."),
	col("Name", "string", 1, "Name of the event."),
}

// age is kubectl's own age format (5m30s, 3h, 2d).
func age(now, t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t))
}

func none(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func podRow(p *api.PodRecord, now time.Time) []any {
	return []any{p.Name, printers.PodReadyText(p), printers.PodStatusText(p), int64(printers.PodRestarts(p)),
		age(now, p.CreatedAt), none(p.Status.PodIP), none(p.Node), "<none>", "<none>"}
}

func serviceRow(s *api.ServiceRecord, created, now time.Time) []any {
	typ := s.Spec.Type
	if typ == "" {
		typ = corev1.ServiceTypeClusterIP
	}
	sel := "<none>"
	if len(s.Spec.Selector) > 0 {
		sel = labels.FormatLabels(s.Spec.Selector)
	}
	return []any{s.Name, string(typ), none(s.Spec.ClusterIP), "<none>", printers.ServicePorts(&s.Spec), age(now, created), sel}
}

func rcRow(rc *corev1.ReplicationController, v *api.RCView, created, now time.Time) []any {
	var names []string
	if rc.Spec.Template != nil {
		for _, c := range rc.Spec.Template.Spec.Containers {
			names = append(names, c.Name)
		}
	}
	return []any{rc.Name, int64(v.Replicas), int64(v.Current), int64(v.Ready), age(now, created),
		strings.Join(names, ","), strings.Join(v.Images, ","), labels.FormatLabels(v.Selector)}
}

// endpointsRow shows up to three ready ip:port, as kubectl's formatEndpoints.
func endpointsRow(e *corev1.Endpoints, created, now time.Time) []any {
	var list []string
	total := 0
	for _, ss := range e.Subsets {
		for _, a := range ss.Addresses {
			for _, p := range ss.Ports {
				total++
				if len(list) < 3 {
					list = append(list, fmt.Sprintf("%s:%d", a.IP, p.Port))
				}
			}
		}
	}
	s := strings.Join(list, ",")
	if total > len(list) {
		s += fmt.Sprintf(" + %d more...", total-len(list))
	}
	return []any{e.Name, none(s), age(now, created)}
}

func nodeRow(n *api.Node, now time.Time) []any {
	return []any{n.Name, printers.NodeStatusText(n), "<none>", age(now, n.RegisteredAt), kubeVersion,
		none(n.Address), "<none>", "<unknown>", "<unknown>", "containerd"}
}

func namespaceRow(name string, created, now time.Time) []any {
	return []any{name, string(corev1.NamespaceActive), age(now, created)}
}

func eventRow(e *corev1.Event, now time.Time) []any {
	obj := strings.ToLower(e.InvolvedObject.Kind) + "/" + e.InvolvedObject.Name
	t := e.LastTimestamp.Time
	return []any{age(now, t), e.Type, e.Reason, obj, "", e.Source.Component, e.Message, age(now, t), int64(e.Count), e.Name}
}

// wantsTable reports whether the client asked for a meta.k8s.io Table (kubectl get
// does; -o json/yaml and client-go do not).
func wantsTable(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		if strings.Contains(part, "as=Table") && strings.Contains(part, "g=meta.k8s.io") {
			return true
		}
	}
	return false
}
