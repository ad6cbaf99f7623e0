package model

import (
	"fmt"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"
)

// The models below are the sequential specifications porcupine checks the recorded
// histories against. Each is small on purpose: a model that is hard to read is a model
// nobody trusts. model_test.go feeds each one a hand-made good history and a bad one
// and shows the bad one is rejected.

// ---- revisions: applied revisions follow the branch and never go backwards ----

// pushIn is a `git push` of the commit with this position on the branch (0 = the seed
// commit, then 1, 2, ...). It has no output.
type pushIn struct{ Seq int }

// readIn is a read of the cluster's applied revision and raft index.
type readIn struct{}

// unknownCommit is the Rev of a read whose applied commit was never pushed.
const unknownCommit = -2

// readOut is what a read answered: the applied commit's position on the branch (-1:
// none applied yet, unknownCommit: a commit the test never pushed) and the raft index.
type readOut struct {
	Rev   int
	Index uint64
}

// revState is the linearized state: the newest commit pushed, the newest revision and
// raft index a read has shown.
type revState struct {
	Pushed int
	Rev    int
	Index  uint64
}

// revisionModel: a read shows a commit that was pushed before it (the branch's history,
// nothing invented), never an older revision or raft index than a read linearized
// before it. Checked over ?consistent reads (one history for the whole cluster: they
// must be linearizable) and over each server incarnation's own reads (a replica never
// goes backwards, even a stale one).
var revisionModel = porcupine.Model{
	Init: func() any { return revState{Pushed: -1, Rev: -1} },
	Step: func(state, input, output any) (bool, any) {
		s := state.(revState)
		switch in := input.(type) {
		case pushIn:
			s.Pushed = max(s.Pushed, in.Seq)
			return true, s
		case readIn:
			out := output.(readOut)
			if out.Rev == unknownCommit || out.Rev > s.Pushed || out.Rev < s.Rev || out.Index < s.Index {
				return false, s
			}
			s.Rev, s.Index = out.Rev, out.Index
			return true, s
		}
		return false, s
	},
	DescribeOperation: func(input, output any) string {
		if in, ok := input.(pushIn); ok {
			return fmt.Sprintf("push #%d", in.Seq)
		}
		o := output.(readOut)
		return fmt.Sprintf("read -> rev #%d index %d", o.Rev, o.Index)
	},
}

// ---- pod status: an acknowledged status is never lost ----

// statusIn is one pod's part of a ?consistent read of the pods (the history is
// partitioned by pod UID before it is checked).
type statusIn struct{ UID string }

// statusOut is what the read showed of that pod: absent, or present with the agent's
// observation time of the status it holds (0: a status the leader wrote, NodeLost or
// Unschedulable, which carries no agent time).
type statusOut struct {
	Present  bool
	Observed int64
}

type statusState struct {
	Seen, Gone bool
	Observed   int64 // newest agent observation shown
}

// statusModel: once a read has shown an agent's status report (observed at T) for a
// pod, no later read shows an older agent report for it (a committed, acknowledged
// report was lost or overwritten by a stale one), and once a read no longer shows the
// pod (deleted: UIDs are never reused), it never shows it again. A leader-written status
// (NodeLost) may replace an agent's at any time.
var statusModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			uid := op.Input.(statusIn).UID
			if _, ok := by[uid]; !ok {
				keys = append(keys, uid)
			}
			by[uid] = append(by[uid], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() any { return statusState{} },
	Step: func(state, _, output any) (bool, any) {
		s, out := state.(statusState), output.(statusOut)
		switch {
		case !out.Present:
			s.Gone = s.Gone || s.Seen
			return true, s
		case s.Gone:
			return false, s
		case out.Observed != 0 && out.Observed < s.Observed:
			return false, s
		}
		s.Seen, s.Observed = true, max(s.Observed, out.Observed)
		return true, s
	},
	DescribeOperation: func(input, output any) string {
		o := output.(statusOut)
		if !o.Present {
			return input.(statusIn).UID + " absent"
		}
		return fmt.Sprintf("%s observed %d", input.(statusIn).UID, o.Observed)
	},
}

// ---- fencing: two pods never both own one slot ----

// ownIn is one owner's part of a scan of the containers really running on every node,
// taken after the cluster converged (so after any returning node was fenced). Owner
// is the pod's owner key: a bare Pod is one slot, an RC has Capacity (its replicas).
type ownIn struct {
	Owner    string
	Capacity int
}

// ownOut lists the pod UIDs with a running container of that owner, sorted.
type ownOut struct{ Running []string }

type ownState struct {
	Running []string // sorted
	Retired []string // sorted: UIDs that owned a slot and were replaced
}

// ownershipModel: after fencing, an owner's running pods never exceed its slots (a
// bare Pod: one; an RC: replicas), and a pod that was replaced (it ran at one scan and
// not at a later one) never runs again: a fenced pod stays fenced.
var ownershipModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			o := op.Input.(ownIn).Owner
			if _, ok := by[o]; !ok {
				keys = append(keys, o)
			}
			by[o] = append(by[o], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() any { return ownState{} },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(ownState), input.(ownIn), output.(ownOut)
		if len(out.Running) > in.Capacity {
			return false, s
		}
		for _, uid := range out.Running {
			if _, found := slices.BinarySearch(s.Retired, uid); found {
				return false, s
			}
		}
		retired := slices.Clone(s.Retired)
		for _, uid := range s.Running {
			if _, found := slices.BinarySearch(out.Running, uid); !found {
				retired = append(retired, uid)
			}
		}
		slices.Sort(retired)
		return true, ownState{Running: out.Running, Retired: retired}
	},
	Equal: func(a, b any) bool {
		x, y := a.(ownState), b.(ownState)
		return slices.Equal(x.Running, y.Running) && slices.Equal(x.Retired, y.Retired)
	},
	DescribeOperation: func(input, output any) string {
		in := input.(ownIn)
		return fmt.Sprintf("%s (%d slots) running [%s]", in.Owner, in.Capacity, strings.Join(output.(ownOut).Running, " "))
	},
}
