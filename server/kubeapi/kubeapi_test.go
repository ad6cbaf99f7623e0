package kubeapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/keelson/keelson/api"
)

func clientFor(t *testing.T, url string) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: url})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// get does a raw GET and decodes the JSON answer into out (when non-nil).
func get(t *testing.T, u, accept string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("GET %s: decode %s: %v", u, body, err)
		}
	}
	return resp.StatusCode
}

func TestDiscovery(t *testing.T) {
	srv := serve(t, newFakeStore(exampleState()), nil)
	cs := clientFor(t, srv.URL)
	v, err := cs.Discovery().ServerVersion()
	if err != nil || v.Major != "1" || v.Minor != kubeMinor {
		t.Fatalf("version = %+v, %v", v, err)
	}
	// client-go asks for aggregated discovery first and must fall back to /api, /apis.
	groups, lists, err := cs.Discovery().ServerGroupsAndResources()
	if err != nil {
		t.Fatalf("ServerGroupsAndResources: %v", err)
	}
	if len(groups) != 1 || groups[0].Name != "" || len(lists) != 1 {
		t.Fatalf("groups = %+v", groups)
	}
	short := map[string]string{}
	for _, r := range lists[0].APIResources {
		if !strings.Contains(r.Name, "/") && !slices.Equal(r.Verbs, []string{"get", "list", "watch"}) {
			t.Errorf("%s verbs = %v, want read verbs only", r.Name, r.Verbs)
		}
		for _, s := range r.ShortNames {
			short[s] = r.Name
		}
		if r.Name == "secrets" {
			t.Error("secrets are served")
		}
	}
	for s, want := range map[string]string{"po": "pods", "svc": "services", "rc": "replicationcontrollers", "ep": "endpoints", "no": "nodes", "ns": "namespaces", "ev": "events"} {
		if short[s] != want {
			t.Errorf("short name %s -> %q, want %s", s, short[s], want)
		}
	}
	if code := get(t, srv.URL+"/api/v1/secrets", "", nil); code != http.StatusNotFound {
		t.Errorf("/api/v1/secrets = %d, want 404", code)
	}
}

func TestPodObjects(t *testing.T) {
	srv := serve(t, newFakeStore(exampleState()), nil)
	cs := clientFor(t, srv.URL)
	ctx := context.Background()
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 3 || pods.ResourceVersion != "18" {
		t.Fatalf("%d pods at rv %s, want 3 at 18 (the pods table's index)", len(pods.Items), pods.ResourceVersion)
	}
	a := pods.Items[0]
	if a.Name != "web-aaaaa" || a.UID != "u-a" || a.Spec.NodeName != "n1" || a.Status.HostIP != "192.0.2.1" ||
		a.Status.PodIP != "10.244.1.5" || a.Status.Phase != corev1.PodRunning || a.Status.StartTime == nil ||
		!a.CreationTimestamp.Time.Equal(t0) || a.ResourceVersion != "18" {
		t.Errorf("pod a = %+v", a)
	}
	if len(a.OwnerReferences) != 1 || a.OwnerReferences[0].Kind != "ReplicationController" || a.OwnerReferences[0].Name != "web" ||
		a.OwnerReferences[0].Controller == nil || !*a.OwnerReferences[0].Controller {
		t.Errorf("owner = %+v", a.OwnerReferences)
	}
	rc, err := cs.CoreV1().ReplicationControllers("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil || rc.UID != a.OwnerReferences[0].UID {
		t.Errorf("rc uid %v, owner uid %v, err %v", rc.UID, a.OwnerReferences[0].UID, err)
	}
	cond := map[corev1.PodConditionType]corev1.ConditionStatus{}
	for _, c := range a.Status.Conditions {
		cond[c.Type] = c.Status
	}
	for _, ct := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		if cond[ct] != corev1.ConditionTrue {
			t.Errorf("pod a condition %s = %s", ct, cond[ct])
		}
	}
	b := pods.Items[1].Status.ContainerStatuses[0]
	if b.RestartCount != 3 || b.State.Waiting == nil || b.State.Waiting.Reason != "CrashLoopBackOff" ||
		b.LastTerminationState.Terminated == nil || b.LastTerminationState.Terminated.ExitCode != 2 {
		t.Errorf("crash-looping container = %+v", b)
	}
	c := pods.Items[2]
	if c.Namespace != "tools" || c.Status.Phase != corev1.PodPending || c.Status.Conditions[0].Status != corev1.ConditionFalse || len(c.OwnerReferences) != 0 {
		t.Errorf("pending bare pod = %+v", c.Status)
	}
	if _, err := cs.CoreV1().Pods("default").Get(ctx, "nope", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get missing pod: %v, want NotFound", err)
	}
}

