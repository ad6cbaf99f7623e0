package harness

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// Helpers of the suites that put processes in their own network namespaces
// (test/multinode, test/chaos): one copy, so both read and clean up alike.

// NetNSPath is where `ip netns add NAME` mounts the namespace.
func NetNSPath(name string) string { return filepath.Join("/run/netns", name) }

// NetNSExists reports whether `ip netns list` names the namespace.
func NetNSExists(name string) bool {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			return true
		}
	}
	return false
}

// LinkExists reports whether a link of that name is in this process's namespace.
func LinkExists(name string) bool { return linkExists(name) }

// IP runs `ip ARGS...`, with its output in the error.
func IP(args ...string) error {
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}
