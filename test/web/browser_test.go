package webtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/devenv"
)

// TestPageInBrowser is the web view as a user meets it, in a real chromium against a
// real cluster: sign in (a wrong token first), see every pod Ready, watch the same
// page instance follow a `git push` that scales 3→4 without reloading, follow a pod's
// live log, see a refused commit's file:line and open it in the file view, and read
// a branch's plan. A screenshot of each state goes to ShotDir.
func TestPageInBrowser(t *testing.T) {
	env := suite.Require(t)
	c := StartCluster(t, env, "t")
	defer suite.OnInterrupt(func() { c.stop(t) })() // Ctrl-C skips t.Cleanup
	c.Push(t, Manifests(env.WebV1, 3), "deploy web ×3")
	c.WaitPods(t, 3*time.Minute, "3 pods Ready", func(_ []api.Node, pods []api.PodRecord) bool { return ReadyPods(pods) == 3 })

	ctx := c.Browser(t)
	shots := ShotDir(t)
	t.Logf("screenshots in %s", shots)
	// do runs browser steps with a deadline: a step that never happens fails the test
	// with a screenshot and the page's text instead of hanging it.
	do := func(what string, timeout time.Duration, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			Screenshot(t, ctx, shots, "failure")
			t.Fatalf("%s: %v\npage text:\n%s", what, err, PageText(ctx))
		}
	}

	// The browser accepts the cluster server's key and nothing more (see Browser): a
	// server with a certificate of another CA is still refused.
	foreign := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "<p>not the cluster</p>")
	}))
	foreign.Config.ErrorLog = log.New(io.Discard, "", 0) // the browser's refused handshakes
	foreign.StartTLS()
	fctx, cancel := context.WithTimeout(ctx, time.Minute)
	err := chromedp.Do(fctx, chromedp.Navigate(foreign.URL+"/"))
	cancel()
	foreign.Close()
	var le *chromedp.LoadError
	if !errors.As(err, &le) || !strings.Contains(le.ErrorText, "ERR_CERT_AUTHORITY_INVALID") {
		t.Fatalf("a server of a foreign CA: navigation error %v, want net::ERR_CERT_AUTHORITY_INVALID", err)
	}

	// A wrong token is refused on the login form itself.
	do("wrong token", 2*time.Minute,
		chromedp.Navigate(c.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), "not-the-token"),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#login-error")),
	)
	Screenshot(t, ctx, shots, "1-login-refused")
	if msg, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#login-error"))); !strings.Contains(msg, "not accepted") {
		t.Errorf("login error = %q", msg)
	}

	do("3 pods Ready on the page", 2*time.Minute, Login(c.URL, c.ReadToken),
		Until(`document.querySelectorAll('#pods-table tbody tr[data-ready="true"]').length === 3`, time.Minute))
	Screenshot(t, ctx, shots, "2-ready")
	// The page is served over https, from the server's own origin.
	if origin, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("location.origin")); origin != c.URL || !strings.HasPrefix(origin, "https://") {
		t.Errorf("page origin %q, want the server's https URL %q", origin, c.URL)
	}
	pageID, err := chromedp.Run(ctx, chromedp.Evaluate[string]("window.keelson.pageId"))
	if err != nil || pageID == "" {
		t.Fatalf("page instance id %q: %v", pageID, err)
	}
	updates, _ := chromedp.Run(ctx, chromedp.Evaluate[int]("window.keelson.updates"))
	tree, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#tree")))
	for _, want := range []string{"ReplicationController/default/web 3/3", "Service/default/web", "endpoint"} {
		if !strings.Contains(tree, want) {
			t.Errorf("object tree lacks %q:\n%s", want, tree)
		}
	}

	// Scale 3→4 by git push: the same page (no navigation) shows 4 Ready pods.
	c.Push(t, Manifests(env.WebV1, 4), "scale web to 4")
	do("4 pods Ready after the push", 2*time.Minute, Until(`document.querySelectorAll('#pods-table tbody tr[data-ready="true"]').length === 4`, 2*time.Minute))
	Screenshot(t, ctx, shots, "3-scaled")
	sameID, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("window.keelson.pageId"))
	navs, _ := chromedp.Run(ctx, chromedp.Evaluate[int]("performance.getEntriesByType('navigation').length"))
	later, _ := chromedp.Run(ctx, chromedp.Evaluate[int]("window.keelson.updates"))
	if sameID != pageID || navs != 1 || later <= updates {
		t.Errorf("after the push: pageId %q (was %q), navigations %d, updates %d (were %d): want the same page updated in place",
			sameID, pageID, navs, later, updates)
	}

	// Accessible and readable on a narrow screen: every control has a label, and at a
	// phone's width nothing makes the page scroll sideways.
	unlabelled, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`[...document.querySelectorAll('input, select')].filter(e => e.labels.length === 0).length`))
	if unlabelled != 0 {
		t.Errorf("%d form controls have no label", unlabelled)
	}
	do("narrow screen", time.Minute, chromedp.EmulateViewport(375, 800),
		Until(`document.documentElement.scrollWidth <= window.innerWidth`, 10*time.Second))
	Screenshot(t, ctx, shots, "3-scaled-narrow")
	do("wide screen", time.Minute, chromedp.EmulateViewport(1280, 1000))

	// A pod's detail with its live log tail (through /v1/logs/).
	do("pod detail and log", 2*time.Minute,
		chromedp.Click(chromedp.CSS("#pods-table tbody tr a")),
		chromedp.WaitVisible(chromedp.CSS("#view-pod table")),
		Until(`document.getElementById('pod-log').textContent.includes('serving')`, 30*time.Second),
	)
	Screenshot(t, ctx, shots, "4-pod")

	// The plan view of a branch: the same report as `keelson plan --base main --head scale-6`.
	git := func(args ...string) {
		t.Helper()
		if out, err := devenv.Git(c.Repo.Work, args...); err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
	}
	git("checkout", "-q", "-b", "scale-6")
	if err := c.Repo.WriteFile("web.yaml", Manifests(env.WebV1, 6)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Repo.Commit("scale to 6 (a pull request)"); err != nil {
		t.Fatal(err)
	}
	git("push", "-q", "origin", "scale-6")
	git("checkout", "-q", "-")
	do("plan view", 2*time.Minute,
		goTo("#plan/scale-6"),
		Until(`document.getElementById('plan-out').textContent.includes('replicas: 4 → 6')`, time.Minute),
	)
	Screenshot(t, ctx, shots, "5-plan")

	// A refused commit: the page shows its file:line, linked to the file view.
	bad := strings.Replace(Manifests(env.WebV1, 4), "  replicas: 4", "  replicAs: 5", 1)
	refused := c.Push(t, bad, "typo in replicas")
	do("refused commit shown", 2*time.Minute,
		goTo("#overview"),
		Until(fmt.Sprintf(`(document.querySelector('#refused-commit code') || {}).title === %q`, refused), time.Minute),
	)
	errText, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#refused-commit .refused-errors")))
	if !strings.Contains(errText, "web.yaml:6") || !strings.Contains(errText, "replicAs") {
		t.Errorf("refused commit errors = %q, want web.yaml:6 naming replicAs", errText)
	}
	Screenshot(t, ctx, shots, "6-refused")
	do("file view of the refused commit", 2*time.Minute,
		chromedp.Click(chromedp.CSS("#refused-commit .refused-errors a")),
		Until(`(document.querySelector('#file li.hit') || {}).id === 'L6'`, 30*time.Second),
	)
	line, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#file li.hit")))
	if !strings.Contains(line, "replicAs: 5") {
		t.Errorf("highlighted line = %q, want the refused commit's line 6", line)
	}
	Screenshot(t, ctx, shots, "7-file")

}