func TestOtherObjects(t *testing.T) {
	srv := serve(t, newFakeStore(exampleState()), nil)
	cs := clientFor(t, srv.URL).CoreV1()
	ctx := context.Background()
	svc, err := cs.Services("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil || svc.Spec.ClusterIP != "10.96.0.10" || svc.Spec.Ports[0].NodePort != 30080 || svc.Labels["tier"] != "front" {
		t.Errorf("service = %+v, %v", svc, err)
	}
	rc, err := cs.ReplicationControllers("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil || rc.Status.Replicas != 2 || rc.Status.ReadyReplicas != 1 || rc.Status.AvailableReplicas != 1 || *rc.Spec.Replicas != 2 {
		t.Errorf("rc = %+v, %v", rc.Status, err)
	}
	ep, err := cs.Endpoints("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil || len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != 1 || len(ep.Subsets[0].NotReadyAddresses) != 1 ||
		ep.Subsets[0].Addresses[0].TargetRef.Name != "web-aaaaa" || ep.Subsets[0].Ports[0].Port != 8080 {
		t.Errorf("endpoints = %+v, %v", ep, err)
	}
	nodes, err := cs.Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) != 2 {
		t.Fatalf("nodes: %v", err)
	}
	n1, n2 := nodes.Items[0], nodes.Items[1]
	if n1.Spec.PodCIDR != "10.244.1.0/24" || n1.Status.Addresses[0].Address != "192.0.2.1" ||
		n1.Status.Capacity.Cpu().MilliValue() != 2000 || n1.Status.Allocatable.Memory().Value() != 3<<30 ||
		n1.Status.Conditions[0].Status != corev1.ConditionTrue || n2.Status.Conditions[0].Status != corev1.ConditionUnknown {
		t.Errorf("nodes = %+v / %+v", n1.Status, n2.Status)
	}
	nss, err := cs.Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil || len(nss.Items) != 2 || nss.Items[0].Name != "default" || nss.Items[1].Name != "tools" {
		t.Errorf("namespaces = %+v, %v", nss, err)
	}
	if _, err := cs.Namespaces().Get(ctx, "tools", metav1.GetOptions{}); err != nil {
		t.Errorf("get namespace: %v", err)
	}
}

func TestSelectors(t *testing.T) {
	srv := serve(t, newFakeStore(exampleState()), nil)
	cs := clientFor(t, srv.URL).CoreV1()
	ctx := context.Background()
	names := func(l *corev1.PodList, err error) string {
		if err != nil {
			return err.Error()
		}
		var out []string
		for _, p := range l.Items {
			out = append(out, p.Name)
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		ns, labels, fields, want string
	}{
		{"", "app=web", "", "web-aaaaa,web-bbbbb"},
		{"", "app!=web", "", "debug"},
		{"default", "", "spec.nodeName=n2", "web-bbbbb"},
		{"", "", "status.phase=Pending", "debug"},
		{"", "", "metadata.name=web-aaaaa,metadata.namespace=default", "web-aaaaa"},
		{"tools", "", "", "debug"},
	} {
		got := names(cs.Pods(tc.ns).List(ctx, metav1.ListOptions{LabelSelector: tc.labels, FieldSelector: tc.fields}))
		if got != tc.want {
			t.Errorf("ns=%q -l %q --field-selector %q: %s, want %s", tc.ns, tc.labels, tc.fields, got, tc.want)
		}
	}
	_, err := cs.Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.restartPolicy=Always"})
	if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "field label not supported: spec.restartPolicy") {
		t.Errorf("unsupported field: %v", err)
	}
	_, err = cs.Pods("").List(ctx, metav1.ListOptions{LabelSelector: "a in (b"})
	if !apierrors.IsBadRequest(err) {
		t.Errorf("bad label selector: %v", err)
	}

	// kubectl describe pod selects its events by the involved object, uid included.
	evs, err := cs.Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=web-bbbbb,involvedObject.namespace=default,involvedObject.kind=Pod,involvedObject.uid=u-b"})
	if err != nil || len(evs.Items) != 1 || evs.Items[0].Reason != "BackOff" || evs.Items[0].Type != "Warning" || evs.Items[0].InvolvedObject.UID != "u-b" {
		t.Errorf("events of web-bbbbb = %+v, %v", evs, err)
	}
	evs, err = cs.Events("").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.kind=Node"})
	if err != nil || len(evs.Items) != 1 || evs.Items[0].Namespace != "default" || evs.Items[0].InvolvedObject.Name != "n2" {
		t.Errorf("node events = %+v, %v", evs, err)
	}
}

