package reconciler

import (
	"time"

	"github.com/keelson/keelson/api"
)

// Observed is everything Plan looks at: the desired revision and the committed cluster
// state, plus the leader-memory facts (heartbeats, clock) that never go through raft.
// The caller builds it from one consistent store snapshot.
type Observed struct {
	Now time.Time
	// Desired is the last good revision (Errors empty); nil before the first one.
	Desired   *api.Revision
	Nodes     []api.Node
	Pods      []api.PodRecord
	Services  []api.ServiceRecord
	Endpoints []api.Endpoints
	// ObjectStatus is the sync/health table as last committed, so Plan emits it only
	// when it changed.
	ObjectStatus []api.ObjectStatus
	Status       api.ClusterStatus
	// Heartbeats is the last heartbeat time per node, kept in the leader's memory. A node
	// with no entry is treated as heartbeating at leadership start (the caller fills in
	// the leadership start time), so a new leader does not evict every node at once.
	Heartbeats map[string]time.Time
}

// Result is one reconcile step: the batch to commit and a readable account of it.
type Result struct {
	Changes api.Changes
	Actions []Action
}

// ActionType names a decision.
type ActionType string

const (
	ActCreatePod     ActionType = "CreatePod"     // new pod (RC scale-up, bare pod, replacement)
	ActSchedule      ActionType = "Schedule"      // pod placed on a node
	ActUnschedulable ActionType = "Unschedulable" // pod stays Pending
	ActStopPod       ActionType = "StopPod"       // pod asked to stop (scale-down, prune, roll, replace)
	ActDeletePod     ActionType = "DeletePod"     // record removed (stopped, or its node is gone)
	ActRollPod       ActionType = "RollPod"       // pod replaced because its template changed
	ActEvictPod      ActionType = "EvictPod"      // pod lost with its node
	ActNodeStatus    ActionType = "NodeStatus"    // node Ready/NotReady/Down, pod CIDR allocated
	ActService       ActionType = "Service"       // service created/changed (IP/ports allocated)
	ActPruneService  ActionType = "PruneService"
	ActEndpoints     ActionType = "Endpoints" // endpoints of a service changed
	ActAdopt         ActionType = "AdoptPod"
	ActRelease       ActionType = "ReleasePod"
)

// Action is one decision, for events, logs and `keelson plan`.
type Action struct {
	Type    ActionType `json:"type"`
	Object  string     `json:"object"`        // key of the desired object (RC/Pod/Service/Node)
	Pod     string     `json:"pod,omitempty"` // pod name
	PodUID  string     `json:"podUID,omitempty"`
	Node    string     `json:"node,omitempty"`
	Message string     `json:"message"`
}
