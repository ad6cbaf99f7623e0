package devenv

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// StartContainerdProcess starts a containerd whose root, state and socket live in dir
// (which must be short: unix socket paths are limited to 107 bytes; a directory under
// /run made by os.MkdirTemp fits). It is for `keelson dev` and for TestMain, where several tests of a package
// share one daemon. stop kills every task the daemon still runs, stops the daemon and
// unmounts what it left under dir; it leaves dir itself to the caller.
//
// The CRI plugin is disabled: Keelson does not use it and it slows the start down.
func StartContainerd(dir string) (socket string, stop func(), err error) {
	sock := filepath.Join(dir, "containerd.sock")
	if len(sock) >= 108 {
		return "", nil, fmt.Errorf("containerd socket path %q is too long for a unix socket", sock)
	}
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = %q

[ttrpc]
  address = %q

[debug]
  level = "warn"

[metrics]
  address = ""
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, sock+".ttrpc")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("containerd dir: %w", err)
	}
	configPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		return "", nil, fmt.Errorf("write containerd config: %w", err)
	}
	d, err := startDaemon("containerd", "--config", configPath)
	if err != nil {
		return "", nil, err
	}
	ready := func() error {
		c, err := net.Dial("unix", sock)
		if err != nil {
			return err
		}
		_ = c.Close()
		// The socket accepts before every plugin is loaded; ctr answering is the real sign.
		return exec.Command("ctr", "--address", sock, "version").Run()
	}
	if err := d.waitReady(30*time.Second, ready); err != nil {
		d.stop()
		_ = UnmountUnder(dir)
		return "", nil, err
	}
	stop = func() {
		killAllTasks(sock)
		d.stop()
		_ = UnmountUnder(dir)
	}
	return sock, stop, nil
}

// killAllTasks force-removes every task and container in every namespace of the
// daemon, so no container process or shim outlives a test that failed half-way.
func killAllTasks(sock string) {
	ctr := func(args ...string) string {
		out, _ := exec.Command("ctr", append([]string{"--address", sock}, args...)...).Output()
		return string(bytes.TrimSpace(out))
	}
	for _, ns := range strings.Fields(ctr("namespaces", "ls", "-q")) {
		for _, line := range strings.Split(ctr("-n", ns, "tasks", "ls"), "\n")[1:] {
			if f := strings.Fields(line); len(f) > 0 {
				ctr("-n", ns, "tasks", "rm", "-f", f[0])
			}
		}
		for _, id := range strings.Fields(ctr("-n", ns, "containers", "ls", "-q")) {
			ctr("-n", ns, "containers", "rm", id)
		}
	}
}

// ContainerdAnswers reports whether a containerd serves the socket.
func ContainerdAnswers(sock string) bool {
	c, err := net.DialTimeout("unix", sock, time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return exec.Command("ctr", "--address", sock, "version").Run() == nil
}