func TestPaging(t *testing.T) {
	st := exampleState()
	for i := 0; i < 25; i++ {
		st.pods = append(st.pods, api.PodRecord{UID: "x" + string(rune('a'+i)), Namespace: "bulk", Name: "p-" + string(rune('a'+i)), Desire: api.DesireRun})
	}
	store := newFakeStore(st)
	srv := serve(t, store, nil)
	cs := clientFor(t, srv.URL).CoreV1()
	ctx := context.Background()
	var got []string
	opts := metav1.ListOptions{Limit: 4}
	pages := 0
	for {
		l, err := cs.Pods("").List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, p := range l.Items {
			got = append(got, p.Namespace+"/"+p.Name)
		}
		if pages == 1 {
			// A change between pages must not show: all pages are one state.
			store.update(func(s *fakeState) { s.pods = s.pods[:1] }, "pods")
		}
		if l.Continue == "" {
			break
		}
		if l.RemainingItemCount == nil || *l.RemainingItemCount <= 0 {
			t.Errorf("page %d: remaining = %v", pages, l.RemainingItemCount)
		}
		opts.Continue = l.Continue
	}
	if len(got) != 28 || pages != 7 || !slices.IsSorted(got) {
		t.Errorf("%d items in %d pages: %v", len(got), pages, got)
	}
	if _, err := cs.Pods("").List(ctx, metav1.ListOptions{Limit: 2, Continue: "garbage"}); !apierrors.IsBadRequest(err) {
		t.Errorf("bad continue: %v", err)
	}
	tok := continueToken{RV: 1, After: "x"}.encode()
	if _, err := cs.Pods("").List(ctx, metav1.ListOptions{Limit: 2, Continue: tok}); !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Errorf("expired continue: %v", err)
	}
	l, err := cs.Pods("").List(ctx, metav1.ListOptions{ResourceVersion: "18", ResourceVersionMatch: metav1.ResourceVersionMatchExact})
	if err != nil || len(l.Items) != 28 {
		t.Errorf("exact rv 18 (before the change): %v items, %v", len(l.Items), err)
	}
}

