package model

import (
	"time"

	"testing"

	"github.com/anishathalye/porcupine"
)

// op builds an operation for the hand-made histories below.
func op(client int, call, ret int64, in, out any) porcupine.Operation {
	return porcupine.Operation{ClientId: client, Call: call, Return: ret, Input: in, Output: out}
}

func checkModel(t *testing.T, m porcupine.Model, h []porcupine.Operation, want bool) {
	t.Helper()
	if got := porcupine.CheckOperations(m, h); got != want {
		t.Fatalf("linearizable = %v, want %v for %v", got, want, h)
	}
}

func TestRevisionModel(t *testing.T) {
	push := func(c int, call, ret int64, seq int) porcupine.Operation {
		return op(c, call, ret, pushIn{seq}, nil)
	}
	read := func(c int, call, ret int64, rev int, idx uint64) porcupine.Operation {
		return op(c, call, ret, readIn{}, readOut{rev, idx})
	}
	good := []porcupine.Operation{
		push(0, 0, 1, 0),
		read(1, 2, 3, -1, 5), // nothing applied yet
		read(1, 4, 5, 0, 7),
		push(0, 6, 10, 1),
		read(1, 7, 8, 1, 9),   // concurrent with push 1: may see it
		read(2, 8, 9, 1, 9),   // same answer from another client
		read(1, 11, 12, 1, 9), // skipping nothing, index unchanged
		push(0, 13, 14, 2),
		push(0, 15, 16, 3),
		read(1, 17, 18, 3, 12), // revision 2 was never shown: a skip is fine
	}
	checkModel(t, revisionModel, good, true)

	for name, bad := range map[string][]porcupine.Operation{
		"revision goes backwards": {
			push(0, 0, 1, 0), push(0, 2, 3, 1),
			read(1, 4, 5, 1, 9), read(1, 6, 7, 0, 10),
		},
		"raft index goes backwards": {
			push(0, 0, 1, 0),
			read(1, 2, 3, 0, 9), read(2, 4, 5, 0, 8),
		},
		"revision read before it was pushed": {
			push(0, 0, 1, 0),
			read(1, 2, 3, 1, 9), push(0, 4, 5, 1),
		},
		"a commit never pushed": {
			push(0, 0, 1, 0), read(1, 2, 3, unknownCommit, 9),
		},
		"stale read after a newer one returned (two clients)": {
			push(0, 0, 1, 0), push(0, 2, 3, 1),
			read(1, 4, 5, 1, 9), read(2, 6, 7, 0, 9),
		},
	} {
		t.Run(name, func(t *testing.T) { checkModel(t, revisionModel, bad, false) })
	}
}

func TestStatusModel(t *testing.T) {
	st := func(c int, call, ret int64, uid string, present bool, obs int64) porcupine.Operation {
		return op(c, call, ret, statusIn{uid}, statusOut{present, obs})
	}
	good := []porcupine.Operation{
		st(0, 0, 1, "a", false, 0), // before it was created
		st(0, 2, 3, "a", true, 100),
		st(1, 2, 3, "b", true, 50),
		st(0, 4, 5, "a", true, 200),
		st(1, 4, 7, "a", true, 100), // concurrent with the read of 200: ordered before it
		st(0, 8, 9, "a", true, 0),   // the leader marked it NodeLost
		st(0, 10, 11, "a", true, 300),
		st(0, 12, 13, "a", false, 0), // deleted
		st(0, 14, 15, "a", false, 0),
	}
	checkModel(t, statusModel, good, true)
	for name, bad := range map[string][]porcupine.Operation{
		"acknowledged status lost (older report shown later)": {
			st(0, 0, 1, "a", true, 200), st(1, 2, 3, "a", true, 100),
		},
		"deleted pod comes back": {
			st(0, 0, 1, "a", true, 200), st(0, 2, 3, "a", false, 0), st(0, 4, 5, "a", true, 200),
		},
		"older report after a leader status": {
			st(0, 0, 1, "a", true, 200), st(0, 2, 3, "a", true, 0), st(0, 4, 5, "a", true, 150),
		},
	} {
		t.Run(name, func(t *testing.T) { checkModel(t, statusModel, bad, false) })
	}
}

func TestOwnershipModel(t *testing.T) {
	scan := func(call int64, owner string, capacity int, running ...string) porcupine.Operation {
		return op(0, call, call+1, ownIn{owner, capacity}, ownOut{running})
	}
	good := []porcupine.Operation{
		scan(0, "Pod/default/solo", 1, "u1"),
		scan(0, "ReplicationController/default/web", 2, "r1", "r2"),
		scan(2, "Pod/default/solo", 1, "u2"), // u1's node was lost, u2 replaced it
		scan(2, "ReplicationController/default/web", 2, "r1", "r3"),
		scan(4, "Pod/default/solo", 1, "u2"),
		scan(4, "ReplicationController/default/web", 3, "r1", "r3", "r4"), // scaled to 3
	}
	checkModel(t, ownershipModel, good, true)
	for name, bad := range map[string][]porcupine.Operation{
		"two pods own the one slot of a bare Pod": {
			scan(0, "Pod/default/solo", 1, "u1", "u2"),
		},
		"more pods than replicas": {
			scan(0, "ReplicationController/default/web", 2, "r1", "r2", "r3"),
		},
		"a fenced pod runs again": {
			scan(0, "Pod/default/solo", 1, "u1"),
			scan(2, "Pod/default/solo", 1, "u2"),
			scan(4, "Pod/default/solo", 1, "u1"),
		},
	} {
		t.Run(name, func(t *testing.T) { checkModel(t, ownershipModel, bad, false) })
	}
}

// TestRecorderFindsViolations drives the recorder as the soak does and checks that
// Check reports a bad history of each kind and passes a good one.
func TestRecorderFindsViolations(t *testing.T) {
	r := NewRecorder()
	r.Push(0, 0, 1)
	r.Read(Consistent, 2, 3, 0, 10)
	r.Read("s1#1", 2, 3, 0, 10)
	r.Status(2, 3, map[string]int64{"a": 100})
	r.Status(4, 5, map[string]int64{"a": 200, "b": 10})
	r.Scan(6, 7, map[string]Owner{"Pod/default/solo": {Capacity: 1, Running: []string{"a"}}})
	if res := r.Check(time.Minute); len(res.Violations) != 0 || res.Operations != 7 {
		t.Fatalf("good history: %+v", res)
	}
	r.Read("s1#1", 8, 9, 0, 9)                   // replica's index went back
	r.Status(10, 11, map[string]int64{"a": 150}) // a's report of 200 lost; b vanished
	r.Status(12, 13, map[string]int64{"b": 20})  // b came back
	r.Scan(14, 15, map[string]Owner{"Pod/default/solo": {Capacity: 1, Running: []string{"a", "c"}}})
	res := r.Check(time.Minute)
	if len(res.Violations) != 3 {
		t.Fatalf("bad history: want 3 violations (replica, status, ownership), got %+v", res)
	}
}
