package reconciler

import (
	"cmp"
	"slices"
	"time"

	"github.com/keelson/keelson/api"
)

// Plan computes one step of the level-triggered reconcile loop: from the desired
// revision and the committed cluster state it decides what to change and returns the
// batch plus a readable account. It does no I/O and keeps no state between calls; the
// same inputs give the same Result (given deterministic cfg.NewUID/NameSuffix), and
// applying the Result then planning again converges instead of flip-flopping.
//
// The phases run in dependency order on one working copy of the state: node lifecycle
// (so eviction and scheduling see this step's node statuses), stopped-pod cleanup,
// ownership (release/adopt/prune), the RC and bare-pod controllers, the scheduler,
// services and endpoints, and finally sync/health status computed from the result.
func Plan(cfg Config, in Observed) Result {
	p := newPlanner(cfg.withDefaults(), in)
	p.reconcileNodes()
	p.cleanupStopped()
	p.evictLostPods()
	p.evictUntolerated()
	if in.Desired != nil {
		p.resolveOwnership()
		p.reconcileRCs()
		p.reconcileBarePods()
	}
	p.schedule()
	if in.Desired != nil {
		p.reconcileServices()
	}
	p.reconcileEndpoints()
	if in.Desired != nil {
		p.reconcileStatus()
	}
	return p.result()
}

// planner is the working state of one Plan call.
type planner struct {
	cfg Config
	in  Observed
	now time.Time

	nodes     map[string]*nodeState
	nodeNames []string // sorted

	// The desired side, derived once (desiredRCs, desiredPods); nil until first use.
	rcs      []*rcInfo
	barePods []*podInfo

	pods  []*podState // every pod record, then the pods created by this step
	byUID map[string]*podState
	names map[string]bool // "ns/name" of every pod record (to keep generated names unique)
	// owned lists the active (Desire Run) pods per owner key; rebuilt by resolveOwnership
	// and kept current by createPod/stopPod.
	owned map[string][]*podState

	created, scheduled int             // against cfg.MaxPodsPerBatch
	slab               []api.PodRecord // new records are carved from here: one allocation per 1024
	reqCache           map[string]podResources
	// svcProblems holds why a desired Service could not be allocated (for status).
	svcProblems map[string]string

	changes api.Changes
	actions []Action
	events  eventLog
}

// podState is one pod record as this step sees it. rec points into in.Pods until the
// step modifies it (copy on write), so a Plan over 100,000 unchanged pods copies none.
type podState struct {
	rec     *api.PodRecord
	isNew   bool // created by this step
	copied  bool // rec is this step's own copy
	changed bool // needs an UpsertPods entry
	deleted bool // DeletePods
	status  *api.PodStatus
}

func newPlanner(cfg Config, in Observed) *planner {
	p := &planner{
		cfg:      cfg,
		in:       in,
		now:      in.Now,
		byUID:    make(map[string]*podState, len(in.Pods)),
		names:    make(map[string]bool, len(in.Pods)),
		owned:    map[string][]*podState{},
		reqCache: map[string]podResources{},
	}
	p.pods = make([]*podState, 0, len(in.Pods))
	for i := range in.Pods {
		ps := &podState{rec: &in.Pods[i]}
		p.pods = append(p.pods, ps)
		p.byUID[ps.rec.UID] = ps
		p.names[namespaceOf(ps.rec.Namespace)+"/"+ps.rec.Name] = true
	}
	p.initNodes()
	return p
}

// edit returns the pod's record for modification, copying it on first write.
func (ps *podState) edit() *api.PodRecord {
	ps.own()
	ps.changed = true
	return ps.rec
}

func (ps *podState) own() {
	if !ps.copied && !ps.isNew {
		cp := *ps.rec
		ps.rec = &cp
		ps.copied = true
	}
}

// setStatus records a leader-written status (NodeLost, Unschedulable). For a pod
// created in this step the status travels inside the record itself.
func (ps *podState) setStatus(st api.PodStatus) {
	if ps.isNew {
		ps.rec.Status = st
		return
	}
	ps.own()
	ps.rec.Status = st
	ps.status = &st
}

// active reports whether the pod is wanted: Desire Run and not deleted.
func (ps *podState) active() bool {
	return !ps.deleted && ps.rec.Desire == api.DesireRun
}

func (p *planner) action(a Action) { p.actions = append(p.actions, a) }

// result assembles the batch in a deterministic order.
func (p *planner) result() Result {
	c := &p.changes
	n := 0
	for _, ps := range p.pods {
		if !ps.deleted && (ps.changed || ps.isNew) {
			n++
		}
	}
	if n > 0 {
		c.UpsertPods = make([]api.PodRecord, 0, n) // exact: 100,000 records are ~100 MB
	}
	for _, ps := range p.pods {
		switch {
		case ps.deleted:
			if !ps.isNew {
				c.DeletePods = append(c.DeletePods, ps.rec.UID)
			}
		case ps.changed || ps.isNew:
			c.UpsertPods = append(c.UpsertPods, *ps.rec)
		}
		if ps.status != nil && !ps.isNew && !ps.deleted {
			c.SetPodStatus = append(c.SetPodStatus, api.PodStatusReport{UID: ps.rec.UID, Node: ps.rec.Node, Status: *ps.status})
		}
	}
	c.Events = p.compactEvents()
	slices.SortStableFunc(c.Nodes, func(a, b api.NodePatch) int { return cmp.Compare(a.Name, b.Name) })
	return Result{Changes: *c, Actions: p.actions}
}
