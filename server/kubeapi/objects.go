package kubeapi

import (
	"crypto/sha1"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	kresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/keelson/keelson/api"
)

// This file turns store records into k8s.io/api objects. Records that have no UID or
// creation time of their own (Services, RCs, Endpoints, Namespaces come from Git) get
// a UID derived from their key, stable across servers and restarts, and the time of
// the applied commit.

var typeV1 = func(kind string) metav1.TypeMeta { return metav1.TypeMeta{Kind: kind, APIVersion: "v1"} }

// derivedUID is a stable UUID-shaped id for an object key ("Kind/namespace/name").
func derivedUID(key string) types.UID {
	h := sha1.Sum([]byte("keelson/" + key))
	h[6] = (h[6] & 0x0f) | 0x50 // version 5, RFC 4122 variant: it looks like what it is
	h[8] = (h[8] & 0x3f) | 0x80
	return types.UID(fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16]))
}

func stamp(t time.Time) metav1.Time {
	if t.IsZero() {
		return metav1.Time{}
	}
	return metav1.NewTime(t)
}

func stampPtr(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	m := metav1.NewTime(t)
	return &m
}

// podPhase is the phase kubectl and client-go see: Pending until an agent reports.
func podPhase(p *api.PodRecord) corev1.PodPhase {
	if p.Node == "" || p.Status.Phase == "" {
		return corev1.PodPending
	}
	return p.Status.Phase
}

func condition(t corev1.PodConditionType, ok bool, at time.Time, reason string) corev1.PodCondition {
	c := corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, LastTransitionTime: stamp(at)}
	if ok {
		c.Status = corev1.ConditionTrue
	} else {
		c.Reason = reason
	}
	return c
}

// podObject builds a Pod; hostIP is its node's address.
func podObject(p *api.PodRecord, hostIP, rv string) *corev1.Pod {
	pod := &corev1.Pod{
		TypeMeta: typeV1("Pod"),
		ObjectMeta: metav1.ObjectMeta{
			Name: p.Name, Namespace: p.Namespace, UID: types.UID(p.UID), ResourceVersion: rv,
			CreationTimestamp: stamp(p.CreatedAt), Labels: p.Labels, Annotations: p.Annotations,
		},
		Spec: *p.Spec.DeepCopy(),
	}
	pod.Spec.NodeName = p.Node
	if kind, ns, name, ok := splitKey(p.Owner); ok && kind == "ReplicationController" {
		yes := true
		pod.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: "v1", Kind: kind, Name: name, UID: derivedUID(api.Key(kind, ns, name)),
			Controller: &yes, BlockOwnerDeletion: &yes,
		}}
	}
	st := &pod.Status
	st.Phase = podPhase(p)
	st.Reason, st.Message = p.Status.Reason, p.Status.Message
	st.HostIP = hostIP
	if hostIP != "" {
		st.HostIPs = []corev1.HostIP{{IP: hostIP}}
	}
	st.PodIP = p.Status.PodIP
	if p.Status.PodIP != "" {
		st.PodIPs = []corev1.PodIP{{IP: p.Status.PodIP}}
	}
	st.StartTime = stampPtr(p.Status.StartedAt)
	st.QOSClass = corev1.PodQOSBestEffort
	allReady := len(p.Spec.Containers) > 0
	for _, c := range p.Spec.Containers {
		cs := containerStatus(c, findContainer(p.Status.Containers, c.Name))
		allReady = allReady && cs.Ready
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	started := p.Status.StartedAt
	if started.IsZero() {
		started = p.CreatedAt
	}
	scheduled := p.Node != ""
	st.Conditions = []corev1.PodCondition{
		condition(corev1.PodScheduled, scheduled, p.CreatedAt, "Unschedulable"),
		condition(corev1.PodInitialized, scheduled, started, "PodNotScheduled"),
		condition(corev1.ContainersReady, allReady, started, "ContainersNotReady"),
		condition(corev1.PodReady, p.Status.Ready, started, "ContainersNotReady"),
	}
	return pod
}

func findContainer(sts []api.ContainerStatus, name string) *api.ContainerStatus {
	for i := range sts {
		if sts[i].Name == name {
			return &sts[i]
		}
	}
	return nil
}

