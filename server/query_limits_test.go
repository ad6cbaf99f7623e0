package server

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
)

// Blocking queries beyond the per-client cap get a clear 429; a slot is free again as
// soon as one returns.
func TestBlockingQueriesPerClientCap(t *testing.T) {
	s := newTestCluster(t, clusterOpts{})
	l := leaderOf(t, s)
	first := do(t, "GET", l.url+api.PathNodes, testReadToken, "")
	url := l.url + api.PathNodes + "?index=" + first.index + "&wait=30s"

	hc := httpClientAs(t, testReadToken)
	var wg sync.WaitGroup
	codes := make(chan int, maxBlockingPerClient)
	for range maxBlockingPerClient {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("Authorization", "Bearer "+testReadToken)
			resp, err := hc.Do(req)
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	waitFor(t, 10*time.Second, "every blocking query held", func() bool {
		l.blocking.mu.Lock()
		defer l.blocking.mu.Unlock()
		return l.blocking.client["127.0.0.1"] == maxBlockingPerClient
	})
	r := do(t, "GET", url, testReadToken, "")
	if r.code != http.StatusTooManyRequests || !strings.Contains(r.body, "too many blocking queries from 127.0.0.1: at most 100 at once") {
		t.Fatalf("query over the cap: %d %s, want 429 naming the client and the cap", r.code, r.body)
	}
	// A non-blocking read is never refused.
	if r := do(t, "GET", l.url+api.PathNodes, testReadToken, ""); r.code != http.StatusOK {
		t.Fatalf("plain read at the cap: %d %s", r.code, r.body)
	}
	// A change releases them all.
	if r := do(t, "POST", l.url+api.PathNodeRegister, "node:n1", regBody); r.code != 200 {
		t.Fatalf("register: %d %s", r.code, r.body)
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusOK {
			t.Fatalf("a held blocking query answered %d", c)
		}
	}
	if r := do(t, "GET", l.url+api.PathNodes+"?index="+r.index+"&wait=10ms", testReadToken, ""); r.code != http.StatusOK {
		t.Fatalf("blocking query after release: %d %s", r.code, r.body)
	}
}

func TestClientOf(t *testing.T) {
	r := httptest.NewRequest("GET", "/v1/nodes", nil)
	r.RemoteAddr = "192.0.2.7:40001"
	if got := clientOf(r); got != "192.0.2.7" {
		t.Errorf("plain request: client %q", got)
	}
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{{Subject: pkix.Name{CommonName: "node-a"}}}}
	if got := clientOf(r); got != "certificate node-a" {
		t.Errorf("request with a client certificate: client %q", got)
	}
}

func TestBlockingLimiterTotal(t *testing.T) {
	l := newBlockingLimiter(2, 3)
	var rel []func()
	for _, c := range []string{"a", "a", "b"} {
		r, err := l.acquire(c)
		if err != nil {
			t.Fatalf("acquire %s: %v", c, err)
		}
		rel = append(rel, r)
	}
	if _, err := l.acquire("a"); err == nil || !strings.Contains(err.Error(), "from a: at most 2") {
		t.Fatalf("third for a: %v, want the per-client cap", err)
	}
	if _, err := l.acquire("c"); err == nil || !strings.Contains(err.Error(), "on this server: at most 3") {
		t.Fatalf("fourth in total: %v, want the total cap", err)
	}
	rel[0]()
	rel[0]() // releasing twice frees one slot only
	if _, err := l.acquire("c"); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	if _, err := l.acquire("d"); err == nil {
		t.Fatal("a double release freed two slots")
	}
}

// ?consistent confirms leadership with a quorum instead of appending a Barrier entry:
// after the first one of a term, consistent reads leave the raft log as it is.
func TestConsistentReadWritesNoLogEntry(t *testing.T) {
	s := newTestCluster(t, clusterOpts{n: 3})
	l := leaderOf(t, s)
	if r := do(t, "GET", l.url+api.PathNodes+"?consistent", testReadToken, ""); r.code != 200 {
		t.Fatalf("consistent read: %d %s", r.code, r.body)
	}
	// The reconcile loop may still be writing; wait for a quiet log first.
	var before string
	waitFor(t, 10*time.Second, "a quiet raft log", func() bool {
		b := l.store.Stats()["last_log_index"]
		quiet := b == before
		before = b
		return quiet
	})
	for range 20 {
		if r := do(t, "GET", l.url+api.PathNodes+"?consistent", testReadToken, ""); r.code != 200 {
			t.Fatalf("consistent read: %d %s", r.code, r.body)
		}
	}
	if after := l.store.Stats()["last_log_index"]; after != before {
		t.Fatalf("20 consistent reads moved the raft log from %s to %s", before, after)
	}
	// And a write is seen by the next consistent read through a follower.
	if r := do(t, "POST", l.url+api.PathNodeRegister, "node:n1", regBody); r.code != 200 {
		t.Fatalf("register: %d %s", r.code, r.body)
	}
	f := follower(s, l)
	if nodes := decodeAs[[]api.Node](t, do(t, "GET", f.url+api.PathNodes+"?consistent", testReadToken, "")); len(nodes) != 1 {
		t.Fatalf("consistent read via follower after a write: %d nodes", len(nodes))
	}
}
