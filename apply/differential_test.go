package apply_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	corev1 "k8s.io/api/core/v1"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/apply"
	"github.com/keelson/keelson/raftstore"
	"github.com/keelson/keelson/reconciler"
)

// The differential test: the same random command sequences go to the replicated
// store's FSM (through raft log entries, as a replica applies them) and to the state
// reconciler.Simulate steps (Observed, through reconciler.ApplyWith), and after every
// command both must hold the same cluster state (canonical hash) and agree on whether
// the command was refused. Both sides call package apply; what this proves is that the
// two State implementations (memdb transaction, maps) cannot make them differ.

// TestFSMMatchesSimulation runs thousands of random batches, deterministically seeded.
func TestFSMMatchesSimulation(t *testing.T) {
	seqs, perSeq := 40, 100 // 4,000 commands
	if testing.Short() {
		seqs = 5
	}
	for seed := range uint64(seqs) {
		rng := rand.New(rand.NewPCG(seed, 0x6b65656c))
		runDifferential(t, fmt.Sprintf("seed %d", seed), func(n int) int { return rng.IntN(n) }, perSeq)
	}
}

// FuzzFSMMatchesSimulation lets the fuzzer choose every decision of the generator:
// each byte of the input picks one choice (0 once the input is used up).
func FuzzFSMMatchesSimulation(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	f.Add(bytes.Repeat([]byte{2, 0, 1, 3, 1, 0, 0, 1, 2, 2, 1, 3}, 20))
	f.Add([]byte("register nodes, place pods, stop them, report them gone"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		pos := 0
		pick := func(n int) int {
			if pos >= len(data) {
				return 0
			}
			b := int(data[pos])
			pos++
			return b % n
		}
		runDifferential(t, "fuzz", pick, 1+len(data)/8)
	})
}

// runDifferential applies n generated commands to both sides, comparing after each.
func runDifferential(t *testing.T, name string, pick func(int) int, n int) {
	t.Helper()
	fsm := raftstore.NewFSM(nil, 0)
	var sim reconciler.Observed
	g := &gen{pick: pick}
	for i := 1; i <= n; i++ {
		cmd, step := g.command()
		data, err := cmd.Encode()
		if err != nil {
			t.Fatalf("%s: command %d: encode: %v", name, i, err)
		}
		fsmErr, _ := fsm.Apply(&raft.Log{Index: uint64(i), Data: data}).(error)
		next, simErr := reconciler.ApplyWith(sim, step)
		if (fsmErr == nil) != (simErr == nil) {
			t.Fatalf("%s: command %d (%s): store error %v, simulation error %v", name, i, cmd.Type, fsmErr, simErr)
		}
		sim = next
		st := fsm.State()
		got, want := canonical(st.Nodes(), st.Pods(), st.Services(), st.Endpoints(), st.ObjectStatus(), st.Cluster()),
			canonical(sim.Nodes, sim.Pods, sim.Services, sim.Endpoints, sim.ObjectStatus, sim.Status)
		if hash(got) != hash(want) {
			t.Fatalf("%s: after command %d (%s) the states differ:\nstore:      %s\nsimulation: %s\ncommand: %s", name, i, cmd.Type, got, want, data[1:])
		}
	}
}

// canonical is the state both sides keep, as JSON with empty tables as null (the store
// lists an empty table as [], the simulation may hold nil).
func canonical(nodes []api.Node, pods []api.PodRecord, svcs []api.ServiceRecord, eps []api.Endpoints, objs []api.ObjectStatus, cs api.ClusterStatus) []byte {
	state := map[string]any{"cluster": cs}
	if len(nodes) > 0 {
		state["nodes"] = nodes
	}
	if len(pods) > 0 {
		state["pods"] = pods
	}
	if len(svcs) > 0 {
		state["services"] = svcs
	}
	if len(eps) > 0 {
		state["endpoints"] = eps
	}
	if len(objs) > 0 {
		state["objects"] = objs
	}
	b, err := json.Marshal(state)
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	return b
}