// containerStatus maps the agent's report; a container not reported yet is Waiting
// in ContainerCreating, as kubelet says. The store keeps no history of earlier runs,
// so lastState is the previous termination only when the agent reported one
// (restartCount > 0 and a finish time while the container runs again).
func containerStatus(spec corev1.Container, c *api.ContainerStatus) corev1.ContainerStatus {
	out := corev1.ContainerStatus{Name: spec.Name, Image: spec.Image}
	if c == nil {
		out.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		return out
	}
	out.ImageID, out.ContainerID = c.Image, c.ContainerID
	out.RestartCount, out.Ready = c.RestartCount, c.Ready
	started := c.State == api.ContainerRunning
	out.Started = &started
	switch c.State {
	case api.ContainerRunning:
		out.State.Running = &corev1.ContainerStateRunning{StartedAt: stamp(c.StartedAt)}
		if c.RestartCount > 0 && !c.FinishedAt.IsZero() {
			out.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{
				ExitCode: c.ExitCode, Reason: c.Reason, FinishedAt: stamp(c.FinishedAt),
			}
		}
	case api.ContainerTerminated:
		out.State.Terminated = &corev1.ContainerStateTerminated{
			ExitCode: c.ExitCode, Reason: c.Reason, Message: c.Message,
			StartedAt: stamp(c.StartedAt), FinishedAt: stamp(c.FinishedAt), ContainerID: c.ContainerID,
		}
	default:
		out.State.Waiting = &corev1.ContainerStateWaiting{Reason: c.Reason, Message: c.Message}
		if c.RestartCount > 0 && !c.FinishedAt.IsZero() {
			out.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{
				ExitCode: c.ExitCode, FinishedAt: stamp(c.FinishedAt), StartedAt: stamp(c.StartedAt),
			}
		}
	}
	return out
}

// splitKey parses "Kind/namespace/name" (or "Kind/name").
func splitKey(key string) (kind, namespace, name string, ok bool) {
	parts := strings.Split(key, "/")
	switch len(parts) {
	case 3:
		return parts[0], parts[1], parts[2], true
	case 2:
		return parts[0], "", parts[1], true
	}
	return "", "", "", false
}

// serviceObject joins the Service from Git (metadata) with its allocated record.
func serviceObject(rec *api.ServiceRecord, desired *corev1.Service, created time.Time, rv string) *corev1.Service {
	svc := &corev1.Service{TypeMeta: typeV1("Service"), Spec: *rec.Spec.DeepCopy()}
	if desired != nil {
		svc.Labels, svc.Annotations = desired.Labels, desired.Annotations
	}
	svc.Name, svc.Namespace, svc.ResourceVersion = rec.Name, rec.Namespace, rv
	svc.UID = derivedUID(rec.Key())
	svc.CreationTimestamp = stamp(created)
	if svc.Spec.ClusterIP != "" && len(svc.Spec.ClusterIPs) == 0 {
		svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
	}
	return svc
}

// rcObject is the RC from Git with the observed counts of its view.
func rcObject(rc *corev1.ReplicationController, v *api.RCView, created time.Time, rv string) *corev1.ReplicationController {
	out := rc.DeepCopy()
	out.TypeMeta = typeV1("ReplicationController")
	out.ResourceVersion = rv
	out.UID = derivedUID(api.Key("ReplicationController", rc.Namespace, rc.Name))
	out.CreationTimestamp = stamp(created)
	out.Generation = 1
	out.Status = corev1.ReplicationControllerStatus{
		Replicas: v.Current, ReadyReplicas: v.Ready, AvailableReplicas: v.Ready,
		FullyLabeledReplicas: v.Current, ObservedGeneration: 1,
	}
	return out
}

// endpointsObject groups the per-port backends into subsets: pods serving the same
// ports share one subset, as the endpoints controller packs them.
func endpointsObject(e *api.Endpoints, created time.Time, rv string) *corev1.Endpoints {
	out := &corev1.Endpoints{TypeMeta: typeV1("Endpoints")}
	out.Name, out.Namespace, out.ResourceVersion = e.Name, e.Namespace, rv
	out.UID = derivedUID(api.Key("Endpoints", e.Namespace, e.Name))
	out.CreationTimestamp = stamp(created)
	type podPorts struct {
		addr  corev1.EndpointAddress
		ready bool
		ports []corev1.EndpointPort
	}
	var order []string
	pods := map[string]*podPorts{}
	for _, ep := range e.Ports {
		pp := pods[ep.PodUID]
		if pp == nil {
			node := ep.Node
			pp = &podPorts{addr: corev1.EndpointAddress{IP: ep.IP, NodeName: &node, TargetRef: &corev1.ObjectReference{
				Kind: "Pod", Namespace: e.Namespace, Name: ep.PodName, UID: types.UID(ep.PodUID),
			}}, ready: ep.Ready}
			pods[ep.PodUID] = pp
			order = append(order, ep.PodUID)
		}
		pp.ports = append(pp.ports, corev1.EndpointPort{Name: ep.ServicePort, Port: ep.Port, Protocol: ep.Protocol})
	}
	subsets := map[string]int{}
	for _, uid := range order {
		pp := pods[uid]
		sig := fmt.Sprint(pp.ports)
		i, ok := subsets[sig]
		if !ok {
			i = len(out.Subsets)
			subsets[sig] = i
			out.Subsets = append(out.Subsets, corev1.EndpointSubset{Ports: pp.ports})
		}
		if pp.ready {
			out.Subsets[i].Addresses = append(out.Subsets[i].Addresses, pp.addr)
		} else {
			out.Subsets[i].NotReadyAddresses = append(out.Subsets[i].NotReadyAddresses, pp.addr)
		}
	}
	return out
}

