package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/raftstore"
	"github.com/keelson/keelson/server/client"
	corev1 "k8s.io/api/core/v1"
)

// simNodes is a light simulator of many nodes, for when thousands of full agents do
// not fit two cores. Every node registers and heartbeats through the HTTP API like an
// agent and reports its pods Running through the API in one batch per node. What it
// does not do like an agent is the watch: instead of one NodeView blocking query per
// node (each view carries every node record, so 5,000 watchers cost 5,000 × 5,000
// node records per node-table change), one loop waits on a follower's replicated
// store (the same data and index a blocking query would answer from) and hands each
// node its newly assigned pods. The agent's own latency is measured separately
// (node BenchmarkAssignToRunning).
type simNodes struct {
	names []string
	// cl is each node's client: its own node certificate (NodeRestriction).
	cl     map[string]*client.Client
	hbStop context.CancelFunc
	hbDone sync.WaitGroup
	// reportErrs counts failed status batches (retried on the next scan).
	reportErrs atomic.Int64
}

// registerNodes registers n nodes named sim-00000.. with workers concurrent calls,
// each node with the client clientFor gives it.
func registerNodes(b testing.TB, clientFor func(testing.TB, string) *client.Client, n, workers int) *simNodes {
	b.Helper()
	s := &simNodes{cl: map[string]*client.Client{}}
	for i := range n {
		name := fmt.Sprintf("sim-%05d", i)
		s.names = append(s.names, name)
		s.cl[name] = clientFor(b, name)
	}
	ctx := ctxFor(b, 5*time.Minute)
	jobs := make(chan string)
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range jobs {
				reg := api.NodeRegistration{Name: name, Address: "192.0.2.1",
					Capacity:    api.Resources{MilliCPU: 64000, MemoryBytes: 256 << 30},
					Allocatable: api.Resources{MilliCPU: 64000, MemoryBytes: 256 << 30}}
				if _, err := s.cl[name].Register(ctx, reg); err != nil {
					select {
					case errc <- fmt.Errorf("register %s: %w", name, err):
					default:
					}
				}
			}
		}()
	}
	for _, name := range s.names {
		jobs <- name
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errc:
		b.Fatal(err)
	default:
	}
	return s
}

// heartbeat keeps every node Ready: each node beats once per interval, spread evenly.
func (s *simNodes) heartbeat(interval time.Duration, workers int) {
	ctx, cancel := context.WithCancel(context.Background())
	s.hbStop = cancel
	per := (len(s.names) + workers - 1) / workers
	for w := range workers {
		lo, hi := w*per, min((w+1)*per, len(s.names))
		if lo >= hi {
			continue
		}
		s.hbDone.Add(1)
		go func(names []string) {
			defer s.hbDone.Done()
			gap := interval / time.Duration(len(names))
			t := time.NewTicker(gap)
			defer t.Stop()
			for i := 0; ; i = (i + 1) % len(names) {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				_ = s.cl[names[i]].Heartbeat(ctx, names[i]) // a missed beat is what grace periods are for
			}
		}(s.names[lo:hi])
	}
}

func (s *simNodes) stopHeartbeats() {
	if s.hbStop != nil {
		s.hbStop()
		s.hbDone.Wait()
	}
}

// runCounts are what one scan of the store saw.
type runCounts struct{ total, assigned, running int }

// runPods reports every assigned pod Running from its node until ctx ends. A scan of
// the given store runs on each change (at most every minGap); it hands each node's
// new pods to a pool of workers that send one status batch per node, so scans (and
// the counts passed to observe) keep their pace while reports are in flight.
func (s *simNodes) runPods(ctx context.Context, st *raftstore.Store, workers int, minGap time.Duration, observe func(runCounts)) {
	type batch []api.PodStatusReport
	jobs := make(chan batch, 1<<18)
	var (
		mu     sync.Mutex
		failed []string
		wg     sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if err := s.cl[j[0].Node].ReportStatus(ctx, j); err != nil {
					s.reportErrs.Add(1)
					mu.Lock()
					for _, r := range j {
						failed = append(failed, r.UID)
					}
					mu.Unlock()
				}
			}
		}()
	}
	defer func() { close(jobs); wg.Wait() }()

	reported := map[string]bool{}
	for ctx.Err() == nil {
		mu.Lock()
		for _, uid := range failed {
			delete(reported, uid) // retry on this scan
		}
		failed = failed[:0]
		mu.Unlock()
		snap := st.Snapshot()
		byNode := map[string]batch{}
		var c runCounts
		now := time.Now().UTC()
		for _, p := range snap.Pods() {
			if p.Desire != api.DesireRun {
				continue
			}
			c.total++
			if p.Node == "" {
				continue
			}
			c.assigned++
			if p.Status.Phase == corev1.PodRunning {
				c.running++
				continue
			}
			if reported[p.UID] {
				continue
			}
			reported[p.UID] = true
			byNode[p.Node] = append(byNode[p.Node], api.PodStatusReport{UID: p.UID, Node: p.Node, Status: api.PodStatus{
				Phase: corev1.PodRunning, Ready: true, StartedAt: now, ObservedAt: now, PodIP: "10.0.0.2",
			}})
		}
		observe(c)
		for _, rs := range byNode {
			select {
			case jobs <- rs:
			case <-ctx.Done():
				return
			}
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, _ = st.WaitIndex(wctx, snap.Index())
		cancel()
		t := time.NewTimer(minGap)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}
