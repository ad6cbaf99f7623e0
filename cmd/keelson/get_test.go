package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson/internal/testenv"

	"github.com/keelson/keelson/api"
)

func TestGetGolden(t *testing.T) {
	_, url := newFakeAPI(t)
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"get_pods.golden", []string{"pods"}},
		{"get_pods_wide.golden", []string{"po", "-o", "wide"}},
		{"get_pods_all.golden", []string{"pods", "-A"}},
		{"get_pods_selector.golden", []string{"pods", "-l", "tier=frontend"}},
		{"get_pod_json.golden", []string{"pod", "toolbox", "-o", "json"}},
		{"get_pods_yaml.golden", []string{"pods", "-n", "ops", "-o", "yaml"}},
		{"get_pods_name.golden", []string{"pods", "-o", "name"}},
		{"get_nodes.golden", []string{"nodes"}},
		{"get_nodes_wide.golden", []string{"no", "-o", "wide"}},
		{"get_services.golden", []string{"svc"}},
		{"get_services_wide.golden", []string{"services", "-o", "wide"}},
		{"get_rc.golden", []string{"rc"}},
		{"get_rc_wide.golden", []string{"replicationcontrollers", "-o", "wide"}},
		{"get_rc_json.golden", []string{"rc", "-o", "json"}},
		{"get_empty.golden", []string{"pods", "-n", "nothing-here"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			out, errOut, code := run(t, context.Background(), getCmd(testEnv()), append(tc.args, "--server", url)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			golden(t, tc.golden, out)
		})
	}
}

func TestGetJSONRoundTrips(t *testing.T) {
	_, url := newFakeAPI(t)
	out, errOut, code := run(t, context.Background(), getCmd(testEnv()), "pods", "-A", "-o", "json", "--server", url)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var pods []api.PodRecord
	if err := json.Unmarshal([]byte(out), &pods); err != nil {
		t.Fatal(err)
	}
	if len(pods) != 6 || pods[5].Namespace != "ops" || pods[0].Status.Containers[0].RestartCount != 4 {
		t.Fatalf("pods %+v", pods)
	}
}

func TestGetErrors(t *testing.T) {
	_, url := newFakeAPI(t)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"pods", "nope"}, 1, `pod "nope" not found in namespace default`},
		{[]string{"nodes", "n9"}, 1, `node "n9" not found`},
		{[]string{"deployments"}, 2, `unknown kind "deployments"`},
		{[]string{"pods", "-o", "xml"}, 2, `unknown output format "xml"`},
		{[]string{"pods", "-l", "a=("}, 2, "bad selector"},
		{[]string{}, 2, "get needs a kind"},
	} {
		_, errOut, code := run(t, context.Background(), getCmd(testEnv()), append(tc.args, "--server", url)...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) {
			t.Errorf("get %q: exit %d, stderr %q; want exit %d and %q", tc.args, code, errOut, tc.code, tc.msg)
		}
	}
	// A server that does not answer is an error, not a hang or an empty table.
	_, errOut, code := run(t, context.Background(), getCmd(testEnv()), "pods", "--server", "http://127.0.0.1:1")
	if code != 1 || !strings.Contains(errOut, "list pods") {
		t.Errorf("unreachable server: exit %d, %q", code, errOut)
	}
}

func TestGetServerFromEnvironment(t *testing.T) {
	_, url := newFakeAPI(t)
	env := testEnv()
	env.getenv = func(k string) string {
		if k == "KEELSON_SERVER" {
			return "http://127.0.0.1:1," + url // the first fails over to the second
		}
		return ""
	}
	out, errOut, code := run(t, context.Background(), getCmd(env), "nodes")
	if code != 0 || !strings.Contains(out, "n2") {
		t.Fatalf("exit %d, out %q, err %q", code, out, errOut)
	}
}

// TestGetWatch lists pods, changes one on the fake server, and expects only that row
// printed again, aligned under the table.
func TestGetWatch(t *testing.T) {
	f, url := newFakeAPI(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := getCmd(testEnv())
	var out syncBuffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"pods", "--watch", "--server", url})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	waitOutput(t, &out, "frontend-pz8rt")
	f.set(func(s *fixture) {
		s.pods[2].Node = "n1"
		s.pods[2].Status = api.PodStatus{Phase: "Running", Ready: true, PodIP: "10.244.0.9",
			Containers: []api.ContainerStatus{{Name: "web", State: api.ContainerRunning, Ready: true}}}
	})
	waitOutput(t, &out, "frontend-pz8rt   1/1     Running")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("watch ended with %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 7 { // header + 5 pods + the one changed row
		t.Fatalf("want the table and one changed row, got:\n%s", out.String())
	}
	golden(t, "get_pods_watch.golden", out.String())
}

// waitOutput polls until out contains s.
func waitOutput(t *testing.T, out *syncBuffer, s string) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, fmt.Sprintf("%q in the output", s), func() bool {
		return strings.Contains(out.String(), s)
	})
}
