package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/backoff"
)

// Agent runs the pods the control plane assigns to one node. It talks to the servers
// only through ControlPlane, to containers only through Runtime, and keeps its pods
// running whatever happens to the servers: only a NodeView can make it stop a pod.
type Agent struct {
	cfg      Config
	log      *slog.Logger
	reporter *statusReporter
	pods     *podManager
	net      *netSync

	registered chan struct{} // closed after the first successful Register
	// ignoredViews counts answers older than the applied view that were ignored.
	ignoredViews atomic.Int64
	// dns holds the cluster domain of the last view (pods' resolv.conf and hosts).
	dns *clusterDNS
}

// NewAgent checks cfg and fills in its defaults (host capacity, intervals).
func NewAgent(cfg Config) (*Agent, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	a := &Agent{
		cfg:        cfg,
		log:        cfg.Logger.With("node", cfg.Name),
		reporter:   newStatusReporter(),
		registered: make(chan struct{}),
	}
	a.dns = &clusterDNS{}
	deps := workerDepsFrom(&a.cfg, a.log, a.reporter.set)
	deps.ClusterDomain = a.dns.clusterDomain
	a.pods = newPodManager(cfg.Address, deps)
	a.net = &netSync{name: cfg.Name, address: cfg.Address, proxy: cfg.Proxy, routes: cfg.Routes, log: a.log}
	return a, nil
}

// Run registers the node, heartbeats, follows the node's view and runs its pods until
// ctx ends. Ending Run leaves the pods running: a restarted agent adopts them. It
// returns an error only when it cannot start (e.g. the log listener).
func (a *Agent) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	if a.cfg.AgentListen != "" {
		ln, err := net.Listen("tcp", a.cfg.AgentListen)
		if err != nil {
			return fmt.Errorf("agent listen %s: %w", a.cfg.AgentListen, err)
		}
		srv := &http.Server{Handler: a.LogHandler(), ReadHeaderTimeout: 10 * time.Second, TLSConfig: a.cfg.TLS}
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.log.Error("log server stopped", "err", err)
			}
		}()
		go func() {
			defer wg.Done()
			<-ctx.Done()
			_ = srv.Close()
		}()
	}
	wg.Add(3)
	go func() { defer wg.Done(); a.connectLoop(ctx) }()
	go func() { defer wg.Done(); a.net.resyncLoop(ctx, a.cfg.ResyncInterval) }()
	go func() {
		defer wg.Done()
		a.reporter.run(ctx, a.cfg.StatusBatchInterval, a.cfg.ControlPlane, a.log)
	}()
	a.watchLoop(ctx)
	a.pods.wait()
	wg.Wait()
	return nil
}

func (a *Agent) registration() api.NodeRegistration {
	return api.NodeRegistration{
		Name: a.cfg.Name, Address: a.cfg.Address, AgentURL: a.cfg.AgentURL, Labels: a.cfg.Labels,
		Capacity: a.cfg.Capacity, Allocatable: a.cfg.Allocatable, Taints: a.cfg.Taints,
	}
}

// connectLoop registers and then heartbeats. After any failure it registers again
// instead of heartbeating, because the server that now answers may not know the node
// (a new leader after failover, or a restored store).
func (a *Agent) connectLoop(ctx context.Context) {
	bo := backoff.Doubling{Initial: 200 * time.Millisecond, Max: a.cfg.RetryMax}
	needRegister, first := true, true
	for {
		var err error
		if needRegister {
			var n api.Node
			if n, err = a.cfg.ControlPlane.Register(ctx, a.registration()); err == nil {
				needRegister = false
				if first {
					first = false
					close(a.registered)
				}
				a.log.Info("registered", "podCIDR", n.PodCIDR)
			}
		} else {
			err = a.cfg.ControlPlane.Heartbeat(ctx, a.cfg.Name)
		}
		wait := a.cfg.HeartbeatInterval
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			needRegister = true
			wait = bo.Next()
			a.log.Warn("cannot reach servers; pods keep running", "err", err, "retry", wait)
		} else {
			bo.Reset()
		}
		if !backoff.Sleep(ctx, wait) {
			return
		}
	}
}

// watchLoop follows the node's view with blocking queries and applies every new one.
func (a *Agent) watchLoop(ctx context.Context) {
	select {
	case <-a.registered:
	case <-ctx.Done():
		return
	}
	bo := backoff.Doubling{Initial: 200 * time.Millisecond, Max: a.cfg.RetryMax}
	var index uint64
	applied := false
	behind := 0 // consecutive answers older than the view already applied
	for ctx.Err() == nil {
		view, err := a.cfg.ControlPlane.WatchNode(ctx, a.cfg.Name, index, a.cfg.WatchWait)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			d := bo.Next()
			a.log.Warn("watch failed; pods keep running", "err", err, "retry", d)
			backoff.Sleep(ctx, d)
			continue
		}
		bo.Reset()
		if applied && view.Index == index {
			a.net.sync(ctx, &view) // retries a failed sync; no-op otherwise
			continue               // the wait elapsed with nothing new
		}
		// An older index comes from a server that has not caught up (a follower that
		// lags answers a timed-out blocking query with what it has): applying it would
		// stop pods assigned since, so it is ignored. Only a server that keeps
		// answering with an older state (the cluster's state was reset) is believed.
		if applied && view.Index < index {
			if behind++; behind < maxBehindAnswers {
				a.ignoredViews.Add(1)
				a.log.Warn("ignoring an older view from a lagging server", "index", view.Index, "applied", index)
				continue
			}
		}
		behind = 0
		index = view.Index
		applied = true
		a.applyView(ctx, &view)
	}
}

// maxBehindAnswers is how many answers older than the applied view in a row make the
// agent accept that the servers' state went back (each answer is a full blocking wait).
const maxBehindAnswers = 3

// applyView hands one view to the pod manager and the network syncers.
func (a *Agent) applyView(ctx context.Context, view *api.NodeView) {
	a.observeDNS(ctx, view)
	a.pods.apply(ctx, view)
	a.net.sync(ctx, view)
}
