package reconciler

import (
	"time"

	"github.com/keelson/keelson/api"
)

// Snapshot is one consistent view of the committed state, as Observe reads it. The
// store's read view (raftstore.State) implements it as is; `keelson plan --server`
// implements it over the read API's answers, and the offline preview over an ideal
// cluster, so all three build Observed here, the one way.
type Snapshot interface {
	Revision() *api.Revision
	Nodes() []api.Node
	Pods() []api.PodRecord
	Services() []api.ServiceRecord
	Endpoints() []api.Endpoints
	ObjectStatus() []api.ObjectStatus
	Cluster() api.ClusterStatus
}

// Heartbeats gives the last heartbeat time of each of nodes (see Observed.Heartbeats).
type Heartbeats func(nodes []api.Node) map[string]time.Time

// Observe builds Plan's input from a snapshot, the clock and the heartbeats.
func Observe(s Snapshot, now time.Time, beats Heartbeats) Observed {
	nodes := s.Nodes()
	return Observed{
		Now: now, Desired: s.Revision(), Nodes: nodes, Pods: s.Pods(),
		Services: s.Services(), Endpoints: s.Endpoints(), ObjectStatus: s.ObjectStatus(),
		Status: s.Cluster(), Heartbeats: beats(nodes),
	}
}

// BeatsFromStatus stands in for the leader's heartbeat memory outside the leader
// (heartbeats are not in the API): it dates each node's last heartbeat so that cfg's
// timeouts keep the node in the status the leader last committed. Ready nodes beat
// now, NotReady ones just past the grace period, Down ones past the eviction timeout.
func BeatsFromStatus(cfg Config, now time.Time) Heartbeats {
	cfg = cfg.withDefaults()
	return func(nodes []api.Node) map[string]time.Time {
		hb := make(map[string]time.Time, len(nodes))
		for _, n := range nodes {
			switch n.Status {
			case api.NodeNotReady:
				hb[n.Name] = now.Add(-cfg.NodeGracePeriod - time.Second)
			case api.NodeDown:
				hb[n.Name] = now.Add(-cfg.EvictionTimeout - time.Second)
			default:
				hb[n.Name] = now
			}
		}
		return hb
	}
}

// Records is a Snapshot made of plain slices (API answers, tests, previews).
type Records struct {
	Desired   *api.Revision
	NodeList  []api.Node
	PodList   []api.PodRecord
	Svcs      []api.ServiceRecord
	Eps       []api.Endpoints
	Objects   []api.ObjectStatus
	ClusterSt api.ClusterStatus
}

func (r *Records) Revision() *api.Revision          { return r.Desired }
func (r *Records) Nodes() []api.Node                { return r.NodeList }
func (r *Records) Pods() []api.PodRecord            { return r.PodList }
func (r *Records) Services() []api.ServiceRecord    { return r.Svcs }
func (r *Records) Endpoints() []api.Endpoints       { return r.Eps }
func (r *Records) ObjectStatus() []api.ObjectStatus { return r.Objects }
func (r *Records) Cluster() api.ClusterStatus       { return r.ClusterSt }
