package node

import (
	"context"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/keelson/keelson/api"
)

// netSync pushes the services, endpoints and node list of each view to the service
// proxy and the route syncer, but only when they changed (or the last push failed):
// with thousands of agents most views change only pods, and re-programming nftables
// for nothing is not free. Its resync loop re-asserts both every ResyncInterval,
// because the kernel state they program can be changed behind the agent's back (an
// operator deleting the nft table or a route) and no view would ever say so.
type netSync struct {
	name, address string
	proxy         ServiceProxy
	routes        RouteSyncer
	log           *slog.Logger

	mu         sync.Mutex // the watch loop and the resync loop both sync
	last       *api.NodeView
	proxyDone  bool
	services   []api.ServiceRecord
	endpoints  []api.Endpoints
	routesDone bool
	nodes      []api.Node
}

// proxyResyncer is implemented by a ServiceProxy whose programming can drift from
// what it last applied (the nftables proxy): Resync repairs it and says what drifted.
type proxyResyncer interface {
	Resync(ctx context.Context) (drift string, err error)
}

func (n *netSync) sync(ctx context.Context, view *api.NodeView) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.last = view
	n.syncLocked(ctx, view)
}

func (n *netSync) syncLocked(ctx context.Context, view *api.NodeView) {
	if n.proxy != nil && (!n.proxyDone || !reflect.DeepEqual(n.services, view.Services) || !reflect.DeepEqual(n.endpoints, view.Endpoints)) {
		if err := n.proxy.Sync(ctx, view.Services, view.Endpoints, n.address); err != nil {
			n.proxyDone = false
			n.log.Warn("service proxy sync failed; will retry", "err", err)
		} else {
			n.proxyDone, n.services, n.endpoints = true, view.Services, view.Endpoints
		}
	}
	if n.routes != nil && (!n.routesDone || !reflect.DeepEqual(n.nodes, view.Nodes)) {
		if err := n.routes.Sync(ctx, n.name, view.Nodes); err != nil {
			n.routesDone = false
			n.log.Warn("route sync failed; will retry", "err", err)
		} else {
			n.routesDone, n.nodes = true, view.Nodes
		}
	}
}

// resync re-asserts the last view: a failed push is retried, the proxy repairs rules
// changed behind its back, and the routes are synced again (the route syncer compares
// with the kernel on every call, so that repairs a deleted route).
func (n *netSync) resync(ctx context.Context) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.last == nil {
		return
	}
	if r, ok := n.proxy.(proxyResyncer); ok && n.proxyDone {
		drift, err := r.Resync(ctx)
		if drift != "" {
			n.log.Warn("service proxy rules were changed outside the agent; reprogrammed", "drift", drift)
		}
		if err != nil {
			n.proxyDone = false
			n.log.Warn("service proxy resync failed; will retry", "err", err)
		}
	}
	n.routesDone = false
	n.syncLocked(ctx, n.last)
}

// resyncLoop runs resync every interval until ctx ends.
func (n *netSync) resyncLoop(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.resync(ctx)
		}
	}
}
