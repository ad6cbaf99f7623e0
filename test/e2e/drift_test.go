package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	corev1 "k8s.io/api/core/v1"
)

// checkDriftHealed breaks what the agents run behind their backs, as an operator or a
// buggy tool would, one thing at a time, and expects the agents to notice and repair it
// with no change in the store: both nftables tables deleted (the proxy's 5 s resync),
// then a frontend pod's veth deleted, another pod's network namespace removed, a
// container (and its snapshot) deleted with ctr, and one node's bridge deleted (each
// pod worker's 1 s sandbox check, or its container check). After each, the pods are
// Ready again in a working sandbox, answer on their IP, are the Service's endpoints,
// and the NodePort and ClusterIP answer. Every repair time is logged.
func (k *kcluster) checkDriftHealed(t *testing.T, s state) {
	fe := s.service("frontend")
	np := hostPort(k.addr, nodePort)
	serviceAnswers := func(ctx context.Context) error {
		if err := answers(ctx, np, "shop frontend"); err != nil {
			return fmt.Errorf("NodePort: %w", err)
		}
		return answers(ctx, hostPort(fe.Spec.ClusterIP, 80), "shop frontend")
	}
	for _, name := range agentNames {
		table := k.specs[name].ProxyTable
		if out, err := exec.Command("nft", "delete", "table", "ip", table).CombinedOutput(); err != nil {
			t.Fatalf("nft delete table ip %s: %v: %s", table, err, out)
		}
	}
	start := time.Now()
	k.eventually(30*time.Second, "NodePort and ClusterIP answer again", serviceAnswers)
	t.Logf("service rules restored %s after the tables were deleted", time.Since(start).Round(100*time.Millisecond))
	for _, name := range agentNames {
		if log := k.procs.Agent(name).Tail(200000); !strings.Contains(log, "service proxy rules were changed outside the agent") {
			t.Errorf("agent %s did not log the drift it repaired", name)
		}
	}

	frontends := s.running(frontendRC)
	if len(frontends) < 3 {
		t.Fatalf("%d frontend pods, want 3", len(frontends))
	}
	ctx := context.Background()
	drifts := []struct {
		name string
		hit  func(t *testing.T) []api.PodRecord // breaks something; returns the pods hit
	}{
		{name: "veth deleted", hit: func(t *testing.T) []api.PodRecord {
			p := frontends[0]
			k.run(t, "nsenter", "--net="+k.netnsOf(t, p), "ip", "link", "del", "eth0")
			return []api.PodRecord{p}
		}},
		{name: "netns removed", hit: func(t *testing.T) []api.PodRecord {
			p := frontends[1]
			// What `ip netns del` does to a named namespace: unmount it and remove the
			// file; the containers keep it alive, unreachable.
			path := k.netnsOf(t, p)
			k.run(t, "umount", path)
			k.run(t, "rm", path)
			return []api.PodRecord{p}
		}},
		{name: "container deleted with ctr", hit: func(t *testing.T) []api.PodRecord {
			p := frontends[2]
			spec := k.specs[p.Node]
			id := k.runningContainer(t, p)
			ctr := func(args ...string) {
				k.run(t, "ctr", append([]string{"--address", spec.Containerd, "-n", spec.Namespace}, args...)...)
			}
			ctr("tasks", "rm", "-f", id) // kills the task
			ctr("containers", "rm", id)  // removes its snapshot too
			out, err := exec.Command("ctr", "--address", spec.Containerd, "-n", spec.Namespace,
				"snapshots", "--snapshotter", "overlayfs", "info", id).CombinedOutput()
			if err == nil {
				t.Fatalf("the container's snapshot %s is still there:\n%s", id, out)
			}
			return []api.PodRecord{p}
		}},
		{name: "bridge deleted", hit: func(t *testing.T) []api.PodRecord {
			node := frontends[0].Node
			k.run(t, "ip", "link", "del", k.specs[node].Bridge)
			var hit []api.PodRecord
			for _, p := range s.running("") {
				if p.Node == node {
					hit = append(hit, p)
				}
			}
			return hit
		}},
	}
	for _, d := range drifts {
		t.Run(d.name, func(t *testing.T) {
			now, err := k.state(ctx)
			if err != nil {
				t.Fatal(err)
			}
			hit := d.hit(t)
			start := time.Now()
			k.eventually(time.Minute, "the broken pods repaired and the Service answering", func(ctx context.Context) error {
				after, err := k.state(ctx)
				if err != nil {
					return err
				}
				for _, p := range hit {
					if err := repaired(ctx, now, after, p.UID); err != nil {
						return err
					}
				}
				return serviceAnswers(ctx)
			})
			t.Logf("%s: %d pod(s) on %s repaired and the Service answering %s after the breakage",
				d.name, len(hit), hit[0].Node, time.Since(start).Round(100*time.Millisecond))
			// The next breakage starts from a cluster that converged again.
			s = k.waitConverged(time.Minute, s.status.Applied.Commit, exampleCounts())
			fe = s.service("frontend")
		})
	}
}

