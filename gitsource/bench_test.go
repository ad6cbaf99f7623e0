package gitsource

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
)

// BenchmarkPushToRevision measures the time from `git push` returning to the revision
// being delivered, for a local bare repository watched with fsnotify (the safety-net
// poll is set to an hour so that it cannot help). Each iteration makes 50 pushes;
// p50-ms and p99-ms are over all pushes. A delivery that beats the push's return (the
// ref is updated before git exits) counts as 0; p50-from-push-start-ms adds the time
// git push itself takes, for context.
func BenchmarkPushToRevision(b *testing.B) {
	const pushes = 50
	r := newRepos(b)
	r.commit("initial", map[string]string{"pod.yaml": pod("pod")})
	r.push("main")
	src, err := New(Config{URL: r.bare, PollInterval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	type arrival struct {
		commit string
		at     time.Time
	}
	arrivals := make(chan arrival, 2*pushes)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- src.Run(ctx, func(rev api.Revision) { arrivals <- arrival{rev.Commit, time.Now()} })
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	<-arrivals // the initial head

	var lat, fromStart []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for p := 0; p < pushes; p++ {
			b.StopTimer()
			head := r.commit(fmt.Sprintf("push %d/%d", i, p), map[string]string{"pod.yaml": fmt.Sprintf("%s# %d %d\n", pod("web"), i, p)})
			b.StartTimer()
			started := time.Now()
			r.push("main")
			pushed := time.Now()
			deadline := time.After(10 * time.Second)
			for waiting := true; waiting; {
				select {
				case a := <-arrivals:
					if a.commit == head {
						lat = append(lat, max(0, a.at.Sub(pushed)))
						fromStart = append(fromStart, a.at.Sub(started))
						waiting = false
					}
				case <-deadline:
					b.Fatalf("push %d: revision %s not delivered within 10s", p, head)
				}
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(percentile(lat, 0.50), "p50-ms")
	b.ReportMetric(percentile(lat, 0.99), "p99-ms")
	b.ReportMetric(percentile(fromStart, 0.50), "p50-from-push-start-ms")
	b.ReportMetric(float64(len(lat)), "pushes")
}

// percentile returns the q-quantile of ds in milliseconds (nearest rank).
func percentile(ds []time.Duration, q float64) float64 {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return float64(s[int(q*float64(len(s)-1))]) / float64(time.Millisecond)
}