func TestTables(t *testing.T) {
	srv := serve(t, newFakeStore(exampleState()), nil)
	const accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
	for _, tc := range []struct {
		path    string
		columns string
		row0    []any
	}{
		{"/api/v1/pods", "Name,Ready,Status,Restarts,Age,IP,Node,Nominated Node,Readiness Gates",
			[]any{"web-aaaaa", "1/1", "Running", float64(0), "60m", "10.244.1.5", "n1", "<none>", "<none>"}},
		{"/api/v1/namespaces/default/services", "Name,Type,Cluster-IP,External-IP,Port(s),Age,Selector",
			[]any{"web", "NodePort", "10.96.0.10", "<none>", "80:30080/TCP", "60m", "app=web"}},
		{"/api/v1/replicationcontrollers", "Name,Desired,Current,Ready,Age,Containers,Images,Selector",
			[]any{"web", float64(2), float64(2), float64(1), "60m", "web", "reg/web:v1", "app=web"}},
		{"/api/v1/endpoints", "Name,Endpoints,Age", []any{"web", "10.244.1.5:8080", "60m"}},
		{"/api/v1/nodes", "Name,Status,Roles,Age,Version,Internal-IP,External-IP,OS-Image,Kernel-Version,Container-Runtime",
			[]any{"n1", "Ready", "<none>", "60m", kubeVersion, "192.0.2.1", "<none>", "<unknown>", "<unknown>", "containerd"}},
		{"/api/v1/namespaces", "Name,Status,Age", []any{"default", "Active", "60m"}},
		{"/api/v1/events", "Last Seen,Type,Reason,Object,Subobject,Source,Message,First Seen,Count,Name",
			[]any{"60m", "Normal", "Scheduled", "pod/web-aaaaa", "", "keelson", "assigned to n1", "60m", float64(1), "web-aaaaa.1"}},
	} {
		var tab metav1.Table
		if code := get(t, srv.URL+tc.path, accept, &tab); code != 200 || tab.Kind != "Table" || tab.APIVersion != "meta.k8s.io/v1" {
			t.Errorf("%s: %d %s/%s", tc.path, code, tab.APIVersion, tab.Kind)
			continue
		}
		var cols []string
		for _, c := range tab.ColumnDefinitions {
			cols = append(cols, c.Name)
		}
		if strings.Join(cols, ",") != tc.columns {
			t.Errorf("%s columns = %s", tc.path, strings.Join(cols, ","))
		}
		if len(tab.Rows) == 0 || !slices.Equal(tab.Rows[0].Cells, tc.row0) {
			t.Errorf("%s row 0 = %#v, want %#v", tc.path, tab.Rows, tc.row0)
			continue
		}
		var meta metav1.PartialObjectMetadata
		if err := json.Unmarshal(tab.Rows[0].Object.Raw, &meta); err != nil || meta.Kind != "PartialObjectMetadata" || meta.Name == "" {
			t.Errorf("%s row object = %s (%v)", tc.path, tab.Rows[0].Object.Raw, err)
		}
	}
	var tab metav1.Table
	get(t, srv.URL+"/api/v1/pods?includeObject=Object", accept, &tab)
	var pod corev1.Pod
	if err := json.Unmarshal(tab.Rows[1].Object.Raw, &pod); err != nil || pod.Kind != "Pod" || pod.Status.ContainerStatuses[0].RestartCount != 3 {
		t.Errorf("includeObject=Object row = %s", tab.Rows[1].Object.Raw)
	}
	if tab.Rows[1].Cells[2] != "CrashLoopBackOff" || tab.Rows[1].Cells[3] != float64(3) || tab.Rows[2].Cells[2] != "Unschedulable" {
		t.Errorf("pod status cells = %v / %v", tab.Rows[1].Cells, tab.Rows[2].Cells)
	}
	tab = metav1.Table{}
	get(t, srv.URL+"/api/v1/pods?includeObject=None", accept, &tab)
	if tab.Rows[0].Object.Raw != nil {
		t.Errorf("includeObject=None row has an object: %s", tab.Rows[0].Object.Raw)
	}
}

