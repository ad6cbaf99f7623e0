package dev

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keelson/keelson/internal/devenv"
	"github.com/keelson/keelson/internal/testenv"
)

// TestDevStopsWhenItsOutputIsGone is `make run 2>&1 | tee log` then Ctrl-C: tee exits
// first, so keelson dev's next write hits a closed pipe. Dev must still stop everything
// it started (server, agent, containers, its containerd, the proxy's table, the bridge)
// instead of dying on SIGPIPE and leaving its children running.
func TestDevStopsWhenItsOutputIsGone(t *testing.T) {
	bin, root := devPrereqs(t)
	dir := t.TempDir()
	clusterDir := filepath.Join(dir, "cluster")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "dev.stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "dev", "--dir", clusterDir, "--http-addr", freePortPair(t),
		"--manifests", filepath.Join(root, "manifests-example"))
	cmd.Stdout, cmd.Stderr = w, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()                     // the child holds the only write end now, as behind `| tee`
	exited := make(chan struct{}) // closed once dev has exited
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			<-exited
		}
		killLeftovers(clusterDir)
	})

	running := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Keelson is running") {
				running <- true
				return
			}
		}
		running <- false
	}()
	select {
	case ok := <-running:
		if !ok {
			t.Fatalf("keelson dev's output ended before the cluster ran; stderr in %s", logf.Name())
		}
	case <-time.After(5 * time.Minute):
		t.Fatal("keelson dev did not report the cluster running within 5 minutes")
	}
	// Every process of the cluster: dev, server, agent, reaper, containerd, the
	// containers' shims and the containers themselves.
	before := clusterProcs(t, clusterDir)
	r.Close() // tee exits on Ctrl-C before dev does
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Errorf("keelson dev was killed by %v instead of stopping", ws.Signal())
		}
	case <-time.After(90 * time.Second):
		t.Fatal("keelson dev did not stop within 90 s of Ctrl-C")
	}
	testenv.PollDetail(t, 30*time.Second, 100*time.Millisecond, "no process of dev's cluster left", func() (bool, string) {
		left := survivors(before)
		return len(left) == 0, describe(left)
	})
	if devenv.ContainerdAnswers("/run/keelson-dev/containerd.sock") {
		t.Error("dev's private containerd still answers after dev stopped")
	}
	if out, err := exec.Command("nft", "list", "table", "ip", "keelson").CombinedOutput(); err == nil {
		t.Errorf("the proxy's nftables table is still there after dev stopped:\n%s", out)
	}
	if out, err := exec.Command("ip", "link", "show", "keelson0").CombinedOutput(); err == nil {
		t.Errorf("the pods' bridge is still there after dev stopped:\n%s", out)
	}
}

// childrenOf lists the pids of processes whose command line names dir (dev's server,
// agent and reaper get it or data dirs below it) or dev's containerd directory (its
// daemon and shims).
func childrenOf(dir string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid := 0
		for _, c := range e.Name() {
			if c < '0' || c > '9' {
				pid = -1
				break
			}
			pid = pid*10 + int(c-'0')
		}
		if pid <= 0 || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && (strings.Contains(string(b), dir) || strings.Contains(string(b), privateDir+"/")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killLeftovers kills what a failed run left, so the next test starts clean.
func killLeftovers(dir string) {
	for _, pid := range childrenOf(dir) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}
