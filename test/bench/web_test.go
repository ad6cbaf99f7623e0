package bench

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/testenv"
	"github.com/keelson/keelson/test/harness"
	webtest "github.com/keelson/keelson/test/web"
)

// webLoads is how many cold page loads the render time is taken over.
const webLoads = 10

// BenchmarkWebPage measures the web view as a browser meets it, on a real cluster (one
// `keelson server`, one agent on containerd, 3 pods):
//   - page weight: bytes of the page's HTML + CSS + JS as served (no compression),
//     and of the first data it fetches (the summary the live stream sends first);
//   - time to first render, from the browser's Performance API over webLoads loads
//     in headless chromium: navigation start → first contentful paint, and → the
//     moment the pod table is filled from the first summary.
//
// Needs root (containerd) and chromium.
func BenchmarkWebPage(b *testing.B) {
	testenv.RequireRoot(b)
	testenv.RequireBinary(b, "containerd", "runc", "docker-registry", "git")
	if _, err := exec.LookPath("chromium"); err != nil {
		testenv.Missing(b, "chromium is not installed")
	}
	ctx := ctxFor(b, 20*time.Minute)
	b.StopTimer()
	env, err := harness.StartEnv(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(env.Close) // after the cluster's own cleanup, which needs containerd
	c := webtest.StartCluster(b, env, "b")
	c.Push(b, webtest.Manifests(env.WebV1, 3), "deploy web ×3")
	c.WaitPods(b, 3*time.Minute, "3 pods Ready", func(_ []api.Node, pods []api.PodRecord) bool { return webtest.ReadyPods(pods) == 3 })

	for range b.N {
		page, data := webWeight(b, c)
		b.ReportMetric(float64(page)/1024, "KB-page")
		b.ReportMetric(float64(data)/1024, "KB-first-data")
		fcp, filled := webRender(b, c)
		b.ReportMetric(percentile(fcp, 0.5), "ms-fcp-p50")
		b.ReportMetric(percentile(filled, 0.5), "ms-pods-filled-p50")
		b.ReportMetric(percentile(filled, 0.9), "ms-pods-filled-p90")
	}
}

// webWeight signs in with a plain HTTP client (over https, trusting the cluster CA)
// and counts the bytes of the page's files and of its first data.
func webWeight(b *testing.B, c *webtest.Cluster) (page, data int) {
	b.Helper()
	base := c.URL
	hc, err := c.Procs.HTTPClient()
	if err != nil {
		b.Fatal(err)
	}
	hc.Jar, _ = cookiejar.New(nil)
	hc.Timeout = 30 * time.Second
	res, err := hc.PostForm(base+"/ui/login", url.Values{"token": {c.ReadToken}})
	if err != nil {
		b.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || len(hc.Jar.Cookies(res.Request.URL)) == 0 {
		b.Fatalf("login: %s, no session cookie", res.Status)
	}
	get := func(p string) int {
		res, err := hc.Get(base + p)
		if err != nil {
			b.Fatal(err)
		}
		defer res.Body.Close()
		n, err := io.Copy(io.Discard, res.Body)
		if err != nil || res.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %d %v", p, res.StatusCode, err)
		}
		return int(n)
	}
	for _, p := range []string{"/ui/", "/ui/static/app.css", "/ui/static/app.js"} {
		page += get(p)
	}
	return page, get("/ui/api/summary")
}

// webRender loads the page webLoads times in a fresh tab each and reads the
// Performance API: first contentful paint, and the mark the page sets when the pod
// table is first filled (both relative to navigation start).
func webRender(b *testing.B, c *webtest.Cluster) (fcp, filled []time.Duration) {
	b.Helper()
	base := c.URL
	bctx := c.Browser(b) // accepts the cluster server's verified key only (see webtest.Cluster.Browser)
	login, cancel := context.WithTimeout(bctx, time.Minute)
	err := chromedp.Do(login, webtest.Login(base, c.ReadToken))
	cancel()
	if err != nil {
		b.Fatalf("login: %v", err)
	}
	for range webLoads {
		tab, closeTab := chromedp.NewContext(bctx) // a new tab: nothing of the page in memory
		tctx, cancel := context.WithTimeout(tab, time.Minute)
		var perf paintTimes
		err := chromedp.Do(tctx,
			chromedp.Navigate(base+"/ui/"),
			webtest.Until(`window.keelson && window.keelson.firstRenderMs > 0 && performance.getEntriesByName('first-contentful-paint').length > 0`, 30*time.Second),
		)
		if err == nil {
			perf, err = chromedp.Run(tctx, chromedp.Evaluate[paintTimes](`({fcp: performance.getEntriesByName('first-contentful-paint')[0].startTime, filled: performance.getEntriesByName('keelson-pods-filled')[0].startTime})`))
		}
		cancel()
		closeTab()
		if err != nil {
			b.Fatalf("page load: %v", err)
		}
		fcp = append(fcp, time.Duration(perf.FCP*float64(time.Millisecond)))
		filled = append(filled, time.Duration(perf.Filled*float64(time.Millisecond)))
	}
	b.Logf("fcp %v, pods filled %v", fcp, filled)
	return fcp, filled
}

// paintTimes are Performance API times in ms since navigation start.
type paintTimes struct {
	FCP    float64 `json:"fcp"`
	Filled float64 `json:"filled"`
}
