package node_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/node"
	"github.com/keelson/keelson/node/nodetest"
	"github.com/keelson/keelson/pki"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// An agent that restarts finds its pods in the runtime and adopts them: the running
// container is neither duplicated nor restarted, the IP stays, an exited container
// continues from its attempt, and what is no longer assigned is removed.
func TestAdoptionAfterAgentRestart(t *testing.T) {
	rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.1.0/24")
	cfg := testConfig(t, rt, cp)
	_, stop := runAgent(t, cfg)
	cp.setPod(pod("keep", ctr("app")))
	cp.setPod(pod("crashed", ctr("app")))
	cp.setPod(pod("orphan", ctr("app")))
	before := map[string]api.PodStatusReport{}
	for _, uid := range []string{"keep", "crashed", "orphan"} {
		before[uid] = waitStatus(t, cp, uid, "Running", running)
	}
	stop()

	// While no agent runs: a container exits, and the orphan is unassigned.
	if err := rt.ExitContainer(nodetest.FakeContainerID("crashed", "app", 0), 1); err != nil {
		t.Fatal(err)
	}
	cp.removePod("orphan")
	cp.forget()
	statsBefore := rt.Stats()

	runAgent(t, cfg) // same runtime, same data dir
	r := waitStatus(t, cp, "keep", "Running after the restart", running)
	if r.Status.PodIP != before["keep"].Status.PodIP {
		t.Errorf("IP changed from %s to %s", before["keep"].Status.PodIP, r.Status.PodIP)
	}
	if c := r.Status.Containers[0]; c.ContainerID != nodetest.FakeContainerID("keep", "app", 0) || c.RestartCount != 0 {
		t.Errorf("adopted container %+v, want attempt 0 kept", c)
	}
	r = waitStatus(t, cp, "crashed", "restarted as attempt 1", func(r api.PodStatusReport) bool {
		return running(r) && r.Status.Containers[0].RestartCount == 1
	})
	if r.Status.PodIP != before["crashed"].Status.PodIP {
		t.Errorf("IP of the restarted pod changed from %s to %s", before["crashed"].Status.PodIP, r.Status.PodIP)
	}
	waitStatus(t, cp, "orphan", "Gone", func(r api.PodStatusReport) bool { return r.Gone })

	st := rt.Stats()
	if st.SandboxesCreated != statsBefore.SandboxesCreated {
		t.Errorf("%d new sandboxes after restart, want 0", st.SandboxesCreated-statsBefore.SandboxesCreated)
	}
	if n := st.ContainersCreated - statsBefore.ContainersCreated; n != 1 {
		t.Errorf("%d containers created after restart, want 1 (the crashed one's next attempt)", n)
	}
	for _, uid := range []string{"keep", "crashed"} {
		if n := len(podContainers(t, rt, uid)); n != 1 {
			t.Errorf("pod %s has %d containers, want 1", uid, n)
		}
	}
	if n := len(podContainers(t, rt, "orphan")); n != 0 {
		t.Errorf("orphan still has %d containers", n)
	}
	calls := rt.ReconcileCalls()
	if len(calls) == 0 {
		t.Fatal("IP reconciliation not called")
	}
	if last := calls[len(calls)-1]; !last["keep"] || !last["crashed"] {
		t.Errorf("reconcile live set %v, want keep and crashed in it", last)
	}
	if sbs, _ := rt.ListSandboxes(context.Background()); len(sbs) != 2 {
		t.Errorf("sandboxes after cleanup: %+v, want keep's and crashed's", sbs)
	}
}

// Fencing by UID: a pod that disappears from the view is stopped and reported Gone.
func TestFencingStopsUnassignedPods(t *testing.T) {
	rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.1.0/24")
	runAgent(t, testConfig(t, rt, cp))
	cp.setPod(pod("u1", ctr("app")))
	cp.setPod(pod("u2", ctr("app")))
	waitStatus(t, cp, "u1", "Running", running)
	waitStatus(t, cp, "u2", "Running", running)

	cp.removePod("u1")
	r := waitStatus(t, cp, "u1", "Gone", func(r api.PodStatusReport) bool { return r.Gone })
	if r.Node != "n1" {
		t.Errorf("report from node %q", r.Node)
	}
	if n := len(podContainers(t, rt, "u1")); n != 0 {
		t.Errorf("%d containers of the removed pod left", n)
	}
	if r, _ := cp.report("u2"); !running(r) || len(podContainers(t, rt, "u2")) != 1 {
		t.Errorf("the other pod was disturbed: %+v", r.Status)
	}
}

