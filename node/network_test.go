package node

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/keelson/keelson/api"
)

// driftingProxy is a ServiceProxy whose rules can be "changed behind its back".
type driftingProxy struct {
	syncs, resyncs int
	drift          string
	failSync       bool
}

func (p *driftingProxy) Sync(context.Context, []api.ServiceRecord, []api.Endpoints, string) error {
	p.syncs++
	if p.failSync {
		return errors.New("netlink: busy")
	}
	return nil
}

func (p *driftingProxy) Resync(context.Context) (string, error) {
	p.resyncs++
	d := p.drift
	p.drift = ""
	return d, nil
}

type countingRoutes struct{ syncs int }

func (r *countingRoutes) Sync(context.Context, string, []api.Node) error { r.syncs++; return nil }

func TestNetSyncResync(t *testing.T) {
	ctx := context.Background()
	p, r := &driftingProxy{}, &countingRoutes{}
	n := &netSync{name: "n1", address: "10.0.0.1", proxy: p, routes: r, log: slog.New(slog.DiscardHandler)}

	n.resync(ctx)
	if p.syncs+p.resyncs+r.syncs != 0 {
		t.Fatalf("resync before any view touched the data path: proxy %d/%d routes %d", p.syncs, p.resyncs, r.syncs)
	}
	view := &api.NodeView{Services: []api.ServiceRecord{{Namespace: "default", Name: "web"}}, Nodes: []api.Node{{Name: "n2"}}}
	n.sync(ctx, view)
	n.sync(ctx, view) // unchanged: nothing is pushed again
	if p.syncs != 1 || r.syncs != 1 {
		t.Fatalf("after two identical views: proxy syncs %d, route syncs %d; want 1 and 1", p.syncs, r.syncs)
	}

	// Every resync asks the proxy to check the kernel and re-syncs the routes (whose
	// syncer compares with the kernel), without re-pushing an unchanged proxy state.
	p.drift = "table keelson is missing"
	n.resync(ctx)
	n.resync(ctx)
	if p.resyncs != 2 || r.syncs != 3 || p.syncs != 1 {
		t.Fatalf("after two resyncs: proxy resyncs %d syncs %d, route syncs %d; want 2, 1, 3", p.resyncs, p.syncs, r.syncs)
	}

	// A failed push is retried by the next resync, not only by the next view.
	p.failSync = true
	n.sync(ctx, &api.NodeView{Services: []api.ServiceRecord{{Namespace: "default", Name: "api"}}})
	p.failSync = false
	before := p.syncs
	n.resync(ctx)
	if p.syncs != before+1 || !n.proxyDone {
		t.Fatalf("resync after a failed push: syncs %d → %d, done %v; want a retry that succeeds", before, p.syncs, n.proxyDone)
	}
}
