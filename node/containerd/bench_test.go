package containerd

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/keelson/keelson/node"
)

// BenchmarkStartPod measures a pod start with the image present: sandbox (netns +
// CNI) and one container created and started until running. Next to it, `ctr run
// --rm --net-host` of the same image (host network, a process that exits at once,
// including ctr's own teardown): the floor containerd itself sets on this machine.
// Both report p50/p99 in milliseconds; keelson also the sandbox share of it.
func BenchmarkStartPod(b *testing.B) {
	e := newTestEnv(b)
	ctx := context.Background()
	image, err := e.rt.EnsureImage(ctx, e.imageRef, "IfNotPresent")
	if err != nil {
		b.Fatal(err)
	}

	b.Run("keelson", func(b *testing.B) {
		var times, sandboxTimes []time.Duration
		for i := 0; b.Loop(); i++ {
			uid := newUID(b)
			start := time.Now()
			sb, err := e.rt.CreateSandbox(ctx, node.SandboxConfig{PodUID: uid, Name: "bench", PodCIDR: e.cidr})
			if err != nil {
				b.Fatal(err)
			}
			sandboxTimes = append(sandboxTimes, time.Since(start))
			id, err := e.rt.CreateContainer(ctx, node.ContainerConfig{
				PodUID: uid, PodName: "bench", Name: "server", Image: image,
				Args: []string{"serve", ":8080"}, NetNSPath: sb.NetNSPath,
				LogPath: filepath.Join(e.cfg.StateDir, "logs", uid+".log"),
			})
			if err != nil {
				b.Fatal(err)
			}
			if err := e.rt.StartContainer(ctx, id); err != nil {
				b.Fatal(err)
			}
			info, err := e.rt.ContainerStatus(ctx, id)
			if err != nil || info.State != "running" {
				b.Fatalf("after start: %+v, %v", info, err)
			}
			times = append(times, time.Since(start))

			b.StopTimer()
			if err := e.rt.RemoveContainer(ctx, id); err != nil {
				b.Fatal(err)
			}
			if err := e.rt.RemoveSandbox(ctx, uid); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		reportPercentiles(b, "", times)
		reportPercentiles(b, "sandbox-", sandboxTimes)
	})

	b.Run("ctr-run", func(b *testing.B) {
		var times []time.Duration
		for i := 0; b.Loop(); i++ {
			start := time.Now()
			out, err := exec.Command("ctr", "--address", e.sock, "-n", e.cfg.Namespace,
				"run", "--rm", "--net-host", image, fmt.Sprintf("ctr-bench-%d", i), "/hello", "exit", "0").CombinedOutput()
			if err != nil {
				b.Fatalf("ctr run: %v: %s", err, out)
			}
			times = append(times, time.Since(start))
		}
		reportPercentiles(b, "", times)
	})
}

func reportPercentiles(b *testing.B, prefix string, times []time.Duration) {
	if len(times) == 0 {
		return
	}
	slices.Sort(times)
	pct := func(p float64) float64 {
		i := int(p * float64(len(times)-1))
		return float64(times[i].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), prefix+"p50-ms")
	b.ReportMetric(pct(0.99), prefix+"p99-ms")
}
