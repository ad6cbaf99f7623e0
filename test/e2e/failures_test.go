package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
)

// TestFailures kills parts of a running cluster for real: the raft leader during a
// rolling update, an agent with SIGKILL (its pods must keep serving and be adopted),
// and an agent stopped past the eviction timeout (its pods move; when it returns, it
// stops the old ones).
func TestFailures(t *testing.T) {
	k := newCluster(t)
	want := exampleCounts()
	var s state
	steps := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"deploy", func(t *testing.T) { s = k.deployExample() }},
		{"leader killed during a rollout", func(t *testing.T) { s = k.checkLeaderKill(t, s, want) }},
		{"agent killed and adopted", func(t *testing.T) { s = k.checkAgentKill(t, s, want) }},
		{"agent away past eviction", func(t *testing.T) { k.checkEviction(t, s, want) }},
	}
	for _, st := range steps {
		if !t.Run(st.name, func(t *testing.T) { k.t = t; st.fn(t) }) {
			return
		}
	}
}

// leader returns the ID of the raft leader as the cluster reports it.
func leaderID(st api.StatusResponse) string {
	for _, s := range st.Servers {
		if s.Leader {
			return s.ID
		}
	}
	return ""
}

func (k *kcluster) checkLeaderKill(t *testing.T, before state, want map[string]int) state {
	k.edit("frontend.yaml", k.env.WebV1, k.env.WebV2)
	sha := k.push("frontend v2")
	k.eventually(time.Minute, "rollout started", func(ctx context.Context) error {
		s, err := k.state(ctx)
		if err != nil {
			return err
		}
		for _, p := range s.pods {
			if p.Owner == frontendRC && p.Spec.Containers[0].Image == k.env.WebV2 {
				return nil
			}
		}
		return fmt.Errorf("no v2 pod yet")
	})
	st, err := k.c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	old := leaderID(st)
	proc := k.procs.Server(old)
	if proc == nil {
		t.Fatalf("no leader process for %q (servers %+v)", old, st.Servers)
	}
	if s, err := k.state(context.Background()); err == nil {
		v1 := 0
		for _, p := range s.running(frontendRC) {
			if p.Spec.Containers[0].Image == k.env.WebV1 {
				v1++
			}
		}
		t.Logf("killing leader %s with %d frontend pods still on v1", old, v1)
	}
	proc.Kill()
	k.eventually(time.Minute, "new leader", func(ctx context.Context) error {
		st, err := k.c.Status(ctx)
		if err != nil {
			return err
		}
		if id := leaderID(st); id == "" || id == old {
			return fmt.Errorf("leader %q", id)
		}
		return nil
	})
	s := k.waitRolled(sha, want)
	// Nothing the rollout did not touch was disturbed by the new leader.
	keep := func(ps []api.PodRecord) string {
		return uids(slices.DeleteFunc(slices.Clone(ps), func(p api.PodRecord) bool { return p.Owner == frontendRC }))
	}
	if a, b := keep(before.pods), keep(s.pods); a != b {
		t.Errorf("pods outside the rollout changed across the leader change:\nbefore %s\nafter  %s", a, b)
	}
	// The killed server comes back from its own disk and catches up.
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	alone := k.procs.MustClient("https://" + k.procs.HTTPAddrs[slices.Index(k.procs.Servers, proc)])
	k.eventually(time.Minute, "restarted server caught up", func(ctx context.Context) error {
		st, err := alone.Status(ctx)
		if err != nil {
			return err
		}
		if st.Applied == nil || st.Applied.Commit != sha || leaderID(st) == "" {
			return fmt.Errorf("applied %+v, leader %q", st.Applied, leaderID(st))
		}
		return nil
	})
	return s
}

// waitRolled waits for convergence on sha with every frontend pod on v2.
func (k *kcluster) waitRolled(sha string, want map[string]int) state {
	var s state
	k.eventually(2*time.Minute, "frontend rolled to v2", func(ctx context.Context) error {
		var err error
		if s, err = k.state(ctx); err != nil {
			return err
		}
		if err := s.converged(sha, want); err != nil {
			return err
		}
		for _, p := range s.running(frontendRC) {
			if img := p.Spec.Containers[0].Image; img != k.env.WebV2 {
				return fmt.Errorf("pod %s runs %s", p.Name, img)
			}
		}
		return nil
	})
	return s
}

// busiest is the node running the most pods.
func busiest(s state) string {
	n := map[string]int{}
	for _, p := range s.pods {
		n[p.Node]++
	}
	best := agentNames[0]
	for _, name := range agentNames {
		if n[name] > n[best] {
			best = name
		}
	}
	return best
}

