package node

// Unit tests of the agent's pure helpers. The tests of agents and pod workers on the
// fake runtime are in package node_test, since node/nodetest imports node.

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	corev1 "k8s.io/api/core/v1"
)

// The advertised agent URL is derived from the node address and the listen address;
// a log endpoint without mutual TLS is refused.
func TestAgentURL(t *testing.T) {
	cfg := Config{Name: "n1", DataDir: t.TempDir(), AgentListen: "127.0.0.1:0",
		Runtime: struct{ Runtime }{}, ControlPlane: struct{ ControlPlane }{},
		Capacity: api.Resources{MilliCPU: 1000, MemoryBytes: 1 << 30}}
	if _, err := cfg.withDefaults(); err == nil {
		t.Error("a log endpoint without TLS was accepted")
	}
	cfg.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert}
	cfg, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AgentURL != "https://127.0.0.1:0" {
		t.Errorf("agent URL %q", cfg.AgentURL)
	}
	if got := agentURL("192.0.2.1", ":10250"); got != "https://192.0.2.1:10250" {
		t.Errorf("agentURL = %q", got)
	}
}

// reportSink is a ControlPlane that only takes status reports, failing while fail is set.
type reportSink struct {
	ControlPlane
	fail    bool
	reports []api.PodStatusReport
}

func (f *reportSink) ReportStatus(ctx context.Context, r []api.PodStatusReport) error {
	if f.fail {
		return errors.New("leader unavailable")
	}
	f.reports = append(f.reports, r...)
	return nil
}

func TestStatusReporterSendsChangesAndRetries(t *testing.T) {
	cp := &reportSink{}
	b := newStatusReporter()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	rep := func(uid string, phase corev1.PodPhase) api.PodStatusReport {
		return api.PodStatusReport{UID: uid, Node: "n1", Status: api.PodStatus{Phase: phase, ObservedAt: time.Now()}}
	}
	b.set(rep("a", corev1.PodPending))
	b.set(rep("a", corev1.PodRunning)) // coalesced: only the newest goes
	b.set(rep("b", corev1.PodRunning))
	b.flush(ctx, cp, log)
	if n := len(cp.reports); n != 2 || cp.reports[0].Status.Phase != corev1.PodRunning {
		t.Fatalf("first batch %+v", cp.reports)
	}
	b.set(rep("a", corev1.PodRunning)) // unchanged apart from ObservedAt
	b.flush(ctx, cp, log)
	if n := len(cp.reports); n != 2 {
		t.Fatalf("an unchanged report was resent (%d reports)", n)
	}
	cp.fail = true
	b.set(rep("a", corev1.PodFailed))
	b.flush(ctx, cp, log)
	cp.fail = false
	b.flush(ctx, cp, log)
	if n := len(cp.reports); n != 3 || cp.reports[2].Status.Phase != corev1.PodFailed {
		t.Fatalf("failed batch not retried: %+v", cp.reports)
	}
}

func TestRotateLog(t *testing.T) {
	p := filepath.Join(t.TempDir(), "app-0.log")
	if err := rotateLog(p, 10); err != nil {
		t.Fatalf("missing file: %v", err)
	}
	if err := os.WriteFile(p, []byte("0123456789abcdef\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rotateLog(p, 10); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(p + ".1")
	cur, _ := os.ReadFile(p)
	if string(old) != "0123456789abcdef\n" || len(cur) != 0 {
		t.Errorf("after rotation: old %q current %q", old, cur)
	}
}

func TestExpandVars(t *testing.T) {
	lookup := func(k string) (string, bool) {
		v, ok := map[string]string{"A": "x", "B": "y"}[k]
		return v, ok
	}
	for in, want := range map[string]string{
		"$(A)-$(B)": "x-y", "$$(A)": "$(A)", "$(C)": "$(C)", "cost $5": "cost $5", "$(A": "$(A", "end$": "end$",
	} {
		if got := expandVars(in, lookup); got != want {
			t.Errorf("expandVars(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMemTotal(t *testing.T) {
	p := filepath.Join(t.TempDir(), "meminfo")
	os.WriteFile(p, []byte("MemTotal:       24576000 kB\nMemFree: 1 kB\n"), 0o644)
	if got, err := memTotal(p); err != nil || got != 24576000*1024 {
		t.Errorf("memTotal = %d, %v", got, err)
	}
	if !strings.Contains(agentURL("10.0.0.5", "0.0.0.0:9000"), "10.0.0.5:9000") {
		t.Error("agentURL does not substitute the node address for 0.0.0.0")
	}
}

func TestHostPathAllowed(t *testing.T) {
	prefixes := []string{"/srv/data", "/var/log/"}
	for p, want := range map[string]bool{
		"/srv/data": true, "/srv/data/x": true, "/var/log/app": true,
		"/srv/database": false, "/srv/data/../../etc": false, "relative/srv/data": false, "/etc": false,
	} {
		if got := hostPathAllowed(p, prefixes); got != want {
			t.Errorf("hostPathAllowed(%q) = %v, want %v", p, got, want)
		}
	}
	if hostPathAllowed("/srv/data", nil) {
		t.Error("hostPath allowed with no prefixes")
	}
}

func TestPullPolicyDefault(t *testing.T) {
	for img, want := range map[string]string{
		"app": "Always", "app:latest": "Always", "localhost:5000/app": "Always",
		"localhost:5000/app:v1": "IfNotPresent", "app@sha256:abc": "IfNotPresent",
	} {
		if got := pullPolicy(&corev1.Container{Image: img}); got != want {
			t.Errorf("pullPolicy(%s) = %s, want %s", img, got, want)
		}
	}
}

// countingDNS counts what the agent feeds the DNS server.
type countingDNS struct{ updates int }

func (c *countingDNS) Update(string, []api.ServiceRecord, []api.Endpoints) { c.updates++ }

// The DNS server's index is rebuilt only when a view changes what it serves: the
// services, the endpoints or the domain; a view that changes only pods costs nothing.
func TestObserveDNSFeedsOnlyChanges(t *testing.T) {
	d := &countingDNS{}
	a := &Agent{cfg: Config{DNS: d}, dns: &clusterDNS{}}
	ctx := context.Background()
	svcs := []api.ServiceRecord{{Namespace: "default", Name: "web"}}
	steps := []struct {
		view api.NodeView
		want int
	}{
		{api.NodeView{}, 1}, // the first view always feeds, even an empty one
		{api.NodeView{Pods: []api.PodRecord{{UID: "u1"}}}, 1},
		{api.NodeView{Services: svcs}, 2},
		{api.NodeView{Services: []api.ServiceRecord{{Namespace: "default", Name: "web"}}, Pods: []api.PodRecord{{UID: "u2"}}}, 2},
		{api.NodeView{Services: svcs, Endpoints: []api.Endpoints{{Namespace: "default", Name: "web"}}}, 3},
		{api.NodeView{Services: svcs, Endpoints: []api.Endpoints{{Namespace: "default", Name: "web"}}, ClusterDomain: "corp.local"}, 4},
	}
	for i, s := range steps {
		a.observeDNS(ctx, &s.view)
		if d.updates != s.want {
			t.Fatalf("after view %d: %d updates, want %d", i, d.updates, s.want)
		}
	}
	if got := a.dns.clusterDomain(); got != "corp.local" {
		t.Errorf("cluster domain %q", got)
	}
}
