package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/raftstore"
)

// Whatever was recorded (a source status from an older version, an error quoting the
// URL), /v1/status never shows a credential of the repository URL.
func TestStatusRedactsRepositoryCredentials(t *testing.T) {
	s := newTestCluster(t, clusterOpts{})
	l := leaderOf(t, s)
	st := api.SourceStatus{
		URL:       "https://ghp_user0secret@git.example/app.git?access_token=qs0secret",
		Branch:    "main",
		Message:   `fetch https://alice:pw0secret@git.example/app.git: authentication required`,
		CheckedAt: time.Now().UTC(),
	}
	if _, err := l.store.Apply(context.Background(), raftstore.SetSourceStatusCmd(st)); err != nil {
		t.Fatal(err)
	}
	r := do(t, "GET", l.url+api.PathStatus, testReadToken, "")
	if r.code != 200 || strings.Contains(r.body, "0secret") {
		t.Fatalf("status: %d %s", r.code, r.body)
	}
	got := decodeAs[api.StatusResponse](t, r).Source
	if got.URL != "https://xxxxx@git.example/app.git?access_token=xxxxx" || got.Message != "fetch https://xxxxx@git.example/app.git: authentication required" {
		t.Fatalf("source status %+v", got)
	}
}
