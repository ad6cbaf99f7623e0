package server

import (
	"context"
	"testing"
	"time"

	"github.com/keelson/keelson/reconciler"
)

// TestConfigPublished: GET /v1/config answers the reconciler configuration the server
// was given, defaults filled in, to read-token holders only, and the CLI's side turns
// it back into the same Config.
func TestConfigPublished(t *testing.T) {
	rc := reconciler.Config{ServiceCIDR: "10.123.0.0/16", NodeGracePeriod: 3 * time.Second, MaxPodsPerBatch: 7}
	s := newTestCluster(t, clusterOpts{deps: func(int) Deps { return Deps{Reconciler: rc} }})
	l := leaderOf(t, s)
	ctx := context.Background()
	if _, err := clientAs(t, []string{l.url}, "").ReconcilerConfig(ctx); err == nil {
		t.Fatal("config served without a token")
	}
	got, err := clientAs(t, []string{l.url}, testReadToken).ReconcilerConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.ServiceCIDR != "10.123.0.0/16" || got.NodeGracePeriod != "3s" || got.MaxPodsPerBatch != 7 ||
		got.ClusterCIDR != "10.244.0.0/16" || got.EvictionTimeout != "20s" || got.NodePortMin != 30000 {
		t.Fatalf("published %+v", got)
	}
	back, err := reconciler.DefaultConfig().WithPublished(got)
	if err != nil {
		t.Fatal(err)
	}
	if back.Published() != got {
		t.Errorf("round trip: %+v, want %+v", back.Published(), got)
	}
}