// A lagging server's older (empty) view must not stop pods assigned since: the agent
// ignores answers older than what it applied.
func TestOlderViewDoesNotStopPods(t *testing.T) {
	rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.1.0/24")
	a, _ := runAgent(t, testConfig(t, rt, cp))
	cp.setPod(pod("u1", ctr("app")))
	waitStatus(t, cp, "u1", "Running", running)

	// Serve two older views, then hold: whatever the agent made of them stays its
	// latest view until the test looks.
	cp.mu.Lock()
	cp.stale, cp.hold = 2, true
	cp.bumpLocked()
	cp.mu.Unlock()
	waitFor(t, "the agent to read both older views and wait for more", func() bool {
		cp.mu.Lock()
		defer cp.mu.Unlock()
		return cp.staleServed == 2 && cp.holding > 0
	})
	if n := node.IgnoredViews(a); n != 2 {
		t.Fatalf("the agent ignored %d older views, want 2", n)
	}
	// Release with something new: the agent goes on from the view it had.
	cp.mu.Lock()
	cp.hold = false
	cp.mu.Unlock()
	cp.setPod(pod("u2", ctr("app")))
	waitStatus(t, cp, "u2", "Running", running)
	for _, r := range cp.history("u1") {
		if r.Gone {
			t.Fatal("the pod was stopped because of an older view")
		}
	}
	if n := len(podContainers(t, rt, "u1")); n != 1 {
		t.Errorf("pod u1 has %d containers, want 1", n)
	}
}

// A node that loses its servers keeps its pods (and does not clean up leftovers it
// cannot check); when it reconnects it stops what is no longer assigned.
func TestServersUnreachableKeepsPods(t *testing.T) {
	rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.1.0/24")
	cfg := testConfig(t, rt, cp)
	_, stop := runAgent(t, cfg)
	cp.setPod(pod("u1", ctr("app")))
	cp.setPod(pod("u2", ctr("app")))
	waitStatus(t, cp, "u1", "Running", running)
	waitStatus(t, cp, "u2", "Running", running)

	cp.setDown(true)
	waitFor(t, "several failed calls", func() bool { return cp.failedCalls() >= 10 })
	// An agent restarted while the servers are down must not clean up either.
	stop()
	runAgent(t, cfg)
	waitFor(t, "more failed calls", func() bool { return cp.failedCalls() >= 20 })
	for _, uid := range []string{"u1", "u2"} {
		cs := podContainers(t, rt, uid)
		if len(cs) != 1 || cs[0].State != "running" {
			t.Fatalf("pod %s containers %+v while servers are down, want still running", uid, cs)
		}
	}
	if st := rt.Stats(); st.ContainersStopped != 0 || st.SandboxesRemoved != 0 {
		t.Fatalf("something was stopped while servers were down: %+v", st)
	}

	cp.removePod("u2") // the leader moved it elsewhere meanwhile
	cp.setDown(false)
	waitStatus(t, cp, "u2", "Gone after reconnecting", func(r api.PodStatusReport) bool { return r.Gone })
	if r := waitStatus(t, cp, "u1", "Running", running); r.Status.Containers[0].RestartCount != 0 {
		t.Errorf("u1 restarted: %+v", r.Status.Containers[0])
	}
	cp.mu.Lock()
	regs := cp.registers
	cp.mu.Unlock()
	if regs < 2 {
		t.Errorf("agent did not re-register after reconnecting (%d registrations)", regs)
	}
}

