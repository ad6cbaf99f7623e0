package devcluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/keelson/keelson/internal/devenv"
)

// Names dev owns on the machine: its private containerd's directory (root, state and
// socket; kept short for the socket path limit) and the agent's default nftables table.
const (
	privateContainerdDir = "/run/keelson-dev"
	devProxyTable        = "keelson"
)

func privateContainerdSock() string { return filepath.Join(privateContainerdDir, "containerd.sock") }

// removeLeftovers removes what the agent of a dev cluster in dir left on the machine
// while it is not running: every container (killing its task, so its shim exits) and
// snapshot in the agent's containerd namespace, every pod sandbox (CNI DEL, the netns
// mount), the bridge and the proxy's nftables table. A graceful stop leaves none of it;
// a SIGKILLed dev leaves all of it, since containerd's shims outlive containerd by
// design and nothing deletes kernel state of a dead agent.
func removeLeftovers(ctx context.Context, sock, dir string) error {
	if err := RemovePods(ctx, sock, filepath.Join(dir, "agent")); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, "nft", "delete", "table", "ip", devProxyTable).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "No such file or directory") {
		return fmt.Errorf("delete nftables table %s: %v: %s", devProxyTable, err, out)
	}
	return nil
}

// reaper is the process that cleans up after a dev that died without stopping its
// cluster. Dev holds the only write end of the reaper's stdin: the pipe closes when dev
// exits, however it exits. Dev writes reaperDone first when its own shutdown finished.
type reaper struct{ w *os.File }

const reaperDone = "stopped"

// startReaper starts `keelson dev --reaper` for the cluster in o.Dir using sock. It is
// the one child not bound to dev (it must outlive it), and it exits as soon as dev is
// gone and its leftovers are removed.
func startReaper(o Options, sock string) (*reaper, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	logPath := filepath.Join(o.Dir, "logs", "reaper.log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		w.Close()
		return nil, err
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		w.Close()
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(o.Bin, "dev", "--reaper", "--dir", o.Dir, "--containerd", sock)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = r, logf, logf
	// Its own process group: the Ctrl-C meant for dev does not reach it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("start the reaper: %w", err)
	}
	go func() { _ = cmd.Wait() }()
	return &reaper{w: w}, nil
}

// release tells the reaper that dev stopped everything itself.
func (r *reaper) release() {
	_, _ = io.WriteString(r.w, reaperDone+"\n")
	_ = r.w.Close()
}

// Reap is `keelson dev --reaper`: it waits until dev's end of stdin closes. After a
// graceful stop it just exits. Otherwise dev died (SIGKILL, a crash): the server, the
// agent and dev's containerd died with it (Pdeathsig), and Reap removes what they
// leave (removeLeftovers), through a containerd started again on dev's private
// directory when that is what dev used (it finds the shims still running).
func Reap(ctx context.Context, o Options, stdin io.Reader) error {
	if err := o.defaults(); err != nil {
		return err
	}
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		if sc.Text() == reaperDone {
			return nil
		}
	}
	fmt.Fprintf(o.Out, "%s: keelson dev is gone without stopping its cluster; removing what it left\n", time.Now().Format(time.RFC3339))
	sock := o.Containerd
	if sock == privateContainerdSock() {
		// The dead dev's containerd gets its SIGKILL at the same moment we see EOF.
		if err := waitGone(30*time.Second, func() bool { return !devenv.ContainerdAnswers(sock) }); err != nil {
			return fmt.Errorf("dev's containerd: %w", err)
		}
		s, stop, err := devenv.StartContainerd(privateContainerdDir)
		if err != nil {
			return fmt.Errorf("restart dev's containerd to clean up: %w", err)
		}
		defer stop()
		sock = s
	}
	if err := removeLeftovers(ctx, sock, o.Dir); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "%s: done\n", time.Now().Format(time.RFC3339))
	return nil
}

func waitGone(timeout time.Duration, gone func() bool) error {
	deadline := time.Now().Add(timeout)
	for !gone() {
		if time.Now().After(deadline) {
			return errors.New("still running after " + timeout.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}
