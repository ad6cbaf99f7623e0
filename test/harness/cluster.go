package harness

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keelson/keelson/internal/devenv"
)

// ClusterOptions describes a multi-process cluster on this machine.
type ClusterOptions struct {
	Bin     string // path to the keelson binary
	Dir     string // data, logs
	Servers int    // 1, 3 or 5
	// RepoURL is the Git repository the servers watch (a local bare repo path).
	RepoURL string
	// ServerArgs are extra flags for every server.
	ServerArgs []string
	// Agents lists the agents to start; each gets its own data dir and log.
	Agents []AgentOptions
}

// AgentOptions describes one node agent.
type AgentOptions struct {
	Name string
	// ListenHost is the host of the agent's log endpoint (default 127.0.0.1); servers
	// dial it for `keelson logs`, so it must be the address the agent advertises.
	ListenHost string
	// Args are extra flags (containerd socket, bridge, proxy mode, ...).
	Args []string
}

// Cluster is a set of running server and agent processes.
type Cluster struct {
	Opts      ClusterOptions
	Servers   []*devenv.Proc
	HTTPAddrs []string // server i listens on HTTPAddrs[i]
	Agents    []*devenv.Proc
	// Credentials are the bootstrap server's (s1): CA, tokens, read client.
	Credentials
}

// handedOut holds every port FreePort returned in this test process: the kernel may
// hand a just-closed ephemeral port straight back, and a server given the same port for
// its HTTP and raft listeners dies at start (seen in CI: s2 on 127.0.0.1:32785 twice).
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago and that no
// earlier call in this process returned.
func FreePort() (int, error) {
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !handedOut.ports[port] {
			handedOut.ports[port] = true
			return port, nil
		}
	}
	return 0, fmt.Errorf("no port on 127.0.0.1 that was not handed out already")
}

// StartCluster starts the servers (the first bootstraps, making the CA and tokens in
// its data dir; the others join it with its server token) and then the agents (with
// its node token). It waits only for the bootstrap server's credentials, not for
// convergence; callers poll with Client().
func StartCluster(o ClusterOptions) (*Cluster, error) {
	c := &Cluster{Opts: o, Credentials: Credentials{ServerDataDir: filepath.Join(o.Dir, "s1")}}
	for i := 0; i < o.Servers; i++ {
		hp, err := FreePort()
		if err != nil {
			return nil, err
		}
		rp, err := FreePort()
		if err != nil {
			return nil, err
		}
		id := fmt.Sprintf("s%d", i+1)
		httpAddr := "127.0.0.1:" + strconv.Itoa(hp)
		args := []string{"server",
			"--id", id,
			"--data-dir", filepath.Join(o.Dir, id),
			"--http-addr", httpAddr,
			"--raft-addr", "127.0.0.1:" + strconv.Itoa(rp),
		}
		if o.RepoURL != "" {
			args = append(args, "--repo", o.RepoURL)
		}
		if i == 0 {
			args = append(args, "--bootstrap")
		} else {
			args = append(args, "--join", "https://"+c.HTTPAddrs[0], "--token-file", c.ServerTokenFile())
		}
		args = append(args, o.ServerArgs...)
		p := &devenv.Proc{Name: id, Bin: o.Bin, Args: args, LogPath: filepath.Join(o.Dir, "logs", id+".log")}
		if err := p.Start(); err != nil {
			c.Stop()
			return nil, err
		}
		c.Servers = append(c.Servers, p)
		c.HTTPAddrs = append(c.HTTPAddrs, httpAddr)
		if i == 0 {
			if err := c.Credentials.Wait(p, time.Minute); err != nil {
				c.Stop()
				return nil, err
			}
		}
	}
	for _, a := range o.Agents {
		if err := c.StartAgent(a); err != nil {
			c.Stop()
			return nil, err
		}
	}
	return c, nil
}

// ServerURLs lists the servers' HTTP base URLs.
func (c *Cluster) ServerURLs() []string {
	urls := make([]string, len(c.HTTPAddrs))
	for i, a := range c.HTTPAddrs {
		urls[i] = "https://" + a
	}
	return urls
}

// StartAgent starts one more agent process.
func (c *Cluster) StartAgent(a AgentOptions) error {
	host := a.ListenHost
	if host == "" {
		host = "127.0.0.1"
	}
	lp, err := FreePort()
	if err != nil {
		return err
	}
	args := []string{"agent",
		"--name", a.Name,
		"--server", strings.Join(c.ServerURLs(), ","),
		"--token-file", c.NodeTokenFile(),
		"--data-dir", filepath.Join(c.Opts.Dir, a.Name),
		"--listen", net.JoinHostPort(host, strconv.Itoa(lp)),
	}
	args = append(args, a.Args...)
	p := &devenv.Proc{Name: a.Name, Bin: c.Opts.Bin, Args: args, LogPath: filepath.Join(c.Opts.Dir, "logs", a.Name+".log")}
	if err := p.Start(); err != nil {
		return err
	}
	c.Agents = append(c.Agents, p)
	return nil
}

// Agent returns the agent process with that node name.
func (c *Cluster) Agent(name string) *devenv.Proc {
	for _, p := range c.Agents {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Server returns the server process with that ID (s1, s2, ...).
func (c *Cluster) Server(id string) *devenv.Proc {
	for _, p := range c.Servers {
		if p.Name == id {
			return p
		}
	}
	return nil
}

// Stop stops agents first (so they clean their pods while servers still answer), then
// servers.
func (c *Cluster) Stop() {
	for _, p := range c.Agents {
		p.Stop(30 * time.Second)
	}
	for _, p := range c.Servers {
		p.Stop(10 * time.Second)
	}
}

// Logs returns the tail of every process log, for a failing test's output.
func (c *Cluster) Logs(n int64) string {
	var b strings.Builder
	for _, p := range append(append([]*devenv.Proc{}, c.Servers...), c.Agents...) {
		fmt.Fprintf(&b, "----- %s (%s) -----\n%s\n", p.Name, p.LogPath, p.Tail(n))
	}
	return b.String()
}