// repaired checks that pod uid restarted since before (every container's restart
// count went up, so it left the broken sandbox), is Running and Ready, answers on its
// IP when it serves HTTP, and is a ready endpoint of every service that selects it.
func repaired(ctx context.Context, before, after state, uid string) error {
	var was, is *api.PodRecord
	for i := range before.pods {
		if before.pods[i].UID == uid {
			was = &before.pods[i]
		}
	}
	for i := range after.pods {
		if after.pods[i].UID == uid {
			is = &after.pods[i]
		}
	}
	if was == nil || is == nil {
		return fmt.Errorf("pod %s is gone from the store", uid)
	}
	st := is.Status
	if st.Phase != corev1.PodRunning || !st.Ready || len(st.Containers) != len(was.Status.Containers) {
		return fmt.Errorf("pod %s is %s, ready %v (%s %s)", is.Name, st.Phase, st.Ready, st.Reason, st.Message)
	}
	for i, c := range st.Containers {
		if c.RestartCount <= was.Status.Containers[i].RestartCount {
			return fmt.Errorf("pod %s: container %s not restarted yet (%d restarts)", is.Name, c.Name, c.RestartCount)
		}
	}
	for _, c := range is.Spec.Containers {
		for _, port := range c.Ports {
			if port.Name == "http" {
				if err := answers(ctx, hostPort(st.PodIP, port.ContainerPort), ""); err != nil {
					return fmt.Errorf("pod %s on its IP: %w", is.Name, err)
				}
			}
		}
	}
	for _, svc := range after.services {
		if len(svc.Spec.Selector) == 0 || !matches(svc.Spec.Selector, is.Labels) {
			continue
		}
		found := false
		for _, e := range svc.Endpoints {
			found = found || (e.PodUID == uid && e.IP == st.PodIP && e.Ready)
		}
		if !found {
			return fmt.Errorf("pod %s (%s) is not a ready endpoint of service %s", is.Name, st.PodIP, svc.Name)
		}
	}
	return nil
}

// netnsOf is the network namespace path of a pod's sandbox on its node.
func (k *kcluster) netnsOf(t *testing.T, p api.PodRecord) string {
	t.Helper()
	rt, err := k.specs[p.Node].Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	sbs, err := rt.ListSandboxes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, sb := range sbs {
		if sb.PodUID == p.UID {
			return sb.NetNSPath
		}
	}
	t.Fatalf("no sandbox for pod %s on %s", p.Name, p.Node)
	return ""
}

// runningContainer is the ID of a pod's running container (its only one).
func (k *kcluster) runningContainer(t *testing.T, p api.PodRecord) string {
	t.Helper()
	rt, err := k.specs[p.Node].Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	cs, err := rt.ListContainers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.PodUID == p.UID && c.State == "running" {
			return c.ID
		}
	}
	t.Fatalf("no running container of pod %s on %s", p.Name, p.Node)
	return ""
}

func (k *kcluster) run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}
