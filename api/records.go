package api

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// This file holds the cluster records: what the replicated store keeps besides the
// desired manifests. They are plain data (JSON-encodable, no behaviour) so that the
// store, the reconciler, the agents and the CLI share one vocabulary without importing
// each other.

// Resources is a cpu/memory amount in the units the scheduler compares.
type Resources struct {
	MilliCPU    int64 `json:"milliCPU"`
	MemoryBytes int64 `json:"memoryBytes"`
}

// Add returns r + o.
func (r Resources) Add(o Resources) Resources {
	return Resources{MilliCPU: AddSaturating(r.MilliCPU, o.MilliCPU), MemoryBytes: AddSaturating(r.MemoryBytes, o.MemoryBytes)}
}

// Sub returns r - o.
func (r Resources) Sub(o Resources) Resources {
	return Resources{MilliCPU: r.MilliCPU - o.MilliCPU, MemoryBytes: r.MemoryBytes - o.MemoryBytes}
}

// Fits reports whether r fits inside o.
func (r Resources) Fits(o Resources) bool {
	return r.MilliCPU <= o.MilliCPU && r.MemoryBytes <= o.MemoryBytes
}

// NodeStatus is the lifecycle state of a node as the leader sees it.
type NodeStatus string

const (
	NodeReady    NodeStatus = "Ready"
	NodeNotReady NodeStatus = "NotReady" // missed heartbeats for the grace period
	NodeDown     NodeStatus = "Down"     // missed heartbeats past the eviction timeout: pods lost
)

