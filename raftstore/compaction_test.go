package raftstore

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
)

// A snapshot is taken once enough entry bytes were applied, long before raft's entry
// count threshold.
func TestSnapshotByLogBytes(t *testing.T) {
	c := newInmemCluster(t, 1, func(cfg *Config) { cfg.SnapshotBytes = 4 << 10; cfg.SnapshotThreshold = 1 << 20 })
	l := c.stores[0]
	waitFor(t, 10*time.Second, "a leader", l.IsLeader)
	for i := range 20 {
		p := pod(fmt.Sprint(i), "n1")
		p.Annotations = map[string]string{"pad": fmt.Sprintf("%0512d", i)}
		if _, err := l.Apply(context.Background(), ApplyChangesCmd(api.Changes{UpsertPods: []api.PodRecord{p}})); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "a snapshot", func() bool {
		n, _ := strconv.Atoi(l.Stats()["last_snapshot_index"])
		return n > 0
	})
}
