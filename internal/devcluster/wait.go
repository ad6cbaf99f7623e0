package devcluster

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/devenv"
	"github.com/keelson/keelson/node"
	"github.com/keelson/keelson/node/containerd"
	"github.com/keelson/keelson/server/client"
	corev1 "k8s.io/api/core/v1"
)

// waitForPods polls the server until every pod it knows runs and is ready, printing
// progress when it changes. It fails early when the server or the agent exits.
func waitForPods(ctx context.Context, out io.Writer, c *client.Client, procs ...*devenv.Proc) error {
	deadline := time.Now().Add(5 * time.Minute)
	last := ""
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, p := range procs {
			if !p.Running() {
				return fmt.Errorf("%s exited; its log ends with:\n%s", p.Name, p.Tail(4000))
			}
		}
		pods, _, err := c.Pods(ctx, client.QueryOptions{})
		msg := "waiting for the server"
		if err == nil {
			ready := 0
			for _, p := range pods {
				if p.Desire == api.DesireRun && p.Status.Phase == corev1.PodRunning && p.Status.Ready {
					ready++
				}
			}
			msg = fmt.Sprintf("%d/%d pods running and ready", ready, len(pods))
			if len(pods) > 0 && ready == len(pods) && servicesServe(ctx, c) {
				fmt.Fprintf(out, "==> %s\n", msg)
				return nil
			}
		}
		if msg != last {
			fmt.Fprintf(out, "==> %s\n", msg)
			last = msg
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pods not ready after 5 minutes (%s); see the logs", msg)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// servicesServe reports whether every Service with a selector has ready endpoints, so
// the printed curl works the moment it is printed.
func servicesServe(ctx context.Context, c *client.Client) bool {
	svcs, _, err := c.Services(ctx, client.QueryOptions{})
	if err != nil {
		return false
	}
	for _, s := range svcs {
		if len(s.Spec.Selector) == 0 {
			continue
		}
		ready := 0
		for _, e := range s.Endpoints {
			if e.Ready {
				ready++
			}
		}
		if ready == 0 {
			return false
		}
	}
	return true
}

// RemovePods stops and removes every container and pod network the agent left, after
// the agent itself has stopped (an agent keeps its pods across restarts by design).
func RemovePods(ctx context.Context, sock, agentDataDir string) error {
	rt, err := containerd.New(ctx, containerd.Config{Address: sock, StateDir: filepath.Join(agentDataDir, "runtime")})
	if err != nil {
		return err
	}
	defer rt.Close()
	if err := removeAll(ctx, rt); err != nil {
		return err
	}
	// The pods' bridge (made by the CNI bridge plugin) goes with the last pod.
	if out, err := exec.CommandContext(ctx, "ip", "link", "del", devBridge).CombinedOutput(); err != nil &&
		!strings.Contains(string(out), "Cannot find device") {
		return fmt.Errorf("delete bridge %s: %v: %s", devBridge, err, out)
	}
	return nil
}

// devBridge is the agent's default bridge, which dev's agent uses.
const devBridge = "keelson0"

func removeAll(ctx context.Context, rt node.Runtime) error {
	cs, err := rt.ListContainers(ctx)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if err := rt.StopContainer(ctx, c.ID, 2*time.Second); err != nil {
			return err
		}
		if err := rt.RemoveContainer(ctx, c.ID); err != nil {
			return err
		}
	}
	sbs, err := rt.ListSandboxes(ctx)
	if err != nil {
		return err
	}
	for _, s := range sbs {
		if err := rt.RemoveSandbox(ctx, s.PodUID); err != nil {
			return err
		}
	}
	return nil
}

func printUsage(out io.Writer, o Options, repo, nodeAddr string, creds devenv.Credentials) {
	fmt.Fprintf(out, `
Keelson is running: one server, one agent (dev-node at %[3]s), manifests-example deployed.

Look at it (read-only; the API is HTTPS with the cluster's own CA and a read token):
  export KEELSON_SERVER=https://%[1]s KEELSON_CA_FILE=%[5]s KEELSON_TOKEN_FILE=%[6]s
  bin/keelson status
  bin/keelson get pods -o wide
  bin/keelson get services
  curl http://%[3]s:30080/            # the frontend's NodePort
  https://%[1]s/                  # the web view (sign in with the read token)

Deploy by pushing to the cluster's repository:
  git clone %[2]s /tmp/keelson-app && cd /tmp/keelson-app
  sed -i 's/replicas: 3/replicas: 5/' frontend.yaml     # or image ...web:v1 -> web:v2 for a rolling update
  git commit -am "scale frontend" && git push

Logs: %[4]s   Ctrl-C stops everything started here; the repository stays.
`, o.HTTPAddr, repo, nodeAddr, filepath.Join(o.Dir, "logs"), rel(creds.CAFile()), rel(creds.ReadTokenFile()))
}