// Node is a registered agent.
type Node struct {
	Name string `json:"name"`
	// Address is the node's IP on the cluster network: NodePorts listen there and other
	// nodes route this node's PodCIDR to it (host-gw).
	Address string `json:"address"`
	// AgentURL is where the agent serves logs (http://host:port).
	AgentURL    string            `json:"agentURL,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Capacity    Resources         `json:"capacity"`
	Allocatable Resources         `json:"allocatable"`
	// KeyHash is the SHA-256 of the public key that first registered this name: the
	// name cannot be taken over by another certificate (NodeRestriction).
	KeyHash string `json:"keyHash,omitempty"`
	// PodCIDR is allocated by the leader (reconciler) once, at first registration.
	PodCIDR       string     `json:"podCIDR,omitempty"`
	Taints        []Taint    `json:"taints,omitempty"` // from the agent's --register-with-taints
	Status        NodeStatus `json:"status"`
	Unschedulable bool       `json:"unschedulable,omitempty"`
	StatusReason  string     `json:"statusReason,omitempty"`
	RegisteredAt  time.Time  `json:"registeredAt"`
	// StatusChangedAt is when Status last changed (the leader's clock).
	StatusChangedAt time.Time `json:"statusChangedAt"`
}

// PodDesire is what the control plane wants done with a pod record.
type PodDesire string

const (
	DesireRun  PodDesire = "Run"
	DesireStop PodDesire = "Stop" // the agent stops it gracefully; its Gone report removes the record
)

// PodRecord is one pod instance. A pod's identity is its UID: a replacement pod gets a
// new UID even when it keeps the name of a bare Pod, so an agent that comes back after
// a partition can be fenced (it stops every UID it is no longer assigned).
type PodRecord struct {
	UID       string `json:"uid"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Owner is the key of the object that wants this pod: "ReplicationController/ns/name"
	// or "Pod/ns/name" for a bare pod.
	Owner       string            `json:"owner"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Spec        corev1.PodSpec    `json:"spec"`
	// SpecHash identifies the template the pod was made from; a different hash in Git
	// means the pod must be rolled (replaced).
	SpecHash string `json:"specHash"`
	// Commit is the Git commit whose desired state created the pod.
	Commit    string    `json:"commit,omitempty"`
	Node      string    `json:"node,omitempty"` // "" while Pending (unscheduled)
	Desire    PodDesire `json:"desire"`
	CreatedAt time.Time `json:"createdAt"`
	// Status is written only by the agent's status reports (and by the leader when the
	// node is lost); the reconciler never overwrites it.
	Status PodStatus `json:"status"`
}

// Key returns "Pod/namespace/name".
func (p *PodRecord) Key() string { return Key("Pod", p.Namespace, p.Name) }

// Taint is a node taint (key=value:Effect); pods must tolerate it (issue 15).
type Taint = corev1.Taint

// PodPhase mirrors the Kubernetes pod phase.
type PodPhase = corev1.PodPhase

// PodStatus is what the agent observed.
type PodStatus struct {
	Phase      PodPhase          `json:"phase"`
	Ready      bool              `json:"ready"`
	PodIP      string            `json:"podIP,omitempty"`
	Reason     string            `json:"reason,omitempty"` // e.g. Unschedulable, NodeLost, CrashLoopBackOff
	Message    string            `json:"message,omitempty"`
	StartedAt  time.Time         `json:"startedAt,omitempty"`
	Containers []ContainerStatus `json:"containers,omitempty"`
	// InitContainers are the init containers, in spec order (issue 15).
	InitContainers []ContainerStatus `json:"initContainers,omitempty"`
	// ObservedAt is the agent's time of the report.
	ObservedAt time.Time `json:"observedAt,omitempty"`
}

// ContainerState is the coarse state of a container.
type ContainerState string

const (
	ContainerWaiting    ContainerState = "Waiting"
	ContainerRunning    ContainerState = "Running"
	ContainerTerminated ContainerState = "Terminated"
)

// ContainerStatus is one container of a pod as the agent sees it.
type ContainerStatus struct {
	Name         string         `json:"name"`
	Image        string         `json:"image"`
	ContainerID  string         `json:"containerID,omitempty"`
	State        ContainerState `json:"state"`
	Reason       string         `json:"reason,omitempty"` // waiting/terminated reason
	Message      string         `json:"message,omitempty"`
	StartedAt    time.Time      `json:"startedAt,omitempty"`
	FinishedAt   time.Time      `json:"finishedAt,omitempty"`
	ExitCode     int32          `json:"exitCode,omitempty"`
	RestartCount int32          `json:"restartCount"`
	Ready        bool           `json:"ready"`
}

// PodStatusReport is one entry of an agent's status batch. The store applies it only
// when the pod with that UID is still assigned to that node (fencing).
type PodStatusReport struct {
	UID    string    `json:"uid"`
	Node   string    `json:"node"`
	Status PodStatus `json:"status"`
	// Gone says the agent has stopped the pod and released its resources; for a pod
	// whose Desire is Stop the store then deletes the record (package apply).
	Gone bool `json:"gone,omitempty"`
}

// ServiceRecord is the allocated side of a Service: the spec comes from Git, the IPs
// and ports from the leader.
type ServiceRecord struct {
	Namespace string             `json:"namespace"`
	Name      string             `json:"name"`
	Spec      corev1.ServiceSpec `json:"spec"` // with ClusterIP and nodePorts filled in
}

// Key returns "Service/namespace/name".
func (s *ServiceRecord) Key() string { return Key("Service", s.Namespace, s.Name) }

// Endpoints are the ready (and not ready) backends of one Service.
type Endpoints struct {
	Namespace string     `json:"namespace"`
	Name      string     `json:"name"` // the Service's name
	Ports     []Endpoint `json:"endpoints"`
}

// Key returns "Service/namespace/name": endpoints are keyed like their Service.
func (e *Endpoints) Key() string { return Key("Service", e.Namespace, e.Name) }

// Endpoint is one pod behind one Service port, with the target port resolved.
type Endpoint struct {
	ServicePort string          `json:"servicePort"` // the Service port's name ("" when unnamed)
	Protocol    corev1.Protocol `json:"protocol"`
	PodUID      string          `json:"podUID"`
	PodName     string          `json:"podName"`
	Node        string          `json:"node"`
	IP          string          `json:"ip"`
	Port        int32           `json:"port"`
	Ready       bool            `json:"ready"`

	// Hostname is the pod's spec.hostname when its spec.subdomain names the Service
	// (Kubernetes' endpoint hostname): DNS serves hostname.svc.ns.svc.<domain>.
	Hostname string `json:"hostname,omitempty"`
}

// EventType is Normal or Warning, as in Kubernetes.
type EventType string

const (
	EventNormal  EventType = "Normal"
	EventWarning EventType = "Warning"
)

// Event records one decision or observation. The store keeps a bounded number.
type Event struct {
	Seq     uint64    `json:"seq"` // assigned by the store, increasing
	Time    time.Time `json:"time"`
	Type    EventType `json:"type"`
	Object  string    `json:"object"` // a Key, e.g. "Pod/default/web-x7k2p" or "Node/n1"
	Reason  string    `json:"reason"` // Scheduled, FailedScheduling, Evicted, Rolled, Pruned, ...
	Message string    `json:"message"`
}

// SyncStatus says whether the cluster matches Git, as Argo CD does.
type SyncStatus string

const (
	Synced      SyncStatus = "Synced"
	OutOfSync   SyncStatus = "OutOfSync"
	Progressing SyncStatus = "Progressing"
)

// HealthStatus is the Argo CD-style health of an object or of the whole cluster.
type HealthStatus string

const (
	Healthy           HealthStatus = "Healthy"
	HealthProgressing HealthStatus = "Progressing"
	Degraded          HealthStatus = "Degraded"
	Missing           HealthStatus = "Missing"
)

// ObjectStatus is the sync and health of one desired object.
type ObjectStatus struct {
	Key     string       `json:"key"`
	Sync    SyncStatus   `json:"sync"`
	Health  HealthStatus `json:"health"`
	Message string       `json:"message,omitempty"`
	// Ready/Desired counts for controllers (and 0/1 or 1/1 for bare pods).
	Ready   int32 `json:"ready"`
	Desired int32 `json:"desired"`
}

// Key formats an object key "Kind/namespace/name" (Node keys have no namespace: "Node/n1").
func Key(kind, namespace, name string) string {
	if namespace == "" {
		return kind + "/" + name
	}
	return kind + "/" + namespace + "/" + name
}
