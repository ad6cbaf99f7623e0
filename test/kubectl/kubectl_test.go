package kubectl

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/server/client"
	"github.com/keelson/keelson/server/kubeapi"
)

// TestKubectl is one cluster, one deploy, and kubectl used as on any cluster; the
// informer failover runs last because it kills the leader.
func TestKubectl(t *testing.T) {
	k := newCluster(t)
	k.writeManifests(2, "v1")
	commit := k.push("deploy the frontend")
	pods := k.converged(commit, 2, "v1")

	t.Run("get pods -A -o wide", func(t *testing.T) { k.checkWide(t, pods) })
	t.Run("read credential required", func(t *testing.T) { k.checkCredentialRequired(t) })
	t.Run("get svc,rc,ep,nodes,events", func(t *testing.T) { k.checkMultiGet(t, pods) })
	t.Run("selectors and -o json|yaml", func(t *testing.T) { k.checkSelectorsAndJSON(t, pods) })
	t.Run("describe pod", func(t *testing.T) { k.checkDescribe(t, pods[0]) })
	t.Run("logs -f", func(t *testing.T) { k.checkLogsFollow(t, pods[0]) })
	t.Run("writes refused", func(t *testing.T) { k.checkWritesRefused(t, pods) })
	var rolled []api.PodRecord
	t.Run("get pods -w sees a git push rollout", func(t *testing.T) { rolled = k.checkWatchRollout(t, pods) })
	if t.Failed() {
		return
	}
	t.Run("informer through leader failover", func(t *testing.T) { k.checkInformerFailover(t, rolled) })
}

func (k *kcluster) checkWide(t *testing.T, pods []api.PodRecord) {
	out := k.mustKubectl(t, "get", "pods", "-A", "-o", "wide")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if hdr := strings.Join(strings.Fields(lines[0]), " "); hdr != "NAMESPACE NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES" {
		t.Errorf("header = %q", hdr)
	}
	if len(lines) != len(pods)+1 {
		t.Fatalf("%d rows, want %d:\n%s", len(lines)-1, len(pods), out)
	}
	for _, p := range pods {
		want := regexp.MustCompile(`(?m)^default\s+` + p.Name + `\s+1/1\s+Running\s+0\s+\S+\s+` +
			regexp.QuoteMeta(p.Status.PodIP) + `\s+` + p.Node + `\s+<none>\s+<none>$`)
		if !want.MatchString(out) {
			t.Errorf("no row %s for pod %s:\n%s", want, p.Name, out)
		}
	}
}

// checkCredentialRequired: the kubeconfig's read token is what lets kubectl in: the
// same server and CA with another token are refused 403. (A kubeconfig with no
// credential at all makes kubectl prompt for a user name instead of sending the
// request; the 401 without a token is server.TestKubeAPIMounted's.)
func (k *kcluster) checkCredentialRequired(t *testing.T) {
	for _, tc := range []struct{ token, want string }{
		{"not-the-read-token", "Forbidden"},
	} {
		b, err := kubeapi.Kubeconfig(kubeapi.KubeconfigOptions{Server: k.procs.ServerURLs()[0], Token: tc.token, CAFile: k.procs.CAFile()})
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "kubeconfig")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, "kubectl", "--kubeconfig", p, "get", "pods")
		out, err := cmd.CombinedOutput()
		cancel()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("kubectl get pods with token %q: %v, want refused %s:\n%s", tc.token, err, tc.want, out)
		}
	}
}

