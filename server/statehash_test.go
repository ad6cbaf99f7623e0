package server

import (
	"context"
	"testing"
	"time"

	"github.com/keelson/keelson/internal/testenv"
)

// TestStateHashPerReplica: GET /v1/state-hash answers each replica's own hash and
// index (never forwarded), to read-token holders only; replicas at one index agree.
func TestStateHashPerReplica(t *testing.T) {
	s := newTestCluster(t, clusterOpts{n: 3})
	leaderOf(t, s)
	ctx := context.Background()
	if _, err := clientAs(t, []string{s[0].url}, "").StateHash(ctx); err == nil {
		t.Fatal("state hash served without a token")
	}
	testenv.PollDetail(t, 10*time.Second, 20*time.Millisecond, "replicas at one index with one hash", func() (bool, string) {
		var idx []uint64
		var hashes []string
		for _, ts := range s {
			h, err := clientAs(t, []string{ts.url}, testReadToken).StateHash(ctx)
			if err != nil {
				return false, err.Error()
			}
			idx, hashes = append(idx, h.Index), append(hashes, h.Hash)
		}
		if idx[0] != idx[1] || idx[1] != idx[2] || hashes[0] == "" {
			return false, "indexes differ"
		}
		if hashes[0] != hashes[1] || hashes[1] != hashes[2] {
			t.Fatalf("replicas at index %d disagree: %v", idx[0], hashes)
		}
		return true, ""
	})
}
