package kubectl

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listerscorev1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/keelson/keelson/api"
)

// checkInformerFailover runs a client-go pod informer (list + watch, resync off)
// against a follower, SIGKILLs the leader, pushes a scale change, and expects the
// informer's cache to converge to exactly the store's pods under the new leader.
func (k *kcluster) checkInformerFailover(t *testing.T, before []api.PodRecord) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := k.c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leader := leaderIndex(st)
	if leader < 0 {
		t.Fatalf("no leader in %+v", st.Servers)
	}
	follower := (leader + 1) % len(k.procs.Servers)
	// The CA and the read token of the follower's kubeconfig: TLS verified, read
	// credential sent, as on any cluster.
	cfg, err := k.restConfig(follower)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactory(cs, 0)
	inf := factory.Core().V1().Pods()
	lister := inf.Lister()
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.Informer().HasSynced) {
		t.Fatal("informer never synced")
	}
	k.eventually(time.Minute, "informer holds the rolled pods", func(context.Context) error {
		return sameUIDs(cached(lister), before)
	})

	k.procs.Servers[leader].Kill()
	k.eventually(time.Minute, "a new leader", func(ctx context.Context) error {
		st, err := k.c.Status(ctx)
		if err != nil {
			return err
		}
		if i := leaderIndex(st); i < 0 || i == leader {
			return fmt.Errorf("leader is server %d", i)
		}
		return nil
	})
	k.writeManifests(3, "v2")
	commit := k.push("scale the frontend to 3 after the failover")
	after := k.converged(commit, 3, "v2")
	k.eventually(time.Minute, "informer cache converged after the failover", func(context.Context) error {
		return sameUIDs(cached(lister), after)
	})
}

// leaderIndex is the index in k.procs.Servers of the leader, -1 when none.
func leaderIndex(st api.StatusResponse) int {
	for _, s := range st.Servers {
		if s.Leader {
			var i int
			if _, err := fmt.Sscanf(s.ID, "s%d", &i); err == nil {
				return i - 1
			}
		}
	}
	return -1
}

// cached lists the running, ready pods in the informer's cache.
func cached(l listerscorev1.PodLister) []string {
	pods, _ := l.List(labels.Everything())
	var out []string
	for _, p := range pods {
		if p.Status.Phase == corev1.PodRunning && len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].Ready {
			out = append(out, string(p.UID))
		}
	}
	slices.Sort(out)
	return out
}

func sameUIDs(got []string, want []api.PodRecord) error {
	var w []string
	for _, p := range want {
		w = append(w, p.UID)
	}
	slices.Sort(w)
	if !slices.Equal(got, w) {
		return fmt.Errorf("informer has running pods %s, store %s", strings.Join(got, ","), strings.Join(w, ","))
	}
	return nil
}
