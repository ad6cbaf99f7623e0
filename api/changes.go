package api

import "time"

// Changes is one batch of decisions by the reconciler. The leader commits a batch as a
// single raft entry, so thousands of pod placements cost one fsync, and a batch is
// applied whole or not at all. Applying a batch must be idempotent: a leader that lost
// leadership mid-apply cannot know whether it committed (ErrLeadershipLost is
// indeterminate) and its successor recomputes from the committed state.
type Changes struct {
	// UpsertPods creates pods or changes their placement/desire. The store keeps the
	// existing Status of a pod with the same UID (status belongs to the agent).
	UpsertPods []PodRecord `json:"upsertPods,omitempty"`
	// DeletePods removes pod records by UID.
	DeletePods []string `json:"deletePods,omitempty"`
	// SetPodStatus overwrites status (used by the leader for NodeLost/Unschedulable).
	SetPodStatus []PodStatusReport `json:"setPodStatus,omitempty"`

	UpsertServices []ServiceRecord `json:"upsertServices,omitempty"`
	DeleteServices []string        `json:"deleteServices,omitempty"` // keys "Service/ns/name"

	SetEndpoints    []Endpoints `json:"setEndpoints,omitempty"`
	DeleteEndpoints []string    `json:"deleteEndpoints,omitempty"` // keys "Service/ns/name"

	Nodes []NodePatch `json:"nodes,omitempty"`
	// DeleteNodes removes decommissioned node records (freeing their pod CIDR and
	// their name's key binding).
	DeleteNodes []string `json:"deleteNodes,omitempty"`

	// ObjectStatus replaces the sync/health table when non-nil.
	ObjectStatus []ObjectStatus `json:"objectStatus,omitempty"`
	// Status replaces the overall cluster status when non-nil.
	Status *ClusterStatus `json:"status,omitempty"`

	Events []Event `json:"events,omitempty"`
}

// Empty reports whether the batch changes nothing.
func (c *Changes) Empty() bool {
	return len(c.UpsertPods) == 0 && len(c.DeletePods) == 0 && len(c.SetPodStatus) == 0 &&
		len(c.UpsertServices) == 0 && len(c.DeleteServices) == 0 &&
		len(c.SetEndpoints) == 0 && len(c.DeleteEndpoints) == 0 &&
		len(c.Nodes) == 0 && len(c.DeleteNodes) == 0 && c.ObjectStatus == nil && c.Status == nil && len(c.Events) == 0
}

// NodePatch changes leader-owned fields of a node; empty fields are left alone.
type NodePatch struct {
	Name         string     `json:"name"`
	PodCIDR      string     `json:"podCIDR,omitempty"`
	Status       NodeStatus `json:"status,omitempty"`
	StatusReason string     `json:"statusReason,omitempty"`
	// At is the leader's time of the change (recorded as StatusChangedAt).
	At time.Time `json:"at"`
}

// ClusterStatus is the overall state shown by `keelson status`.
type ClusterStatus struct {
	// AppliedCommit is the commit whose desired state the reconciler is working toward.
	AppliedCommit string       `json:"appliedCommit,omitempty"`
	Sync          SyncStatus   `json:"sync"`
	Health        HealthStatus `json:"health"`
	Message       string       `json:"message,omitempty"`
	UpdatedAt     time.Time    `json:"updatedAt"`
}