func podsOn(s state, node string) map[string]string {
	out := map[string]string{} // UID → pod IP
	for _, p := range s.pods {
		if p.Node == node && p.Desire == api.DesireRun {
			out[p.UID] = p.Status.PodIP
		}
	}
	return out
}

func (k *kcluster) checkAgentKill(t *testing.T, before state, want map[string]int) state {
	node := busiest(before)
	pods := podsOn(before, node)
	if len(pods) == 0 {
		t.Fatalf("no pods on %s", node)
	}
	agent := k.procs.Agent(node)
	agent.Kill()
	for uid, ip := range pods {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := answers(ctx, hostPort(ip, 8080)+"/healthz", "ok")
		cancel()
		if err != nil {
			t.Errorf("pod %s on killed agent %s does not serve: %v", uid, node, err)
		}
	}
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	// The restarted agent says which containers it adopted (its log since this start).
	k.eventually(time.Minute, node+" adopted its containers", func(ctx context.Context) error {
		logText := agent.Tail(1 << 20)
		if i := strings.LastIndex(logText, "=== "+node+" start"); i >= 0 {
			logText = logText[i:]
		}
		if n := strings.Count(logText, "adopted container"); n < len(pods) {
			return fmt.Errorf("%d containers adopted, want %d", n, len(pods))
		}
		return nil
	})
	s := k.waitConverged(time.Minute, before.status.Applied.Commit, want)
	if got := podsOn(s, node); !mapsEqual(got, pods) {
		t.Errorf("pods on %s after restart %v, want the same UIDs and IPs %v", node, got, pods)
	}
	k.eventually(30*time.Second, "no duplicate containers", func(ctx context.Context) error {
		cs, sandboxes, err := k.containers(ctx, node)
		if err != nil {
			return err
		}
		if sandboxes != len(pods) {
			return fmt.Errorf("%d sandboxes for %d pods", sandboxes, len(pods))
		}
		for uid, list := range cs {
			if _, ok := pods[uid]; !ok {
				return fmt.Errorf("containers of unknown pod %s: %v", uid, list)
			}
			running := 0
			for _, c := range list {
				if strings.HasSuffix(c, "/running") {
					running++
				}
			}
			if running != 1 {
				return fmt.Errorf("pod %s has containers %v, want exactly one running", uid, list)
			}
		}
		return nil
	})
	return s
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func (k *kcluster) checkEviction(t *testing.T, before state, want map[string]int) {
	node := busiest(before)
	old := podsOn(before, node)
	agent := k.procs.Agent(node)
	agent.Stop(20 * time.Second) // its pods keep running: an agent never stops them on exit
	commit := before.status.Applied.Commit
	k.eventually(time.Minute, node+" Down and its pods replaced", func(ctx context.Context) error {
		s, err := k.state(ctx)
		if err != nil {
			return err
		}
		for _, n := range s.status.Nodes {
			if n.Name == node && n.Status != api.NodeDown {
				return fmt.Errorf("node %s is %s", node, n.Status)
			}
		}
		for _, p := range s.pods {
			if p.Node == node {
				return fmt.Errorf("pod %s still on %s", p.Name, node)
			}
		}
		return s.converged(commit, want)
	})
	cs, _, err := k.containers(context.Background(), node)
	if err != nil {
		t.Fatal(err)
	}
	for uid := range old {
		if len(cs[uid]) == 0 {
			t.Errorf("pod %s of the stopped agent lost its containers while the agent was away", uid)
		}
	}
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	k.eventually(time.Minute, node+" back and its old pods stopped", func(ctx context.Context) error {
		st, err := k.c.Status(ctx)
		if err != nil {
			return err
		}
		for _, n := range st.Nodes {
			if n.Name == node && n.Status != api.NodeReady {
				return fmt.Errorf("node %s is %s", node, n.Status)
			}
		}
		cs, sandboxes, err := k.containers(ctx, node)
		if err != nil {
			return err
		}
		for uid := range old {
			if len(cs[uid]) > 0 {
				return fmt.Errorf("old pod %s still has containers %v", uid, cs[uid])
			}
		}
		s, err := k.state(ctx)
		if err != nil {
			return err
		}
		if n := len(podsOn(s, node)); sandboxes != n {
			return fmt.Errorf("%d sandboxes on %s for %d assigned pods", sandboxes, node, n)
		}
		return nil
	})
	k.waitConverged(30*time.Second, commit, want)
}