func (k *kcluster) checkMultiGet(t *testing.T, pods []api.PodRecord) {
	out := k.mustKubectl(t, "get", "svc,rc,ep,nodes,events")
	eps := make([]string, 0, len(pods))
	for _, p := range pods {
		eps = append(eps, p.Status.PodIP+":8080")
	}
	svcs, _, err := k.c.Services(context.Background(), client.QueryOptions{})
	if err != nil || len(svcs) != 1 {
		t.Fatalf("services: %v %v", svcs, err)
	}
	for _, re := range []string{
		`(?m)^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE$`,
		`(?m)^service/frontend\s+NodePort\s+` + regexp.QuoteMeta(svcs[0].Spec.ClusterIP) + `\s+<none>\s+80:` + fmt.Sprint(nodePort) + `/TCP\s+\S+$`,
		`(?m)^NAME\s+DESIRED\s+CURRENT\s+READY\s+AGE$`,
		`(?m)^replicationcontroller/frontend\s+2\s+2\s+2\s+\S+$`,
		`(?m)^NAME\s+ENDPOINTS\s+AGE$`,
		`(?m)^endpoints/frontend\s+\S*` + regexp.QuoteMeta(pods[0].Status.PodIP) + `:8080\S*\s+\S+$`,
		`(?m)^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION$`,
		`(?m)^node/` + nodeName + `\s+Ready\s+<none>\s+\S+\s+v1\.31\.4-keelson$`,
		`(?m)^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$`,
		`(?m)^\S+\s+Normal\s+SuccessfulCreate\s+pod/` + pods[0].Name + `\s+`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("kubectl get svc,rc,ep,nodes,events lacks %s:\n%s", re, out)
		}
	}
	for _, ep := range eps {
		if !strings.Contains(out, ep) {
			t.Errorf("endpoints lack %s:\n%s", ep, out)
		}
	}
}

func (k *kcluster) checkSelectorsAndJSON(t *testing.T, pods []api.PodRecord) {
	if out := k.mustKubectl(t, "get", "pods", "-l", "tier=frontend", "-o", "name"); strings.Count(out, "pod/") != len(pods) {
		t.Errorf("-l tier=frontend:\n%s", out)
	}
	if out := k.mustKubectl(t, "get", "pods", "-l", "tier!=frontend", "-o", "name"); strings.TrimSpace(out) != "" {
		t.Errorf("-l tier!=frontend:\n%s", out)
	}
	out := k.mustKubectl(t, "get", "pods", "--field-selector", "spec.nodeName="+nodeName, "-o", "json")
	var list corev1.PodList
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	if len(list.Items) != len(pods) {
		t.Fatalf("-o json: %d pods, want %d", len(list.Items), len(pods))
	}
	byName := map[string]api.PodRecord{}
	for _, p := range pods {
		byName[p.Name] = p
	}
	for _, p := range list.Items {
		rec, ok := byName[p.Name]
		if !ok || string(p.UID) != rec.UID || p.Status.PodIP != rec.Status.PodIP || p.Status.Phase != corev1.PodRunning ||
			len(p.OwnerReferences) != 1 || p.OwnerReferences[0].Name != "frontend" || p.Status.HostIP == "" ||
			len(p.Status.ContainerStatuses) != 1 || !p.Status.ContainerStatuses[0].Ready || p.ResourceVersion == "" {
			t.Errorf("pod %s in -o json = %+v (store: %+v)", p.Name, p.Status, rec.Status)
		}
	}
	y := k.mustKubectl(t, "get", "pod", pods[0].Name, "-o", "yaml")
	for _, want := range []string{"kind: Pod", "uid: " + pods[0].UID, "podIP: " + pods[0].Status.PodIP, "kind: ReplicationController", "controller: true"} {
		if !strings.Contains(y, want) {
			t.Errorf("-o yaml lacks %q:\n%s", want, y)
		}
	}
}

func (k *kcluster) checkDescribe(t *testing.T, p api.PodRecord) {
	out := k.mustKubectl(t, "describe", "pod", p.Name)
	for _, re := range []string{
		`(?m)^Name:\s+` + p.Name + `$`, `(?m)^Node:\s+` + nodeName + `/`, `(?m)^Status:\s+Running$`,
		`(?m)^IP:\s+` + regexp.QuoteMeta(p.Status.PodIP) + `$`, `(?m)^Controlled By:\s+ReplicationController/frontend$`,
		`(?m)^Events:$`, `(?m)^\s+Normal\s+SuccessfulCreate\s+\S+\s+keelson\s+created pod ` + p.Name,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("describe pod lacks %s:\n%s", re, out)
		}
	}
}

