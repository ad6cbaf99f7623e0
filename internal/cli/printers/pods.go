package printers

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/keelson/keelson/api"
	corev1 "k8s.io/api/core/v1"
)

// PodStatusText is the STATUS column of a pod, as kubectl shows it: the most telling
// of Terminating, a leader-set reason, a container's waiting/terminated reason,
// Pending, or the phase.
func PodStatusText(p *api.PodRecord) string {
	if p.Desire == api.DesireStop {
		return "Terminating"
	}
	if p.Status.Reason == api.ReasonNodeLost || p.Status.Reason == api.ReasonUnschedulable || strings.HasPrefix(p.Status.Reason, "Init") {
		return p.Status.Reason // Init:0/2, Init:CrashLoopBackOff, InitContainerFailed
	}
	for _, c := range p.Status.Containers {
		if c.State == api.ContainerWaiting && c.Reason != "" {
			return c.Reason
		}
		if c.State == api.ContainerTerminated && c.Reason != "" && p.Status.Phase != corev1.PodSucceeded {
			return c.Reason
		}
	}
	if p.Node == "" || p.Status.Phase == "" {
		return string(corev1.PodPending)
	}
	return string(p.Status.Phase)
}

// PodReadyText is the READY column: ready containers over declared containers.
func PodReadyText(p *api.PodRecord) string {
	ready := 0
	for _, c := range p.Status.Containers {
		if c.Ready {
			ready++
		}
	}
	return fmt.Sprintf("%d/%d", ready, len(p.Spec.Containers))
}

// PodRestarts sums the restart counts of a pod's containers.
func PodRestarts(p *api.PodRecord) int32 {
	var n int32
	for _, c := range p.Status.Containers {
		n += c.RestartCount
	}
	return n
}

// Pods renders `keelson get pods`; wide adds where the pod runs and which commit made it.
func Pods(pods []api.PodRecord, o Options) *Table {
	t := &Table{}
	hdr := []string{"NAME", "READY", "STATUS", "RESTARTS", "AGE"}
	if o.Wide {
		hdr = append(hdr, "IP", "NODE", "OWNER", "COMMIT")
	}
	t.Row(o.withNamespace("NAMESPACE", hdr)...)
	for i := range pods {
		t.Row(o.withNamespace(pods[i].Namespace, PodRow(&pods[i], o))...)
	}
	return t
}

// PodRow is one pod's row without the namespace column.
func PodRow(p *api.PodRecord, o Options) []string {
	row := []string{p.Name, PodReadyText(p), PodStatusText(p), strconv.Itoa(int(PodRestarts(p))), Age(o.Now, p.CreatedAt)}
	if o.Wide {
		row = append(row, orNone(p.Status.PodIP), orNone(p.Node), orNone(p.Owner), orNone(Short(p.Commit)))
	}
	return row
}
