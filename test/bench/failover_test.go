package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/test/harness"
)

// failoverRounds is how many leaders each iteration kills; the figure is the median.
const failoverRounds = 10

// BenchmarkLeaderFailover runs 3 `keelson server` processes (default raft timeouts,
// raft-boltdb with fsync), SIGKILLs the leader and measures until the new leader has
// committed its first decision: a node registration sent to a survivor (forwarded to
// whoever leads) is committed and answered. The killed server is restarted and
// caught up before the next round. Reported: median and max of 10 rounds, in ms.
func BenchmarkLeaderFailover(b *testing.B) {
	bin := keelsonBin(b)
	for range b.N {
		b.StopTimer()
		c, err := harness.StartCluster(harness.ClusterOptions{
			Bin: bin, Dir: filepath.Join(b.TempDir(), "cluster"), Servers: 3,
		})
		if err != nil {
			b.Fatal(err)
		}
		var times []time.Duration
		for round := range failoverRounds {
			leader := waitThreeServers(b, c)
			survivors := []string{}
			for i, u := range c.ServerURLs() {
				if i != leader {
					survivors = append(survivors, u)
				}
			}
			cl, err := c.NodeClient(fmt.Sprintf("failover-%d", round), nil, survivors...)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			start := time.Now()
			c.Servers[leader].Kill()
			reg := api.NodeRegistration{Name: fmt.Sprintf("failover-%d", round), Address: "192.0.2.1"}
			pollUntil(b, time.Minute, 10*time.Millisecond, "a write committed by a new leader", func() bool {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				_, err := cl.Register(ctx, reg)
				return err == nil
			})
			times = append(times, time.Since(start))
			b.StopTimer()
			if err := c.Servers[leader].Start(); err != nil {
				c.Stop()
				b.Fatal(err)
			}
		}
		c.Stop()
		b.ReportMetric(percentile(times, 0.5), "ms-median")
		b.ReportMetric(percentile(times, 1), "ms-max")
		b.ReportMetric(float64(len(times)), "rounds")
	}
}

// waitThreeServers waits until every server answers with the same leader and three
// voters, and returns the leader's index in c.
func waitThreeServers(b testing.TB, c *harness.Cluster) int {
	b.Helper()
	leader := -1
	pollUntil(b, time.Minute, 50*time.Millisecond, "3 servers agreeing on a leader", func() bool {
		leader = -1
		var seen string
		for _, u := range c.ServerURLs() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			st, err := c.MustClient(u).Status(ctx)
			cancel()
			if err != nil || st.Leader == "" || len(st.Servers) != 3 || (seen != "" && st.Leader != seen) {
				return false
			}
			seen = st.Leader
			for _, s := range st.Servers {
				if s.Leader {
					for i, a := range c.HTTPAddrs {
						if s.HTTPAddr == a || s.HTTPAddr == "https://"+a {
							leader = i
						}
					}
				}
			}
		}
		return leader >= 0
	})
	return leader
}