func hash(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// gen makes commands over small pools of names, so commands collide: the same UID
// upserted, moved, reported by the wrong node, stopped, reported Gone, deleted twice.
type gen struct {
	pick func(int) int
	tick int
}

var (
	uids   = []string{"u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7", ""} // "" is refused
	nodes  = []string{"n0", "n1", "n2", "n3", ""}                         // n3 never registers
	owners = []string{"ReplicationController/default/web", "ReplicationController/default/api", "Pod/default/solo", ""}
	hashes = []string{"h1", "h2", ""}
	svcs   = []string{"web", "api", "db"}
)

func (g *gen) one(s []string) string { return s[g.pick(len(s))] }
func (g *gen) flip() bool            { return g.pick(2) == 1 }

func (g *gen) at() time.Time {
	g.tick++
	return time.Date(2026, 1, 1, 0, 0, g.tick, 0, time.UTC)
}

// command returns one log command and the same change for the simulation side.
func (g *gen) command() (raftstore.Command, func(apply.State) error) {
	switch g.pick(6) {
	case 0:
		reg := api.NodeRegistration{Name: g.one(nodes[:3]), Address: fmt.Sprintf("10.0.0.%d", g.pick(4)),
			Capacity: api.Resources{MilliCPU: int64(1000 * (1 + g.pick(4)))}}
		if g.flip() {
			reg.Labels = map[string]string{"zone": g.one([]string{"a", "b"})}
		}
		at := g.at()
		return raftstore.RegisterNodeCmd(reg, at), func(st apply.State) error { return apply.RegisterNode(st, reg, at) }
	case 1, 2:
		reports := g.reports()
		return raftstore.ReportPodStatusCmd(reports), func(st apply.State) error { return apply.StatusReports(st, reports) }
	default:
		c := g.changes()
		return raftstore.ApplyChangesCmd(c), func(st apply.State) error { return apply.Changes(st, c) }
	}
}

func (g *gen) status() api.PodStatus {
	phases := []corev1.PodPhase{corev1.PodPending, corev1.PodRunning, corev1.PodFailed}
	s := api.PodStatus{Phase: phases[g.pick(len(phases))], Ready: g.flip()}
	if s.Phase == corev1.PodRunning {
		s.PodIP = fmt.Sprintf("10.244.%d.%d", g.pick(3), 2+g.pick(5))
		s.StartedAt = g.at()
	}
	if g.flip() {
		s.Reason = g.one([]string{"NodeLost", "Unschedulable", "CrashLoopBackOff"})
	}
	return s
}

func (g *gen) reports() []api.PodStatusReport {
	out := make([]api.PodStatusReport, 1+g.pick(3))
	for i := range out {
		out[i] = api.PodStatusReport{UID: g.one(uids), Node: g.one(nodes), Status: g.status(), Gone: g.pick(3) == 0}
	}
	return out
}

func (g *gen) pod() api.PodRecord {
	owner, h := g.one(owners), g.one(hashes)
	p := api.PodRecord{
		UID: g.one(uids[:len(uids)-1]), Namespace: "default", Name: fmt.Sprintf("pod-%d", g.pick(4)),
		Owner: owner, SpecHash: h, Node: g.one(nodes), Desire: api.DesireRun, CreatedAt: g.at(),
		// Replicas of one template have one spec: the spec is a function of owner and hash.
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: owner + "@" + h}}},
	}
	if g.pick(8) == 0 {
		p.UID = "" // refused: the whole batch must be dropped on both sides
	}
	if g.pick(3) == 0 {
		p.Desire = api.DesireStop
	}
	if g.flip() {
		p.Labels = map[string]string{"app": g.one([]string{"web", "api"})}
	}
	if g.pick(4) == 0 {
		p.Status = g.status()
	}
	return p
}

func (g *gen) changes() api.Changes {
	var c api.Changes
	for range g.pick(4) {
		c.UpsertPods = append(c.UpsertPods, g.pod())
	}
	for range g.pick(2) {
		c.DeletePods = append(c.DeletePods, g.one(uids))
	}
	for range g.pick(2) {
		r := g.reports()[0]
		c.SetPodStatus = append(c.SetPodStatus, r)
	}
	for range g.pick(2) {
		c.UpsertServices = append(c.UpsertServices, api.ServiceRecord{Namespace: "default", Name: g.one(svcs),
			Spec: corev1.ServiceSpec{ClusterIP: fmt.Sprintf("10.96.0.%d", 10+g.pick(5))}})
	}
	if g.pick(4) == 0 {
		c.DeleteServices = append(c.DeleteServices, api.Key("Service", "default", g.one(svcs)))
	}
	for range g.pick(2) {
		c.SetEndpoints = append(c.SetEndpoints, api.Endpoints{Namespace: "default", Name: g.one(svcs),
			Ports: []api.Endpoint{{PodUID: g.one(uids), IP: "10.244.0.2", Port: 80, Ready: g.flip()}}})
	}
	if g.pick(4) == 0 {
		c.DeleteEndpoints = append(c.DeleteEndpoints, api.Key("Service", "default", g.one(svcs)))
	}
	for range g.pick(3) {
		np := api.NodePatch{Name: g.one(nodes), At: g.at()}
		if g.flip() {
			np.PodCIDR = fmt.Sprintf("10.244.%d.0/24", g.pick(3))
		}
		if g.flip() {
			np.Status = []api.NodeStatus{api.NodeReady, api.NodeNotReady, api.NodeDown}[g.pick(3)]
			np.StatusReason = g.one([]string{"", "no heartbeat"})
		}
		c.Nodes = append(c.Nodes, np)
	}
	switch g.pick(4) {
	case 0:
		c.ObjectStatus = []api.ObjectStatus{} // clears the table
	case 1:
		for range 1 + g.pick(3) {
			c.ObjectStatus = append(c.ObjectStatus, api.ObjectStatus{Key: api.Key("Service", "default", g.one(svcs)),
				Sync: api.Synced, Health: api.Healthy, Ready: int32(g.pick(3))})
		}
	}
	if g.flip() {
		c.Status = &api.ClusterStatus{AppliedCommit: fmt.Sprintf("c%d", g.pick(5)), Sync: api.OutOfSync, UpdatedAt: g.at()}
	}
	if g.flip() {
		c.Events = []api.Event{{Time: g.at(), Type: api.EventNormal, Reason: "Scheduled"}}
	}
	return c
}