func TestWritesRefused(t *testing.T) {
	store := newFakeStore(exampleState())
	srv := serve(t, store, nil)
	before := store.Snapshot()
	for _, tc := range []struct{ method, path string }{
		{http.MethodDelete, "/api/v1/namespaces/default/pods/web-aaaaa"},
		{http.MethodPost, "/api/v1/namespaces/default/pods"},
		{http.MethodPatch, "/api/v1/namespaces/default/replicationcontrollers/web"},
		{http.MethodPut, "/api/v1/namespaces/default/replicationcontrollers/web/scale"},
		{http.MethodGet, "/api/v1/namespaces/default/replicationcontrollers/web/scale"},
		{http.MethodGet, "/api/v1/namespaces/default/pods/web-aaaaa/exec?command=ls"},
		{http.MethodPost, "/api/v1/namespaces/default/pods/web-aaaaa/portforward"},
		{http.MethodPost, "/api/v1/namespaces/default/pods/web-aaaaa/eviction"},
		{http.MethodDelete, "/api/v1/namespaces/default/secrets/x"},
		{http.MethodPost, "/apis/apps/v1/namespaces/default/deployments"},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(`{}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var st metav1.Status
		_ = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if resp.StatusCode != 405 || st.Kind != "Status" || st.Reason != metav1.StatusReasonMethodNotAllowed || st.Code != 405 {
			t.Errorf("%s %s: %d %+v", tc.method, tc.path, resp.StatusCode, st)
		}
		if !strings.Contains(st.Message, "https://git.example/team/app.git (branch main)") || strings.Contains(st.Message, "s3cret") {
			t.Errorf("%s %s message = %q", tc.method, tc.path, st.Message)
		}
	}
	if store.Snapshot() != before {
		t.Error("a refused write changed the store")
	}
	err := clientFor(t, srv.URL).CoreV1().Pods("default").Delete(context.Background(), "web-aaaaa", metav1.DeleteOptions{})
	if !apierrors.IsMethodNotSupported(err) || !strings.Contains(err.Error(), "Commit the change to https://git.example/team/app.git") {
		t.Errorf("client-go delete: %v", err)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:tok@git.example/a.git?x=1": "https://git.example/a.git",
		"git@github.com:org/app.git":             "git@github.com:org/app.git",
		"/srv/git/app.git":                       "/srv/git/app.git",
		"ssh://git@host:22/app.git":              "ssh://host:22/app.git",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLogs(t *testing.T) {
	var gotNS, gotPod string
	var gotQuery url.Values
	logs := func(w http.ResponseWriter, r *http.Request, ns, pod string, q url.Values) {
		gotNS, gotPod, gotQuery = ns, pod, q
		if pod == "missing" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"pod default/missing is not running on any node"}`))
			return
		}
		_, _ = io.WriteString(w, "line 1\nline 2\n")
	}
	srv := serve(t, newFakeStore(exampleState()), logs)
	cs := clientFor(t, srv.URL).CoreV1()
	ctx := context.Background()
	tail := int64(5)
	out, err := cs.Pods("default").GetLogs("web-aaaaa", &corev1.PodLogOptions{Container: "web", Follow: true, TailLines: &tail}).DoRaw(ctx)
	if err != nil || string(out) != "line 1\nline 2\n" {
		t.Fatalf("logs = %q, %v", out, err)
	}
	if gotNS != "default" || gotPod != "web-aaaaa" || gotQuery.Get("container") != "web" || gotQuery.Get("follow") != "true" || gotQuery.Get("tail") != "5" {
		t.Errorf("log proxy got %s/%s %v", gotNS, gotPod, gotQuery)
	}
	// kubectl logs streams (DoRaw would not decode the Status).
	_, err = cs.Pods("default").GetLogs("missing", &corev1.PodLogOptions{}).Stream(ctx)
	if !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), "not running on any node") {
		t.Errorf("missing pod logs: %v", err)
	}
	_, err = cs.Pods("default").GetLogs("web-aaaaa", &corev1.PodLogOptions{Previous: true}).Stream(ctx)
	if !apierrors.IsBadRequest(err) {
		t.Errorf("previous: %v", err)
	}
}

func TestOpenAPIv2LetsApplyReachTheWrite(t *testing.T) {
	srv := serve(t, newFakeStore(exampleState()), nil)
	resp, err := http.Get(srv.URL + "/openapi/v2")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "2.0") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/com.github.proto-openapi") {
		t.Errorf("/openapi/v2 = %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	if code := get(t, srv.URL+"/openapi/v3", "", nil); code != 404 {
		t.Errorf("/openapi/v3 = %d, want 404 (kubectl then uses v2)", code)
	}
}

// watchEvents collects events from a client-go watch until n arrived.
func watchEvents(t *testing.T, w watch.Interface, n int) []watch.Event {
	t.Helper()
	var out []watch.Event
	timeout := time.After(10 * time.Second)
	for len(out) < n {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch closed after %d events: %v", len(out), out)
			}
			out = append(out, ev)
		case <-timeout:
			t.Fatalf("got %d of %d events: %v", len(out), n, out)
		}
	}
	return out
}

func podName(ev watch.Event) string {
	if p, ok := ev.Object.(*corev1.Pod); ok {
		return p.Name
	}
	return ""
}

