package dev

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keelson/keelson/internal/devenv"
	"github.com/keelson/keelson/internal/testenv"
	"github.com/keelson/keelson/test/harness"
)

// privateDir is dev's own containerd's directory (its config, socket and state, and
// so the -address of every shim it starts).
const privateDir = "/run/keelson-dev"

// TestDevLeavesNothingWhenKilled SIGKILLs `keelson dev`, which runs no cleanup at
// all. Its server, agent and containerd die with it (Pdeathsig), and its reaper kills
// what survives containerd by design (every shim, every container) and removes the
// pods' network and the proxy's table. Then the reaper is killed too before dev: the
// shims survive, and the next start must remove them before it runs its own pods.
// Each start is a `make run` that works: the cluster runs and its NodePort answers.
func TestDevLeavesNothingWhenKilled(t *testing.T) {
	bin, root := devPrereqs(t)
	dir := t.TempDir()
	clusterDir := filepath.Join(dir, "cluster")
	httpAddr := freePortPair(t)
	var dev *devenv.Proc
	t.Cleanup(func() {
		if dev != nil && dev.Running() {
			dev.Stop(90 * time.Second)
		}
		if t.Failed() && dev != nil {
			t.Logf("keelson dev output:\n%s", dev.Tail(8000))
			if b, err := os.ReadFile(filepath.Join(clusterDir, "logs", "reaper.log")); err == nil {
				t.Logf("reaper log:\n%s", b)
			}
		}
		killLeftovers(clusterDir)
	})
	start := func(name string) {
		t.Helper()
		dev = &devenv.Proc{Name: name, Bin: bin, LogPath: filepath.Join(dir, name+".log"), Args: []string{
			"dev", "--dir", clusterDir, "--http-addr", httpAddr, "--manifests", filepath.Join(root, "manifests-example"),
		}}
		if err := dev.Start(); err != nil {
			t.Fatal(err)
		}
		var nodeAddr string
		agentLine := regexp.MustCompile(`starting the agent dev-node at (\S+)`)
		testenv.Poll(t, 5*time.Minute, 250*time.Millisecond, name+" to report the cluster running", func() bool {
			if !dev.Running() {
				t.Fatalf("%s exited:\n%s", name, dev.Tail(8000))
			}
			out := dev.Tail(1 << 20)
			if m := agentLine.FindStringSubmatch(out); m != nil {
				nodeAddr = m[1]
			}
			return strings.Contains(out, "Keelson is running")
		})
		testenv.EventuallyNoError(t, 30*time.Second, name+"'s NodePort to answer", func() error {
			body, err := harness.HTTPGet(context.Background(), "http://"+net.JoinHostPort(nodeAddr, "30080")+"/")
			if err == nil && !strings.Contains(body, "shop frontend") {
				return &unexpected{body}
			}
			return err
		})
	}
	noTableNoBridge := func(when string) {
		t.Helper()
		if out, err := exec.Command("nft", "list", "table", "ip", "keelson").CombinedOutput(); err == nil {
			t.Errorf("the proxy's nftables table is still there %s:\n%s", when, out)
		}
		if out, err := exec.Command("ip", "link", "show", "keelson0").CombinedOutput(); err == nil {
			t.Errorf("the pods' bridge is still there %s:\n%s", when, out)
		}
	}

	start("dev-1")
	before := clusterProcs(t, clusterDir)
	dev.Kill()
	testenv.PollDetail(t, 90*time.Second, 100*time.Millisecond, "no process of the SIGKILLed dev's cluster left", func() (bool, string) {
		left := survivors(before)
		return len(left) == 0, describe(left)
	})
	if devenv.ContainerdAnswers(privateDir + "/containerd.sock") {
		t.Error("dev's private containerd still answers after the reaper finished")
	}
	noTableNoBridge("after the reaper finished")

	start("dev-2")
	before = clusterProcs(t, clusterDir)
	var shims []proc
	for _, p := range before {
		if p.role == "reaper" {
			if err := syscall.Kill(p.pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
		if p.role == "shim" || p.role == "container" {
			shims = append(shims, p)
		}
	}
	testenv.PollDetail(t, 10*time.Second, 50*time.Millisecond, "the reaper to die", func() (bool, string) {
		for _, p := range survivors(before) {
			if p.role == "reaper" {
				return false, describe([]proc{p})
			}
		}
		return true, ""
	})
	dev.Kill()
	testenv.PollDetail(t, 30*time.Second, 100*time.Millisecond, "the server, the agent and containerd to die with dev", func() (bool, string) {
		var left []proc
		for _, p := range survivors(before) {
			if p.role != "shim" && p.role != "container" {
				left = append(left, p)
			}
		}
		return len(left) == 0, describe(left)
	})
	if len(survivors(shims)) == 0 {
		t.Fatal("no shim or container outlived dev and its reaper: the next start would prove nothing")
	}
	start("dev-3")
	if left := survivors(shims); len(left) != 0 {
		t.Errorf("the shims and containers of the SIGKILLed dev are still running after the next start:\n%s", describe(left))
	}
	before = clusterProcs(t, clusterDir)
	dev.Stop(90 * time.Second)
	testenv.PollDetail(t, 30*time.Second, 100*time.Millisecond, "no process of the stopped dev's cluster left", func() (bool, string) {
		left := survivors(before)
		return len(left) == 0, describe(left)
	})
	noTableNoBridge("after dev stopped")
}

// proc is one process of dev's cluster; start (its start time in clock ticks) tells
// it from a later process that got the same pid.
type proc struct {
	pid   int
	start string
	role  string // dev, server, agent, reaper, containerd, shim, container
	cmd   string
}

func (p proc) alive() bool { return startTime(p.pid) == p.start }

// survivors are the processes of before that are still alive.
func survivors(before []proc) []proc {
	var out []proc
	for _, p := range before {
		if p.alive() {
			out = append(out, p)
		}
	}
	return out
}

func describe(ps []proc) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(strconv.Itoa(p.pid) + " " + p.role + ": " + p.cmd + "\n")
	}
	return b.String()
}

