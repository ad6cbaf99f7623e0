// Package devcluster is `keelson dev`: a complete single-machine cluster in one command
// (a private containerd when none runs, a local registry with the example image built
// and pushed, a bare Git repository seeded with the example manifests, one server and
// one agent as real child processes). It prints how to push and how to look, and on
// Ctrl-C stops what it started, leaving the repository and what was pushed to it.
package devcluster

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/keelson/keelson/internal/devenv"
	"github.com/keelson/keelson/internal/imagebuild"
)

// Options configure the dev cluster; zero values take the defaults.
type Options struct {
	// Dir keeps everything the cluster writes (default ./.keelson/dev).
	Dir string
	// Manifests seeds a new repository (default ./manifests-example).
	Manifests string
	// ImageSource is the Go package of the example workload image.
	ImageSource string
	// Registry is where images are pushed and pulled, plain HTTP (default 127.0.0.1:5000,
	// the address manifests-example names).
	Registry string
	// HTTPAddr is the server's API address (default 127.0.0.1:7480).
	HTTPAddr string
	// Containerd is a containerd socket to use; "" uses the system one when it answers
	// and starts a private one otherwise.
	Containerd string
	// Bin is the keelson binary run as server and agent (default: this executable).
	Bin string
	Out io.Writer
}

func (o *Options) defaults() error {
	if o.Dir == "" {
		o.Dir = filepath.Join(".keelson", "dev")
	}
	if o.Manifests == "" {
		o.Manifests = "manifests-example"
	}
	if o.ImageSource == "" {
		o.ImageSource = filepath.Join(o.Manifests, "images", "web")
	}
	if o.Registry == "" {
		o.Registry = "127.0.0.1:5000"
	}
	if o.HTTPAddr == "" {
		o.HTTPAddr = "127.0.0.1:7480"
	}
	if o.Bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		o.Bin = exe
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	var err error
	for _, p := range []*string{&o.Dir, &o.Manifests, &o.ImageSource} {
		if *p, err = filepath.Abs(*p); err != nil {
			return err
		}
	}
	return nil
}

// Preflight lists what the machine lacks to run a dev cluster.
func Preflight() error {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (pods need network namespaces, CNI and containerd)")
	}
	for _, b := range []string{"containerd", "runc", "ctr", "docker-registry", "git", "go", "nft", "ip"} {
		if _, err := exec.LookPath(b); err != nil {
			missing = append(missing, b)
		}
	}
	for _, f := range []string{"/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/portmap", "/usr/lib/cni/loopback"} {
		if _, err := os.Stat(f); err != nil {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("keelson dev needs: %s (run `make run` as root: it installs the Debian packages)", strings.Join(missing, ", "))
	}
	return nil
}

// Run brings the cluster up, prints how to use it and blocks until ctx ends; then it
// stops everything it started.
func Run(ctx context.Context, o Options) error {
	if err := o.defaults(); err != nil {
		return err
	}
	if err := Preflight(); err != nil {
		return err
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return err
	}
	say := func(format string, args ...any) { fmt.Fprintf(o.Out, "==> "+format+"\n", args...) }

	sock, private := o.Containerd, false
	if sock == "" && devenv.ContainerdAnswers(systemContainerd) {
		sock = systemContainerd
	}
	if sock == "" {
		sock, private = privateContainerdSock(), true
	}
	// Every child is bound to dev (Pdeathsig); what outlives them if dev is SIGKILLed
	// (the shims, the pods' network, the proxy's table) is the reaper's job.
	rp, err := startReaper(o, sock)
	if err != nil {
		return err
	}
	defer rp.release() // after the stack below: everything is stopped by then
	var stack cleanup
	defer stack.run(o.Out)

	if private {
		say("starting a private containerd (%s)", privateContainerdDir)
		s, stop, err := devenv.StartContainerd(privateContainerdDir)
		if err != nil {
			return fmt.Errorf("containerd: %w", err)
		}
		sock = s
		stack.push("containerd", stop)
	} else {
		say("using containerd at %s", sock)
	}
	// A dev that was SIGKILLed (and whose reaper could not finish) leaves its pods'
	// containers, network and proxy table: start from a clean node.
	if err := removeLeftovers(ctx, sock, o.Dir); err != nil {
		return fmt.Errorf("remove what a previous run left: %w", err)
	}

	if devenv.RegistryAnswers(o.Registry) {
		say("using the registry at %s", o.Registry)
	} else {
		say("starting a registry on %s", o.Registry)
		_, stop, err := devenv.StartRegistry(filepath.Join(o.Dir, "registry"), o.Registry)
		if err != nil {
			return fmt.Errorf("registry: %w", err)
		}
		stack.push("registry", stop)
	}

	if err := buildImages(ctx, o, say); err != nil {
		return err
	}

	repo := filepath.Join(o.Dir, "repo.git")
	if _, err := os.Stat(repo); err == nil {
		say("using the existing repository %s (what you pushed is kept)", repo)
	} else {
		say("creating %s from %s", repo, rel(o.Manifests))
		if err := seedRepo(repo, o.Manifests, filepath.Join(o.Dir, "seed")); err != nil {
			return err
		}
	}

	// The raft address is part of the persisted raft configuration: keep it stable
	// across runs (the HTTP port + 1).
	host, raftPort, err := nextPort(o.HTTPAddr)
	if err != nil {
		return err
	}
	logs := filepath.Join(o.Dir, "logs")
	srv := &devenv.Proc{Name: "server", Bin: o.Bin, LogPath: filepath.Join(logs, "server.log"), Args: []string{
		"server", "--id", "dev", "--bootstrap", "--data-dir", filepath.Join(o.Dir, "server"),
		"--http-addr", o.HTTPAddr, "--raft-addr", net.JoinHostPort(host, raftPort),
		"--repo", repo,
	}}
	say("starting the server on https://%s (log: %s)", o.HTTPAddr, rel(srv.LogPath))
	if err := srv.Start(); err != nil {
		return err
	}
	stack.push("server", func() { srv.Stop(10 * time.Second) })
	// The first start bootstraps the cluster CA and tokens into the server's data
	// dir (kept across runs); the agent joins with the node token, you read with the
	// read token.
	creds := devenv.Credentials{ServerDataDir: filepath.Join(o.Dir, "server")}
	if err := creds.Wait(srv, time.Minute); err != nil {
		return err
	}

	addr := nodeAddress()
	agent := &devenv.Proc{Name: "agent", Bin: o.Bin, LogPath: filepath.Join(logs, "agent.log"), Args: []string{
		"agent", "--name", "dev-node", "--server", "https://" + o.HTTPAddr, "--token-file", creds.NodeTokenFile(),
		"--address", addr, "--listen", net.JoinHostPort(addr, "7482"),
		"--data-dir", filepath.Join(o.Dir, "agent"), "--containerd", sock,
		"--registry-insecure", o.Registry,
	}}
	say("starting the agent dev-node at %s (log: %s)", addr, rel(agent.LogPath))
	if err := agent.Start(); err != nil {
		return err
	}
	stack.push("agent and its pods", func() {
		agent.Stop(30 * time.Second)
		if err := RemovePods(context.Background(), sock, filepath.Join(o.Dir, "agent")); err != nil {
			fmt.Fprintf(o.Out, "==> removing pods: %v\n", err)
		}
	})

	cl, err := creds.Client("https://" + o.HTTPAddr)
	if err != nil {
		return err
	}
	if err := waitForPods(ctx, o.Out, cl, srv, agent); err != nil {
		return err
	}
	printUsage(o.Out, o, repo, addr, creds)
	if err := writeKubeconfig(o.Out, o, creds); err != nil {
		return err
	}
	<-ctx.Done()
	fmt.Fprintln(o.Out, "\n==> stopping (the repository and what you pushed stay in "+rel(repo)+")")
	return nil
}

