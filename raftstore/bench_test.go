package raftstore

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/pki"
)

// tcpCluster starts n servers on loopback TCP with bolt logs (fsync on) in dir.
func tcpCluster(tb testing.TB, dir string, n int, fast bool) []*Store {
	tb.Helper()
	var peers []Peer
	var cfgs []Config
	ca := testCA(tb)
	for i := range n {
		id := fmt.Sprintf("s%d", i)
		cfg := Config{ID: id, DataDir: filepath.Join(dir, id), BindAddr: "127.0.0.1:0", Bootstrap: true, TLS: testTLS(tb, ca, pki.RoleServer, id)}
		if fast {
			cfg.UseFastTimeouts()
		}
		cfgs = append(cfgs, cfg)
	}
	// Bind first to learn the ports, then bootstrap everyone with the same peer list:
	// a store opened without Bootstrap cannot be bootstrapped later, so reserve ports.
	for i := range cfgs {
		cfgs[i].BindAddr = freeAddr(tb)
		peers = append(peers, Peer{ID: cfgs[i].ID, Addr: cfgs[i].BindAddr})
	}
	var stores []*Store
	for _, cfg := range cfgs {
		cfg.Peers = peers
		s, err := Open(cfg)
		if err != nil {
			tb.Fatal(err)
		}
		stores = append(stores, s)
		tb.Cleanup(func() { s.Close() })
	}
	return stores
}

func benchLeader(tb testing.TB, stores []*Store) *Store {
	tb.Helper()
	var l *Store
	waitFor(tb, 30*time.Second, "a leader", func() bool {
		for _, s := range stores {
			if s.IsLeader() {
				l = s
				return true
			}
		}
		return false
	})
	return l
}

// BenchmarkApply measures committed pod changes per second on 3 servers over loopback
// TCP with fsync on, one raft entry per op, with 1 to 1,000 pods per entry and 1 or 64
// concurrent writers (whose entries raft group-commits). The pods are replicas of one
// template, as the reconciler writes them (owner and spec hash set).
func BenchmarkApply(b *testing.B) {
	for _, tc := range []struct {
		perEntry, writers int
	}{{1, 1}, {1, 64}, {100, 1}, {1000, 1}, {100, 64}} {
		b.Run(fmt.Sprintf("pods-per-entry=%d/writers=%d", tc.perEntry, tc.writers), func(b *testing.B) {
			stores := tcpCluster(b, b.TempDir(), 3, false)
			l := benchLeader(b, stores)
			var seq atomic.Int64
			batch := func() api.Changes {
				var c api.Changes
				for range tc.perEntry {
					p := pod(fmt.Sprint(seq.Add(1)), "n1")
					p.SpecHash = "h1"
					c.UpsertPods = append(c.UpsertPods, p)
				}
				return c
			}
			b.ResetTimer()
			start := time.Now()
			// On a loaded machine a leader can lose its lease mid-run: find the new
			// one and retry (the figure then includes the failover).
			var lp atomic.Pointer[Store]
			lp.Store(l)
			apply := func() {
				c := batch()
				for {
					_, err := lp.Load().Apply(context.Background(), ApplyChangesCmd(c))
					if err == nil {
						return
					}
					b.Logf("retrying after: %v", err)
					lp.Store(benchLeader(b, stores))
				}
			}
			if tc.writers == 1 {
				for range b.N {
					apply()
				}
			} else {
				b.SetParallelism(tc.writers)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						apply()
					}
				})
			}
			el := time.Since(start)
			b.ReportMetric(float64(b.N*tc.perEntry)/el.Seconds(), "pods/s")
			b.ReportMetric(float64(b.N)/el.Seconds(), "entries/s")
		})
	}
}

// BenchmarkFailover measures the time from killing the leader (Close, no goodbye) to
// the first write committed by its successor, with raft's default (production)
// timeouts on loopback TCP.
func BenchmarkFailover(b *testing.B) {
	var total time.Duration
	for range b.N {
		b.StopTimer()
		stores := tcpCluster(b, b.TempDir(), 3, false)
		l := benchLeader(b, stores)
		if _, err := l.Apply(context.Background(), RegisterNodeCmd(reg("warm"), t0)); err != nil {
			b.Fatal(err)
		}
		rest := others(stores, l)
		b.StartTimer()
		start := time.Now()
		_ = l.Close()
		for {
			l2 := benchLeader(b, rest)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := l2.Apply(ctx, RegisterNodeCmd(reg("after"), t0))
			cancel()
			if err == nil {
				break
			}
		}
		total += time.Since(start)
		b.StopTimer()
		for _, s := range rest {
			_ = s.Close()
		}
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/failover")
}
