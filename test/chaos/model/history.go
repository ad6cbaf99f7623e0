package model

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// Consistent is the scope of ?consistent reads: one history for the whole cluster.
const Consistent = "consistent"

// Recorder logs client-visible operations with their real-time bounds (call and
// return, on the monotonic clock) and checks them against the models. Safe for
// concurrent use: every client goroutine records its own operations.
type Recorder struct {
	start time.Time

	mu     sync.Mutex
	pushes []porcupine.Operation
	reads  map[string][]porcupine.Operation // by scope: Consistent or one server incarnation
	status []porcupine.Operation
	known  map[string]bool // pod UIDs any status read showed
	owns   []porcupine.Operation
	client map[string]int // porcupine client ids, for its visualization
}

// NewRecorder starts a recorder; its clock starts now.
func NewRecorder() *Recorder {
	return &Recorder{start: time.Now(), reads: map[string][]porcupine.Operation{}, known: map[string]bool{}, client: map[string]int{}}
}

// Now is the recorder's clock, for an operation's call and return.
func (r *Recorder) Now() int64 { return int64(time.Since(r.start)) }

func (r *Recorder) clientID(name string) int {
	id, ok := r.client[name]
	if !ok {
		id = len(r.client)
		r.client[name] = id
	}
	return id
}

// Push records the `git push` of the branch's commit number seq (0 = the seed).
func (r *Recorder) Push(seq int, call, ret int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pushes = append(r.pushes, porcupine.Operation{ClientId: r.clientID("push"), Call: call, Return: ret, Input: pushIn{seq}})
}

// Read records a read of the applied revision (its number on the branch, -1 for none,
// UnknownCommit for a commit never pushed) and raft index, in scope: Consistent, or
// the name of one server incarnation for that server's own (stale) reads.
func (r *Recorder) Read(scope string, call, ret int64, rev int, index uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reads[scope] = append(r.reads[scope], porcupine.Operation{ClientId: r.clientID(scope), Call: call, Return: ret, Input: readIn{}, Output: readOut{rev, index}})
}

// UnknownCommit is the revision number of a commit the test never pushed.
const UnknownCommit = unknownCommit

// Status records a ?consistent read of the pods: for each pod UID shown, the agent's
// observation time of its status (0 for a status the leader wrote). Pods shown by an
// earlier read and missing from this one are recorded as absent.
func (r *Recorder) Status(call, ret int64, observed map[string]int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for uid := range observed {
		r.known[uid] = true
	}
	uids := make([]string, 0, len(r.known))
	for uid := range r.known {
		uids = append(uids, uid)
	}
	sort.Strings(uids)
	id := r.clientID("status")
	for _, uid := range uids {
		obs, ok := observed[uid]
		r.status = append(r.status, porcupine.Operation{ClientId: id, Call: call, Return: ret, Input: statusIn{uid}, Output: statusOut{ok, obs}})
	}
}

// Owner is what a scan of the nodes' running containers found for one owner.
type Owner struct {
	Capacity int      // slots: 1 for a bare Pod, replicas for an RC
	Running  []string // pod UIDs with a running container
}

// Scan records a scan of what really runs on the nodes, taken once the cluster
// converged (after fencing), by owner key.
func (r *Recorder) Scan(call, ret int64, owners map[string]Owner) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := r.clientID("scan")
	for key, o := range owners {
		running := slices.Clone(o.Running)
		slices.Sort(running)
		running = slices.Compact(running)
		r.owns = append(r.owns, porcupine.Operation{ClientId: id, Call: call, Return: ret, Input: ownIn{key, o.Capacity}, Output: ownOut{running}})
	}
}

// Result is the outcome of a check: how many operations were checked and which
// histories were not linearizable (empty: none).
type Result struct {
	Operations int
	Violations []string
}

// Check runs porcupine over every history: revision reads of each scope (with all
// pushes), pod statuses, ownership scans. A check that times out is reported as a
// violation too: an unproven history is not a proven one.
func (r *Recorder) Check(timeout time.Duration) Result {
	r.mu.Lock()
	pushes := slices.Clone(r.pushes)
	reads := map[string][]porcupine.Operation{}
	for k, v := range r.reads {
		reads[k] = slices.Clone(v)
	}
	status, owns := slices.Clone(r.status), slices.Clone(r.owns)
	r.mu.Unlock()

	var res Result
	check := func(name string, m porcupine.Model, h []porcupine.Operation) {
		res.Operations += len(h)
		switch porcupine.CheckOperationsTimeout(m, h, timeout) {
		case porcupine.Ok:
		case porcupine.Illegal:
			res.Violations = append(res.Violations, fmt.Sprintf("%s: not linearizable (%d operations)", name, len(h)))
		default:
			res.Violations = append(res.Violations, fmt.Sprintf("%s: check timed out after %s (%d operations)", name, timeout, len(h)))
		}
	}
	scopes := make([]string, 0, len(reads))
	for s := range reads {
		scopes = append(scopes, s)
	}
	sort.Strings(scopes)
	for _, s := range scopes {
		check("revisions ("+s+" reads)", revisionModel, append(slices.Clone(pushes), reads[s]...))
		res.Operations -= len(pushes) // counted once below
	}
	res.Operations += len(pushes)
	check("pod status (consistent reads)", statusModel, status)
	check("slot ownership (scans after convergence)", ownershipModel, owns)
	return res
}
