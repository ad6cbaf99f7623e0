package server

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/reconciler"
)

// fakeSource delivers revisions pushed into it and counts triggers.
type fakeSource struct {
	owner    string
	revs     chan api.Revision
	triggers atomic.Int32
}

func (f *fakeSource) Run(ctx context.Context, deliver func(api.Revision)) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case r := <-f.revs:
			deliver(r)
		}
	}
}
func (f *fakeSource) Trigger() { f.triggers.Add(1) }
func (f *fakeSource) Status() api.SourceStatus {
	return api.SourceStatus{URL: "file:///repo", Branch: "main", Healthy: true, Head: f.owner}
}

// sources records every source a leader started.
type sources struct {
	mu   sync.Mutex
	list []*fakeSource
}

func (s *sources) factory(owner string) func() (Source, error) {
	return func() (Source, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		f := &fakeSource{owner: owner, revs: make(chan api.Revision, 4)}
		s.list = append(s.list, f)
		return f, nil
	}
}

func (s *sources) latest() *fakeSource {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.list) == 0 {
		return nil
	}
	return s.list[len(s.list)-1]
}

// podPerCommit is a tiny planner: one pod per desired commit, plus a record of the
// heartbeats it was shown.
type podPerCommit struct {
	mu    sync.Mutex
	beats map[string]time.Time
}

func (p *podPerCommit) plan(in reconciler.Observed) reconciler.Result {
	p.mu.Lock()
	p.beats = in.Heartbeats
	p.mu.Unlock()
	if in.Desired == nil {
		return reconciler.Result{}
	}
	uid := "pod-" + in.Desired.Commit
	for _, pod := range in.Pods {
		if pod.UID == uid {
			return reconciler.Result{}
		}
	}
	return reconciler.Result{
		Changes: api.Changes{UpsertPods: []api.PodRecord{{UID: uid, Namespace: "default", Name: uid, Desire: api.DesireRun}}},
		Actions: []reconciler.Action{{Type: reconciler.ActCreatePod, Object: "Pod/default/" + uid}},
	}
}

func (p *podPerCommit) heartbeat(node string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.beats[node]
	return t, ok
}

func TestLeaderDuties(t *testing.T) {
	var src sources
	planner := &podPerCommit{}
	s := newTestCluster(t, clusterOpts{n: 3, deps: func(i int) Deps {
		return Deps{
			NewSource: src.factory(fmt.Sprint(i)), Planner: planner.plan,
			Webhook: func(trigger func()) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { trigger() })
			},
		}
	}})
	l := leaderOf(t, s)
	waitFor(t, 10*time.Second, "the leader's git source", func() bool { return src.latest() != nil })
	fs := src.latest()

	// Valid revision → applied → the reconciler acts on it.
	fs.revs <- api.Revision{Commit: "c1"}
	waitFor(t, 10*time.Second, "pod-c1 from the reconciler", func() bool {
		_, ok := l.store.Snapshot().Pod("pod-c1")
		return ok
	})
	// Invalid revision → refused, the last good one stays.
	fs.revs <- api.Revision{Commit: "c2", Errors: []api.FieldError{{Message: "bad"}}}
	waitFor(t, 10*time.Second, "c2 refused", func() bool {
		r := l.store.Snapshot().Refused()
		return r != nil && r.Commit == "c2"
	})
	if rev := l.store.Snapshot().Revision(); rev.Commit != "c1" {
		t.Fatalf("last good revision = %s after a refused commit", rev.Commit)
	}
	waitFor(t, 10*time.Second, "source status replicated", func() bool { return l.store.Snapshot().Source().Healthy })

	// Webhooks reach the leader's source, through a follower too.
	if r := do(t, "POST", follower(s, l).url+api.PathGitHook, "", "{}"); r.code != 200 {
		t.Fatalf("webhook via follower: %d %s", r.code, r.body)
	}
	if fs.triggers.Load() != 1 {
		t.Fatalf("triggers = %d", fs.triggers.Load())
	}

	// Heartbeats reach the planner through leader memory.
	do(t, "POST", l.url+api.PathNodeRegister, "node:n1", regBody)
	waitFor(t, 10*time.Second, "the planner to see n1's heartbeat", func() bool {
		_, ok := planner.heartbeat("n1")
		return ok
	})

	// The leader dies: a new leader starts its own source and reconciler.
	l.stop()
	_ = l.store.Close()
	var rest []*testServer
	for _, x := range s {
		if x != l {
			rest = append(rest, x)
		}
	}
	l2 := leaderOf(t, rest)
	waitFor(t, 10*time.Second, "the new leader's source", func() bool {
		f := src.latest()
		return f != fs && f != nil
	})
	src.latest().revs <- api.Revision{Commit: "c3"}
	waitFor(t, 10*time.Second, "pod-c3 from the new leader", func() bool {
		_, ok := l2.store.Snapshot().Pod("pod-c3")
		return ok
	})
	if _, ok := l2.store.Snapshot().Pod("pod-c1"); !ok {
		t.Fatal("the new leader lost pod-c1")
	}
}