func TestWatch(t *testing.T) {
	store := newFakeStore(exampleState())
	srv := serve(t, store, nil)
	cs := clientFor(t, srv.URL).CoreV1()
	ctx := context.Background()

	list, err := cs.Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A change between the list and the watch is still seen: the watch starts at the
	// list's state, which the server kept.
	store.update(func(s *fakeState) { s.pods[0].Status.Ready = false }, "pods")
	w, err := cs.Pods("default").Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion, LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	ev := watchEvents(t, w, 1)[0]
	if ev.Type != watch.Modified || podName(ev) != "web-aaaaa" || ev.Object.(*corev1.Pod).ResourceVersion != "21" {
		t.Fatalf("first event = %s %s", ev.Type, podName(ev))
	}
	store.update(func(s *fakeState) { s.events = append(s.events, api.Event{Seq: 9}) }, "events") // not a pod change
	store.update(func(s *fakeState) {
		s.pods = append(s.pods[1:], api.PodRecord{UID: "u-d", Namespace: "default", Name: "web-ddddd", Labels: map[string]string{"app": "web"}})
	}, "pods")
	evs := watchEvents(t, w, 2)
	types := map[string]watch.EventType{podName(evs[0]): evs[0].Type, podName(evs[1]): evs[1].Type}
	if types["web-ddddd"] != watch.Added || types["web-aaaaa"] != watch.Deleted {
		t.Errorf("events = %v", types)
	}
	// Leaving the label selector is a DELETED for this watch.
	store.update(func(s *fakeState) { s.pods[0].Labels = map[string]string{"app": "other"} }, "pods")
	if ev := watchEvents(t, w, 1)[0]; ev.Type != watch.Deleted || podName(ev) != "web-bbbbb" {
		t.Errorf("relabel = %s %s", ev.Type, podName(ev))
	}

	// resourceVersion 0: synthetic ADDED for what exists.
	w0, err := cs.Pods("tools").Watch(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	if ev := watchEvents(t, w0, 1)[0]; ev.Type != watch.Added || podName(ev) != "debug" {
		t.Errorf("rv=0 first event = %s %s", ev.Type, podName(ev))
	}
	w0.Stop()

	// Too old: 410 Gone, so reflectors relist.
	_, err = cs.Pods("").Watch(ctx, metav1.ListOptions{ResourceVersion: "3"})
	if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Errorf("too old watch: %v", err)
	}
}

func TestWatchBookmarkAndTimeout(t *testing.T) {
	store := newFakeStore(exampleState())
	srv := serve(t, store, nil)
	cs := clientFor(t, srv.URL).CoreV1()
	timeout := int64(1)
	w, err := cs.Nodes().Watch(context.Background(), metav1.ListOptions{ResourceVersion: "5", TimeoutSeconds: &timeout, AllowWatchBookmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	store.update(func(s *fakeState) { s.nodes[1].Status = api.NodeReady }, "nodes")
	ev := watchEvents(t, w, 1)[0]
	if n, ok := ev.Object.(*corev1.Node); ev.Type != watch.Modified || !ok || n.Name != "n2" || n.Status.Conditions[0].Status != corev1.ConditionTrue {
		t.Errorf("node event = %v", ev)
	}
	// timeoutSeconds=1 ends the stream: the channel closes.
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-w.ResultChan():
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("watch did not end after timeoutSeconds")
		}
	}
}

func TestWatchTable(t *testing.T) {
	store := newFakeStore(exampleState())
	srv := serve(t, store, nil)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/namespaces/tools/pods?watch=true&resourceVersion=18", nil)
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	store.update(func(s *fakeState) { s.pods[2].Node = "n1"; s.pods[2].Status = api.PodStatus{Phase: corev1.PodRunning} }, "pods")
	var ev metav1.WatchEvent
	if err := json.NewDecoder(resp.Body).Decode(&ev); err != nil {
		t.Fatal(err)
	}
	var tab metav1.Table
	if err := json.Unmarshal(ev.Object.Raw, &tab); err != nil || ev.Type != "MODIFIED" || tab.Kind != "Table" ||
		len(tab.ColumnDefinitions) != len(podColumns) || len(tab.Rows) != 1 || tab.Rows[0].Cells[2] != "Running" {
		t.Errorf("table watch event = %s %s", ev.Type, ev.Object.Raw)
	}
}

func TestKubeconfig(t *testing.T) {
	out, err := Kubeconfig(KubeconfigOptions{Server: "http://127.0.0.1:7480", Token: "read-tok"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"server: http://127.0.0.1:7480", "token: read-tok", "current-context: keelson"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("kubeconfig lacks %q:\n%s", want, out)
		}
	}
}
