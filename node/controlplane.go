package node

import (
	"context"
	"time"

	"github.com/keelson/keelson/api"
)

// ControlPlane is what the agent needs from the servers. It is declared here, by its
// consumer, so the agent can be tested with an in-memory fake; server/client implements
// it over the HTTP API (with failover between servers).
type ControlPlane interface {
	// Register announces the node (at start and after losing contact) and returns the
	// node record, with the PodCIDR once the leader has allocated one.
	Register(ctx context.Context, reg api.NodeRegistration) (api.Node, error)
	// Heartbeat keeps the node Ready.
	Heartbeat(ctx context.Context, name string) error
	// WatchNode is a blocking query: it returns when the state index is greater than
	// index, or when wait has elapsed.
	WatchNode(ctx context.Context, name string, index uint64, wait time.Duration) (api.NodeView, error)
	// ReportStatus delivers a batch of pod status reports.
	ReportStatus(ctx context.Context, reports []api.PodStatusReport) error
}

// ServiceProxy programs Service forwarding on this node (node/proxy implements it).
type ServiceProxy interface {
	Sync(ctx context.Context, services []api.ServiceRecord, endpoints []api.Endpoints, nodeAddress string) error
}

// RouteSyncer programs routes to the other nodes' pod CIDRs (the host-gw syncer).
type RouteSyncer interface {
	Sync(ctx context.Context, self string, nodes []api.Node) error
}

// ipReconciler is optionally implemented by a Runtime whose IPAM can leak addresses
// (host-local after a skipped CNI DEL): the agent calls it once it knows which pods
// are live. live is keyed by pod UID.
type ipReconciler interface {
	ReconcileIPs(ctx context.Context, live map[string]bool) error
}

// Clock tells the time. Tests inject one to make backoff decisions (e.g. "ran for more
// than 10 minutes") without waiting; timers still use real time.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