func (k *kcluster) checkLogsFollow(t *testing.T, p api.PodRecord) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", "--kubeconfig", k.kubeconfig, "logs", "-f", "--tail=1", p.Name)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	// The readiness probe requests /healthz every 2 s: a followed log keeps growing.
	sc := bufio.NewScanner(stdout)
	var lines []string
	for len(lines) < 3 && sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) < 3 {
		t.Fatalf("logs -f gave %d lines before it ended: %q (%v)", len(lines), lines, sc.Err())
	}
	if !strings.Contains(strings.Join(lines[1:], "\n"), "path=/healthz") {
		t.Errorf("followed lines are not the probe's requests: %q", lines)
	}
}

// checkWritesRefused runs the writes a kubectl user tries first: each fails with the
// Git repository and branch in its message, and the store is unchanged.
func (k *kcluster) checkWritesRefused(t *testing.T, pods []api.PodRecord) {
	ctx := context.Background()
	before, _, err := k.c.Pods(ctx, client.QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := k.c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	manifest := k.repo.Work + "/frontend.yaml"
	wantMsg := "Commit the change to " + k.repo.Bare + " (branch main)"
	for _, args := range [][]string{
		{"delete", "pod", pods[0].Name},
		{"apply", "-f", manifest},
		{"scale", "rc", "frontend", "--replicas=5"},
		{"create", "-f", manifest},
		{"exec", pods[0].Name, "--", "true"},
	} {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		out, errOut, err := k.kubectl(cctx, args...)
		cancel()
		if err == nil {
			t.Errorf("kubectl %s succeeded:\n%s", strings.Join(args, " "), out)
			continue
		}
		if !strings.Contains(errOut, "MethodNotAllowed") && !strings.Contains(errOut, "read-only") || !strings.Contains(errOut, wantMsg) {
			t.Errorf("kubectl %s: stderr lacks %q:\n%s", strings.Join(args, " "), wantMsg, errOut)
		}
	}
	after, _, err := k.c.Pods(ctx, client.QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st2, err := k.c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if uidsOf(before) != uidsOf(after) || st2.Applied.Commit != st.Applied.Commit {
		t.Errorf("the store changed: pods %s -> %s, commit %s -> %s", uidsOf(before), uidsOf(after), st.Applied.Commit, st2.Applied.Commit)
	}
}

func uidsOf(pods []api.PodRecord) string {
	var out []string
	for _, p := range pods {
		out = append(out, p.UID+"/"+string(p.Desire))
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// checkWatchRollout pushes v1 -> v2 while `kubectl get pods -w` runs: the watch shows
// the new pods ADDED and the old ones DELETED, ending on the store's pods.
func (k *kcluster) checkWatchRollout(t *testing.T, old []api.PodRecord) []api.PodRecord {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", "--kubeconfig", k.kubeconfig, "get", "pods", "-w", "--output-watch-events", "--no-headers")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	events := make(chan []string, 256)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			events <- strings.Fields(sc.Text())
		}
	}()
	// The initial list arrives as ADDED of the running pods.
	seen := map[string]bool{}
	for len(seen) < len(old) {
		ev, ok := <-events
		if !ok {
			t.Fatal("kubectl get -w ended during its initial list")
		}
		if len(ev) >= 2 && ev[0] == "ADDED" {
			seen[ev[1]] = true
		}
	}
	k.writeManifests(2, "v2")
	commit := k.push("roll the frontend to v2")
	rolled := k.converged(commit, 2, "v2")
	want := map[string]string{} // name -> last event type wanted
	for _, p := range old {
		want[p.Name] = "DELETED"
	}
	for _, p := range rolled {
		want[p.Name] = "ready"
	}
	last := map[string][]string{}
	for {
		done := true
		for name, w := range want {
			ev := last[name]
			switch {
			case w == "DELETED" && (len(ev) == 0 || ev[0] != "DELETED"):
				done = false
			case w == "ready" && (len(ev) < 4 || ev[0] == "DELETED" || ev[2] != "1/1" || ev[3] != "Running"):
				done = false
			}
		}
		if done {
			return rolled
		}
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("kubectl get -w ended; last events %v", last)
			}
			if len(ev) >= 2 {
				last[ev[1]] = ev
			}
		case <-ctx.Done():
			t.Fatalf("the watch did not show the rollout: want %v, last events %v", want, last)
		}
	}
}
