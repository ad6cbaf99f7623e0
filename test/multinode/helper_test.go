package multinode

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/keelson/keelson/test/harness"
)

// helperEnv switches the test binary into helper mode. The test cannot dial the node
// namespaces' addresses from the root namespace (that is the point of the topology),
// so it re-executes itself inside a namespace (`ip netns exec NS <test binary>`) to
// act as a client there, the standard Go pattern for a helper process.
const helperEnv = "KEELSON_MULTINODE_HELPER"

// result is one answer of the httpget helper.
type result struct {
	Body string `json:"body,omitempty"`
	Err  string `json:"err,omitempty"`
}

// runHelper runs one helper command and returns the process exit code:
//
//	httpget COUNT URL                 GET URL COUNT times on fresh connections; JSON []result
//	removepods SOCKET NAMESPACE STATE remove the pods an agent left (after it stopped)
func runHelper(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "helper: no command")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	switch {
	case args[0] == "httpget" && len(args) == 3:
		n, err := strconv.Atoi(args[1])
		if err != nil || n < 1 {
			fmt.Fprintf(stderr, "helper httpget: count %q\n", args[1])
			return 2
		}
		out := make([]result, n)
		for i := range out {
			body, err := harness.HTTPGet(ctx, args[2])
			out[i].Body = body
			if err != nil {
				out[i].Err = err.Error()
			}
		}
		if err := json.NewEncoder(stdout).Encode(out); err != nil {
			fmt.Fprintf(stderr, "helper httpget: %v\n", err)
			return 1
		}
		return 0
	case args[0] == "removepods" && len(args) == 4:
		spec := harness.RuntimeSpec{Containerd: args[1], Namespace: args[2], StateDir: args[3]}
		if err := spec.RemoveAll(ctx); err != nil {
			fmt.Fprintf(stderr, "helper removepods: %v\n", err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(stderr, "helper: bad command %q\n", args)
	return 2
}

// helperCmd is the test binary in helper mode, run inside network namespace ns.
// nsenter --net (rather than `ip netns exec`) keeps the root mount namespace, which
// removepods needs to see and unmount the pods' netns bind mounts.
func helperCmd(ctx context.Context, ns string, args ...string) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("test binary: %w", err)
	}
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + harness.NetNSPath(ns), self}, args...)...)
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	return cmd, nil
}

// getFrom GETs u count times from inside network namespace ns (the node's host side)
// and returns the answers; an error means the helper itself failed.
func getFrom(ctx context.Context, ns, u string, count int) ([]result, error) {
	cmd, err := helperCmd(ctx, ns, "httpget", strconv.Itoa(count), u)
	if err != nil {
		return nil, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("httpget %s in %s: %w: %s", u, ns, err, stderr.String())
	}
	var res []result
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("httpget %s in %s: decode %q: %w", u, ns, out, err)
	}
	return res, nil
}

// getOnce GETs u once from inside ns and returns the body of a 200.
func getOnce(ctx context.Context, ns, u string) (string, error) {
	res, err := getFrom(ctx, ns, u, 1)
	if err != nil {
		return "", err
	}
	if res[0].Err != "" {
		return res[0].Body, fmt.Errorf("from %s: %s", ns, res[0].Err)
	}
	return res[0].Body, nil
}