// nodeObject maps a node record; a node that missed heartbeats is Ready=Unknown, as
// the node lifecycle controller says.
func nodeObject(n *api.Node, rv string) *corev1.Node {
	out := &corev1.Node{TypeMeta: typeV1("Node")}
	out.Name, out.ResourceVersion, out.Labels = n.Name, rv, n.Labels
	out.UID = derivedUID(api.Key("Node", "", n.Name))
	out.CreationTimestamp = stamp(n.RegisteredAt)
	out.Spec.PodCIDR, out.Spec.Unschedulable = n.PodCIDR, n.Unschedulable
	if n.PodCIDR != "" {
		out.Spec.PodCIDRs = []string{n.PodCIDR}
	}
	if n.Unschedulable {
		out.Spec.Taints = []corev1.Taint{{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}}
	}
	out.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: n.Address}, {Type: corev1.NodeHostName, Address: n.Name}}
	out.Status.Capacity = resourceList(n.Capacity)
	out.Status.Allocatable = resourceList(n.Allocatable)
	ready := corev1.NodeCondition{Type: corev1.NodeReady, LastTransitionTime: stamp(n.StatusChangedAt), LastHeartbeatTime: stamp(n.StatusChangedAt)}
	switch n.Status {
	case api.NodeReady:
		ready.Status, ready.Reason, ready.Message = corev1.ConditionTrue, "KeelsonAgentReady", "agent is posting heartbeats"
	default:
		ready.Status, ready.Reason = corev1.ConditionUnknown, "NodeStatusUnknown"
		ready.Message = "agent stopped posting heartbeats: " + string(n.Status)
		if n.StatusReason != "" {
			ready.Message += ": " + n.StatusReason
		}
	}
	out.Status.Conditions = []corev1.NodeCondition{ready}
	out.Status.NodeInfo = corev1.NodeSystemInfo{KubeletVersion: kubeVersion, ContainerRuntimeVersion: "containerd", OperatingSystem: "linux"}
	return out
}

func resourceList(r api.Resources) corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    *kresource.NewMilliQuantity(r.MilliCPU, kresource.DecimalSI),
		corev1.ResourceMemory: *kresource.NewQuantity(r.MemoryBytes, kresource.BinarySI),
	}
}

func namespaceObject(name string, created time.Time, rv string) *corev1.Namespace {
	out := &corev1.Namespace{TypeMeta: typeV1("Namespace")}
	out.Name, out.ResourceVersion = name, rv
	out.UID = derivedUID(api.Key("Namespace", "", name))
	out.CreationTimestamp = stamp(created)
	out.Labels = map[string]string{"kubernetes.io/metadata.name": name}
	out.Status.Phase = corev1.NamespaceActive
	return out
}

// eventObject maps a store event to a core/v1 Event about its object; involvedUID is
// the UID of the object it names now (kubectl describe selects events by it).
func eventObject(e *api.Event, involvedUID types.UID, rv string) *corev1.Event {
	kind, ns, name, _ := splitKey(e.Object)
	evNS := ns
	if evNS == "" {
		evNS = metav1.NamespaceDefault // where Kubernetes puts events of cluster-scoped objects
	}
	out := &corev1.Event{TypeMeta: typeV1("Event")}
	out.Name, out.Namespace, out.ResourceVersion = eventName(e), evNS, rv
	out.UID = derivedUID(fmt.Sprintf("Event/%d", e.Seq))
	out.CreationTimestamp = stamp(e.Time)
	out.InvolvedObject = corev1.ObjectReference{Kind: kind, Namespace: ns, Name: name, UID: involvedUID, APIVersion: "v1"}
	out.Reason, out.Message, out.Type = e.Reason, e.Message, string(e.Type)
	out.FirstTimestamp, out.LastTimestamp = stamp(e.Time), stamp(e.Time)
	out.Count = 1
	out.Source = corev1.EventSource{Component: "keelson"}
	out.ReportingController = "keelson"
	return out
}

// eventName is like Kubernetes': the object's name and a unique suffix (the sequence).
func eventName(e *api.Event) string {
	_, _, name, _ := splitKey(e.Object)
	return fmt.Sprintf("%s.%x", name, e.Seq)
}
