package proxy

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"
)

// BenchmarkThroughput sends small HTTP GETs over one keep-alive connection from the
// node namespace, directly to the pod IP (the physical limit of this topology) and
// through the ClusterIP on each data path. Reported: requests/s and p50 latency.
// Run with a bounded count, e.g. -benchtime=5000x.
func BenchmarkThroughput(b *testing.B) {
	tp := newTopo(b, 1)
	ctx := context.Background()
	cases := []struct {
		name  string
		url   string
		proxy func() (serviceProxy, error)
	}{
		{"Direct", fmt.Sprintf("http://%s:%d/", tp.podIPs[0], backendHTTP), nil},
		{"NFTables", fmt.Sprintf("http://%s:80/", webIP), func() (serviceProxy, error) {
			return NewNFTables(Config{BridgeName: bridgeName, NetNSPath: nsPath(tp.node)})
		}},
		{"Userspace", fmt.Sprintf("http://%s:80/", webIP), func() (serviceProxy, error) {
			return NewUserspace(Config{NetNSPath: nsPath(tp.node)})
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			if c.proxy != nil {
				p, err := c.proxy()
				if err != nil {
					b.Fatal(err)
				}
				defer p.Close()
				if err := p.Sync(ctx, testServices(), testEndpoints(tp.podIPs[0]), nodeAddr); err != nil {
					b.Fatal(err)
				}
			}
			client := httpClient(tp.node, true)
			if _, err := get(client, c.url); err != nil { // open the connection
				b.Fatal(err)
			}
			lat := make([]time.Duration, b.N)
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if _, err := get(client, c.url); err != nil {
					b.Fatal(err)
				}
				lat[i] = time.Since(t0)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		})
	}
}
