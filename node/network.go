package node

import (
	"context"
	"log/slog"
	"reflect"

	"github.com/keelson/keelson/api"
)

// netSync pushes the services, endpoints and node list of each view to the service
// proxy and the route syncer, but only when they changed (or the last push failed):
// with thousands of agents most views change only pods, and re-programming nftables
// for nothing is not free.
type netSync struct {
	name, address string
	proxy         ServiceProxy
	routes        RouteSyncer
	log           *slog.Logger

	proxyDone  bool
	services   []api.ServiceRecord
	endpoints  []api.Endpoints
	routesDone bool
	nodes      []api.Node
}

func (n *netSync) sync(ctx context.Context, view *api.NodeView) {
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