// clusterProcs lists every process of the dev cluster in clusterDir: those whose
// command line names the directory (dev, its server, agent and reaper), dev's
// containerd and its shims (which name its socket), and the containers' processes
// (their init pid in each task's bundle). It fails when a role that must exist is
// missing, since a check of what survived would then prove nothing.
func clusterProcs(t *testing.T, clusterDir string) []proc {
	t.Helper()
	var out []proc
	roles := map[string]int{}
	add := func(pid int, role, cmd string) {
		if st := startTime(pid); st != "" {
			out = append(out, proc{pid: pid, start: st, role: role, cmd: cmd})
			roles[role]++
		}
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		cmd := strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")
		switch {
		case strings.Contains(cmd, "containerd-shim") && strings.Contains(cmd, privateDir+"/"):
			add(pid, "shim", cmd)
		case strings.Contains(cmd, "containerd --config "+privateDir+"/"):
			add(pid, "containerd", cmd)
		case strings.Contains(cmd, clusterDir) && strings.Contains(cmd, "--reaper"):
			add(pid, "reaper", cmd)
		case strings.Contains(cmd, clusterDir) && strings.Contains(cmd, " server "):
			add(pid, "server", cmd)
		case strings.Contains(cmd, clusterDir) && strings.Contains(cmd, " agent "):
			add(pid, "agent", cmd)
		case strings.Contains(cmd, clusterDir):
			add(pid, "dev", cmd)
		}
	}
	bundles, _ := filepath.Glob(filepath.Join(privateDir, "state", "io.containerd.runtime.v2.task", "*", "*", "init.pid"))
	for _, f := range bundles {
		b, err := os.ReadFile(f)
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && perr == nil {
			add(pid, "container", filepath.Base(filepath.Dir(f)))
		}
	}
	for _, r := range []string{"dev", "server", "agent", "reaper", "containerd", "shim", "container"} {
		if roles[r] == 0 {
			t.Fatalf("found no %s process of dev's cluster:\n%s", r, describe(out))
		}
	}
	return out
}

// startTime is field 22 of /proc/PID/stat ("" when the process is gone).
func startTime(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may contain spaces
	if i < 0 {
		return ""
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return ""
	}
	if f[0] == "Z" { // a zombie is dead, only not yet reaped by its parent
		return ""
	}
	return f[19]
}
