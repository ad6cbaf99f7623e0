package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/hashicorp/raft"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/testenv"
	"github.com/keelson/keelson/pki"
	"github.com/keelson/keelson/raftstore"
	"github.com/keelson/keelson/server"
	"github.com/keelson/keelson/server/web"
	webtest "github.com/keelson/keelson/test/web"
)

// TestPageInProcessServer runs the page in chromium against a real server (in-memory
// raft, real HTTP and authentication) without containers: the page runs under its own
// strict CSP without a single violation, keyboard users reach every view, and a node
// registering shows up in the open page without a reload. test/web proves the rest on
// a real cluster.
func TestPageInProcessServer(t *testing.T) {
	_, trans := raft.NewInmemTransport("")
	rc := raftstore.Config{ID: "s1", Bootstrap: true, Transport: trans, InMemory: true}
	rc.UseFastTimeouts()
	st, err := raftstore.Open(rc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	dir := t.TempDir() // bootstrap makes the cluster CA and the tokens here
	srv, err := server.New(server.Config{ID: "s1", DataDir: dir, Bootstrap: true}, server.Deps{
		Store: st,
		Web: func(h http.Handler, st *raftstore.Store) http.Handler {
			w, err := web.New(web.Config{API: h, Index: st})
			if err != nil {
				t.Fatal(err)
			}
			return w
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.TLS = srv.TLSConfig()
	ts.StartTLS()
	t.Cleanup(ts.Close)
	files := pki.ServerFiles{DataDir: dir}
	readToken, err := pki.ReadTokenFile(files.ReadTokens())
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Run(rctx) }()
	t.Cleanup(func() { stop(); <-done })
	testenv.Eventually(t, 10*time.Second, "the server leads", st.IsLeader)
	ctx := webtest.Browser(t, ts.URL, files.CACert()) // after the server: its cleanup (closing the stream) runs first

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			t.Fatalf("%s: %v\npage text:\n%s", what, err, webtest.PageText(ctx))
		}
	}
	do("sign in", webtest.Login(ts.URL, readToken.Secret),
		webtest.Until(`window.keelson && window.keelson.updates > 0`, 20*time.Second))
	pageID, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("window.keelson.pageId"))

	// A change in the store reaches the open page through the stream.
	if _, err := st.Apply(context.Background(), raftstore.RegisterNodeCmd(api.NodeRegistration{Name: "n-browser", Address: "192.0.2.7",
		Allocatable: api.Resources{MilliCPU: 2000, MemoryBytes: 4 << 30}}, time.Now().UTC())); err != nil {
		t.Fatal(err)
	}
	do("node appears", webtest.Until(`!!document.querySelector('[data-node="n-browser"]')`, 20*time.Second))
	if id, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("window.keelson.pageId")); id != pageID {
		t.Errorf("the page reloaded (pageId %q, was %q)", id, pageID)
	}

	// Keyboard: Tab from the top reaches the skip link, then the views; Enter opens one.
	do("keyboard to Nodes",
		chromedp.Evaluate[chromedp.Void]("document.activeElement.blur(), undefined"),
		chromedp.KeyEvent(kb.Tab+kb.Tab+kb.Tab),
		webtest.Until(`document.activeElement.textContent === 'Nodes'`, 5*time.Second),
		chromedp.KeyEvent(kb.Enter),
		webtest.Until(`!document.getElementById('view-nodes').hidden`, 5*time.Second))
	text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-node="n-browser"]`)))
	if !strings.Contains(text, "of 2.0") || !strings.Contains(text, "4096 MiB") {
		t.Errorf("node card = %q, want its allocatable CPU and memory", text)
	}

	// Every view opens under the page's own strict Content-Security-Policy without a
	// violation, and the page asks nothing of any other origin.
	for _, v := range []string{"#events", "#plan", "#overview"} {
		do("view "+v, chromedp.Evaluate[chromedp.Void]("location.hash = '"+v+"', undefined"),
			webtest.Until(`!document.getElementById('view-`+v[1:]+`').hidden`, 5*time.Second))
	}
	violations, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.keelson.cspViolations`))
	if err != nil || violations != 0 {
		t.Errorf("CSP violations: %d (%v)", violations, err)
	}
	foreign, err := chromedp.Run(ctx, chromedp.Evaluate[int](`performance.getEntriesByType('resource').filter(e => !e.name.startsWith(location.origin)).length`))
	if err != nil || foreign != 0 {
		t.Errorf("requests to other origins: %d (%v)", foreign, err)
	}
}
