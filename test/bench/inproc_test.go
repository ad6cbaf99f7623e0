package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/keelson/keelson/gitsource"
	"github.com/keelson/keelson/internal/devenv"
	"github.com/keelson/keelson/pki"
	"github.com/keelson/keelson/reconciler"
	"github.com/keelson/keelson/server"
	"github.com/keelson/keelson/server/client"
	"github.com/keelson/keelson/test/harness"
)

// inprocCluster is N real servers in this process: real TCP on 127.0.0.1, raft on
// raft-boltdb with fsync, the real Git source and the real reconciler. Running them in
// process lets the benchmark choose the reconciler's Config (a /8 cluster CIDR for
// 5,000 nodes), which `keelson server` has no flag for.
type inprocCluster struct {
	servers []*server.Server
	urls    []string
	stop    func()
	creds   devenv.Credentials // the bootstrap server's (s1)
}

// startInproc starts n servers watching repo (a local bare repository, "" for none)
// and waits until they agree on a leader with all n voters.
func startInproc(b testing.TB, n int, repo string, rcfg reconciler.Config, logger *slog.Logger) *inprocCluster {
	b.Helper()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	dir := b.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	c := &inprocCluster{creds: devenv.Credentials{ServerDataDir: filepath.Join(dir, "s1")}}
	var dones []chan error
	for i := range n {
		hp, err := harness.FreePort()
		if err != nil {
			b.Fatal(err)
		}
		rp, err := harness.FreePort()
		if err != nil {
			b.Fatal(err)
		}
		id := fmt.Sprintf("s%d", i+1)
		cfg := server.Config{
			ID: id, DataDir: filepath.Join(dir, id),
			HTTPAddr: "127.0.0.1:" + strconv.Itoa(hp), RaftAddr: "127.0.0.1:" + strconv.Itoa(rp),
			Bootstrap: i == 0,
		}
		if i > 0 {
			// Joiners present the server token the bootstrap server made.
			tok, err := pki.ReadTokenFile(c.creds.ServerTokenFile())
			if err != nil {
				b.Fatal(err)
			}
			cfg.Join, cfg.JoinToken = []string{c.urls[0]}, tok.String()
		}
		log := logger.With("server", id)
		deps := server.Deps{
			Logger:  log,
			Planner: func(in reconciler.Observed) reconciler.Result { return reconciler.Plan(rcfg, in) },
		}
		if repo != "" {
			gcfg := gitsource.Config{URL: repo, WorkDir: filepath.Join(dir, id, "git"), Logger: log}
			deps.NewSource = func() (server.Source, error) { return gitsource.New(gcfg) }
		}
		s, err := server.New(cfg, deps)
		if err != nil {
			b.Fatalf("server %s: %v", id, err)
		}
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		c.servers = append(c.servers, s)
		c.urls = append(c.urls, "https://"+cfg.HTTPAddr)
		dones = append(dones, done)
	}
	var once sync.Once
	c.stop = func() { // idempotent: benchmarks stop early, cleanup stops again
		once.Do(func() {
			cancel()
			for _, d := range dones {
				<-d
			}
		})
	}
	b.Cleanup(c.stop)
	pollUntil(b, 60*time.Second, 50*time.Millisecond, "a leader with all voters", func() bool {
		l := c.leader()
		if l < 0 {
			return false
		}
		srvs, err := c.servers[l].Store().Servers()
		return err == nil && len(srvs) == n
	})
	return c
}

// leader returns the index of the leading server, -1 when there is none.
func (c *inprocCluster) leader() int {
	for i, s := range c.servers {
		if s.Store().IsLeader() {
			return i
		}
	}
	return -1
}

// follower returns the index of a server that is not the leader.
func (c *inprocCluster) follower() int {
	l := c.leader()
	return (l + 1) % len(c.servers)
}

// leaderFirst lists the URLs with the leader first (writes then need no forwarding
// hop), then the others.
func (c *inprocCluster) leaderFirst() []string {
	l := max(c.leader(), 0)
	urls := append([]string{c.urls[l]}, c.urls[:l]...)
	return append(urls, c.urls[l+1:]...)
}

// nodeClient is the API client of one simulated node: its own node certificate, as
// NodeRestriction demands (one identity per node), over a pooled transport.
func (c *inprocCluster) nodeClient(b testing.TB, name string) *client.Client {
	b.Helper()
	cl, err := c.creds.NodeClient(name, pooledHTTP(), c.leaderFirst()...)
	if err != nil {
		b.Fatal(err)
	}
	return cl
}

// pooledHTTP keeps enough idle connections for many concurrent simulated nodes; the
// default two per host would make each request open a new connection.
func pooledHTTP() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 1024, 1024
	return &http.Client{Transport: tr}
}
