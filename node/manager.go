package node

import (
	"context"
	"log/slog"
	"sync"

	"github.com/keelson/keelson/api"
)

// podManager turns views into per-pod work: one worker goroutine per pod UID, fed
// through a size-1 coalescing channel (as in the early kubelet's pod_workers.go), so a
// slow pod never holds up the others and a burst of views costs each worker one sync.
//
// Fencing is by UID: the node runs exactly the pods its view lists with Desire Run.
// Anything else it holds (Desire Stop, absent from the view, or found in the runtime
// after a restart) is stopped and reported Gone. Nothing is stopped before the first
// view arrives, so a node that cannot reach the servers keeps its pods.
type podManager struct {
	nodeName, nodeAddress string
	runtime               Runtime
	log                   *slog.Logger
	deps                  workerDeps // handed to every worker

	mu      sync.Mutex
	workers map[string]*podWorker
	// gone holds UIDs whose worker finished (stopped and reported Gone) while the view
	// may still list them with Desire Stop; it keeps them from being stopped twice.
	gone    map[string]bool
	adopted bool // the runtime's leftovers have been matched against a view
	wg      sync.WaitGroup
}

func newPodManager(address string, deps workerDeps) *podManager {
	return &podManager{
		nodeName: deps.NodeName, nodeAddress: address, runtime: deps.Runtime, log: deps.Log, deps: deps,
		workers: map[string]*podWorker{}, gone: map[string]bool{},
	}
}

// viewEnv is the part of a view every worker needs besides its own pod.
type viewEnv struct {
	nodeName    string
	nodeAddress string
	podCIDR     string
	services    []api.ServiceRecord
}

func (m *podManager) apply(ctx context.Context, view *api.NodeView) {
	env := viewEnv{nodeName: m.nodeName, nodeAddress: m.nodeAddress, podCIDR: view.Node.PodCIDR, services: view.Services}
	var leftovers map[string]*adoption
	if !m.adopted {
		leftovers = m.listLeftovers(ctx)
		if leftovers == nil {
			return // runtime unreachable: try again with the next view, touching nothing
		}
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	inView := make(map[string]bool, len(view.Pods))
	live := map[string]bool{} // pod UIDs whose IP must not be reclaimed
	for i := range view.Pods {
		p := &view.Pods[i]
		if p.Node != "" && p.Node != m.nodeName {
			continue
		}
		inView[p.UID] = true
		w := m.workers[p.UID]
		if p.Desire == api.DesireRun {
			delete(m.gone, p.UID)
			if w == nil {
				w = m.startWorker(ctx, p.UID, leftovers[p.UID])
			}
			w.update(podUpdate{pod: p, env: env})
			continue
		}
		switch {
		case w != nil:
			w.update(podUpdate{pod: p, env: env, stop: true})
		case !m.gone[p.UID]:
			m.startWorker(ctx, p.UID, leftovers[p.UID]).update(podUpdate{pod: p, env: env, stop: true})
		}
	}
	for uid, w := range m.workers {
		if !inView[uid] {
			w.update(podUpdate{env: env, stop: true})
		}
	}
	for uid, ad := range leftovers {
		if !inView[uid] && m.workers[uid] == nil {
			m.startWorker(ctx, uid, ad).update(podUpdate{env: env, stop: true})
		}
	}
	for uid := range m.gone {
		if !inView[uid] {
			delete(m.gone, uid)
		}
	}
	if !m.adopted {
		m.adopted = true
		// Addresses of sandboxes that still exist are released by their own
		// RemoveSandbox once their (graceful) stop is over; releasing them now could
		// hand a stopping pod's IP to a new one. Only addresses without a sandbox leak.
		for uid := range inView {
			live[uid] = true
		}
		for uid, ad := range leftovers {
			if ad.sandbox != nil {
				live[uid] = true
			}
		}
		if r, ok := m.runtime.(ipReconciler); ok {
			if err := r.ReconcileIPs(ctx, live); err != nil {
				m.log.Warn("IP reconciliation failed", "err", err)
			}
		}
	}
}

// adoption is what the runtime already holds for one pod UID.
type adoption struct {
	sandbox    *Sandbox
	containers []ContainerInfo
}

// listLeftovers lists what the runtime holds, by pod UID; nil on error.
func (m *podManager) listLeftovers(ctx context.Context) map[string]*adoption {
	rt := m.runtime
	sbs, err := rt.ListSandboxes(ctx)
	if err != nil {
		m.log.Warn("list sandboxes for adoption", "err", err)
		return nil
	}
	ctrs, err := rt.ListContainers(ctx)
	if err != nil {
		m.log.Warn("list containers for adoption", "err", err)
		return nil
	}
	out := map[string]*adoption{}
	get := func(uid string) *adoption {
		if out[uid] == nil {
			out[uid] = &adoption{}
		}
		return out[uid]
	}
	for i := range sbs {
		get(sbs[i].PodUID).sandbox = &sbs[i]
	}
	for _, c := range ctrs {
		ad := get(c.PodUID)
		ad.containers = append(ad.containers, c)
	}
	return out
}

// startWorker must be called with m.mu held.
func (m *podManager) startWorker(ctx context.Context, uid string, ad *adoption) *podWorker {
	w := newPodWorker(m.deps, uid, ad)
	m.workers[uid] = w
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if w.run(ctx) {
			m.mu.Lock()
			defer m.mu.Unlock()
			delete(m.workers, uid)
			m.gone[uid] = true
		}
	}()
	return w
}

// wait blocks until every worker goroutine has returned (after ctx ended).
func (m *podManager) wait() { m.wg.Wait() }