// Real HTTP and TCP probes against a local server: the fake runtime gives pods
// 127.0.0.1 so the host prober reaches the test server.
func TestHTTPAndTCPProbes(t *testing.T) {
	var healthy atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" || !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	_, portStr, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)

	rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.1.0/24")
	rt.UseLoopbackIPs()
	runAgent(t, testConfig(t, rt, cp))
	c := ctr("web")
	c.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}
	c.ReadinessProbe = &corev1.Probe{PeriodSeconds: 1, FailureThreshold: 1, ProbeHandler: corev1.ProbeHandler{
		HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}}}
	c.LivenessProbe = &corev1.Probe{PeriodSeconds: 1, ProbeHandler: corev1.ProbeHandler{
		TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(port))}}}
	cp.setPod(pod("u1", c))

	r := waitStatus(t, cp, "u1", "Running", func(r api.PodStatusReport) bool { return r.Status.Phase == corev1.PodRunning })
	if r.Status.Ready {
		t.Fatal("ready while /healthz answers 503")
	}
	healthy.Store(true)
	r = waitStatus(t, cp, "u1", "Ready", running)
	if r.Status.PodIP != "127.0.0.1" || r.Status.Containers[0].RestartCount != 0 {
		t.Errorf("status %+v", r.Status)
	}
	healthy.Store(false)
	waitStatus(t, cp, "u1", "not Ready", func(r api.PodStatusReport) bool { return !r.Status.Ready })

	srv.Close() // the TCP liveness probe now fails: restart
	waitStatus(t, cp, "u1", "restart after TCP liveness failure", func(r api.PodStatusReport) bool {
		return r.Status.Containers[0].RestartCount >= 1
	})
}

func TestLogEndpoint(t *testing.T) {
	rt, cp := nodetest.NewFakeRuntime(), newFakeCP("10.244.1.0/24")
	cfg := testConfig(t, rt, cp)
	a, _ := runAgent(t, cfg)
	cp.setPod(pod("u1", ctr("app")))
	waitStatus(t, cp, "u1", "Running", running)
	id := nodetest.FakeContainerID("u1", "app", 0)
	for _, l := range []string{"one", "two", "three"} {
		if err := rt.AppendLog(id, l); err != nil {
			t.Fatal(err)
		}
	}
	ca, err := pki.NewCA("node test")
	if err != nil {
		t.Fatal(err)
	}
	pair := func(role pki.Role, name string) *tls.Certificate {
		c, k, err := ca.IssueKeyPair(role, name, []string{"127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		kp, err := tls.X509KeyPair(c, k)
		if err != nil {
			t.Fatal(err)
		}
		return &kp
	}
	srv := httptest.NewUnstartedServer(a.LogHandler())
	srv.TLS = pki.MutualTLS(ca.Pool(), *pair(pki.RoleNode, "n1"), pki.RoleServer)
	srv.StartTLS()
	defer srv.Close()
	get := func(path string, cert *tls.Certificate) (int, string, error) {
		tr := &http.Transport{TLSClientConfig: pki.ClientTLS(ca.Pool(), cert)}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get(srv.URL + path)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	base := api.PathAgentLogs + "u1/app"
	if _, _, err := get(base, nil); err == nil {
		t.Error("a caller without a certificate was served")
	}
	if _, _, err := get(base, pair(pki.RoleNode, "n2")); err == nil {
		t.Error("another node's certificate was served")
	}
	if _, _, err := get(base, pair(pki.RoleReader, "alice")); err == nil {
		t.Error("a reader certificate was served")
	}
	server := pair(pki.RoleServer, "s1")
	if code, body, err := get(base, server); code != http.StatusOK || body != "one\ntwo\nthree\n" {
		t.Errorf("logs: %d %q %v", code, body, err)
	}
	if code, body, _ := get(base+"?tail=1", server); code != http.StatusOK || body != "three\n" {
		t.Errorf("tail=1: %d %q", code, body)
	}
	if code, _, _ := get(api.PathAgentLogs+"u1/nope", server); code != http.StatusNotFound {
		t.Errorf("unknown container: %d", code)
	}
	if code, _, _ := get(base+"?tail=x", server); code != http.StatusBadRequest {
		t.Errorf("bad tail: %d", code)
	}
}
