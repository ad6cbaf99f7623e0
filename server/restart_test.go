package server

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/server/client"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestRestartKeepsState runs a real single server (TCP raft, bolt log on disk, HTTP
// listener), stops it, and starts it again from the same data dir.
func TestRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	seedCredentials(t, dir)
	cfg := Config{ID: "s1", DataDir: dir, HTTPAddr: freeAddr(t), RaftAddr: freeAddr(t), Bootstrap: true}
	start := func() (func(), *client.Client) {
		srv, err := New(cfg, Deps{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx) }()
		stop := func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		}
		return stop, clientAs(t, []string{cfg.HTTPAddr}, "node:n1")
	}
	ctx := context.Background()
	stop, c := start()
	waitFor(t, 20*time.Second, "the server to register a node", func() bool {
		_, err := c.Register(ctx, api.NodeRegistration{Name: "n1"})
		return err == nil
	})
	stop()

	stop, c = start()
	defer stop()
	waitFor(t, 20*time.Second, "the restarted server to answer", func() bool {
		nodes, _, err := clientAs(t, []string{cfg.HTTPAddr}, testReadToken).Nodes(ctx, client.QueryOptions{Consistent: true})
		return err == nil && len(nodes) == 1 && nodes[0].Name == "n1"
	})
}