const systemContainerd = "/run/containerd/containerd.sock"

// cleanup runs the stop functions of what was started, newest first.
type cleanup struct {
	names []string
	fns   []func()
}

func (c *cleanup) push(name string, fn func()) {
	c.names = append(c.names, name)
	c.fns = append(c.fns, fn)
}

func (c *cleanup) run(out io.Writer) {
	for i := len(c.fns) - 1; i >= 0; i-- {
		fmt.Fprintf(out, "==> stopping %s\n", c.names[i])
		c.fns[i]()
	}
}

func rel(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// nextPort returns the host of addr and its port + 1.
func nextPort(addr string) (string, string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", "", fmt.Errorf("address %q: %w", addr, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return "", "", fmt.Errorf("address %q: %w", addr, err)
	}
	return host, strconv.Itoa(n + 1), nil
}

// nodeAddress picks the machine's first non-loopback IPv4 address: NodePorts are served
// there, and it is what another machine would dial.
func nodeAddress() string {
	ifs, err := net.Interfaces()
	if err != nil {
		return "127.0.0.1"
	}
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 || strings.HasPrefix(ifc.Name, "keelson") ||
			strings.HasPrefix(ifc.Name, "veth") || strings.HasPrefix(ifc.Name, "docker") || strings.HasPrefix(ifc.Name, "cni") {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
				return ipn.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

// seedRepo creates the bare repository the server watches and pushes the example
// manifests to its main branch with the real git command, as a user would.
func seedRepo(bare, manifests, work string) error {
	_ = os.RemoveAll(work)
	defer os.RemoveAll(work)
	if _, err := devenv.NewRepoAt(bare, work, manifests); err != nil {
		return fmt.Errorf("seed %s: %w", bare, err)
	}
	return nil
}

// buildImages builds the example workload once and pushes it as :v1 and :v2, each
// reporting its own version (WEB_VERSION), so a push that changes the tag is a visible
// rolling update.
func buildImages(ctx context.Context, o Options, say func(string, ...any)) error {
	say("building the example image from %s", rel(o.ImageSource))
	bin, err := imagebuild.BuildGo(ctx, o.ImageSource)
	if err != nil {
		return err
	}
	defer os.RemoveAll(filepath.Dir(bin))
	base, err := imagebuild.Image(bin, nil)
	if err != nil {
		return err
	}
	for _, tag := range []string{"v1", "v2"} {
		ref := o.Registry + "/keelson/web:" + tag
		img, err := imagebuild.WithEnv(base, "WEB_VERSION="+tag)
		if err != nil {
			return err
		}
		say("pushing %s", ref)
		if err := imagebuild.Push(ctx, img, ref); err != nil {
			return fmt.Errorf("push %s: %w", ref, err)
		}
	}
	return nil
}
