package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
)

func TestFailoverAndErrors(t *testing.T) {
	var downHits atomic.Int32
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		downHits.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(api.ErrorResponse{Error: "no leader"})
	}))
	defer down.Close()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(api.ErrorResponse{Error: "bad token"})
			return
		}
		switch r.URL.Path {
		case api.PathNodes:
			if r.URL.Query().Get("index") != "7" || r.URL.Query().Get("wait") != "2s" {
				t.Errorf("query = %s", r.URL.RawQuery)
			}
			w.Header().Set(api.IndexHeader, "9")
			_ = json.NewEncoder(w).Encode([]api.Node{{Name: "n1"}})
		default:
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(api.ErrorResponse{Error: "nope"})
		}
	}))
	defer up.Close()

	ctx := context.Background()
	c := New([]string{"127.0.0.1:1", down.URL, up.URL + "/"}, "tok")
	nodes, idx, err := c.Nodes(ctx, QueryOptions{Index: 7, Wait: 2 * time.Second})
	if err != nil || idx != 9 || len(nodes) != 1 {
		t.Fatalf("Nodes = %v %d %v", nodes, idx, err)
	}
	// The server that answered is tried first next time.
	before := downHits.Load()
	if _, _, err := c.Nodes(ctx, QueryOptions{Index: 7, Wait: 2 * time.Second}); err != nil || downHits.Load() != before {
		t.Fatalf("second call: %v (503 server hit again: %v)", err, downHits.Load() != before)
	}
	if err := c.Heartbeat(ctx, "n1"); !IsNotFound(err) {
		t.Fatalf("Heartbeat error = %v, want 404", err)
	}
	bad := New([]string{up.URL}, "wrong")
	_, _, err = bad.Nodes(ctx, QueryOptions{})
	if e, ok := err.(*Error); !ok || e.StatusCode != http.StatusForbidden || e.Message != "bad token" {
		t.Fatalf("error = %#v", err)
	}
	if _, _, err := New([]string{down.URL}, "").Nodes(ctx, QueryOptions{}); err == nil {
		t.Fatal("all servers unavailable but no error")
	}
}
