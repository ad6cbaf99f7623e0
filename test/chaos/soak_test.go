package chaos

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/testenv"
	"github.com/keelson/keelson/test/chaos/model"
)

// The short run of the normal test suite (CI): a fixed seed, few cycles per cluster.
// `make soak` sets KEELSON_CHAOS_CYCLES=100 and a fresh seed.
const (
	ciSeed   = 19
	ciCycles = 12
	// convergeBound is the most a cycle may take to converge after its fault healed:
	// the longest legitimate path is an agent away past the eviction timeout (4 s),
	// its pods replaced elsewhere (a roll waits for readiness, 1 s probes), then the
	// agent's return fenced. A cycle over it fails.
	convergeBound = 90 * time.Second
)

// The cycles are shared: three quarters on 3 servers and 3 agents, a quarter on 5
// servers and 2 agents (which draws from seed+1, so the two do not replay one
// schedule).
func TestChaos3Servers(t *testing.T) { soak(t, 3, 3, 0, func(n int) int { return n - n/4 }) }
func TestChaos5Servers(t *testing.T) { soak(t, 5, 2, 1, func(n int) int { return max(1, n/4) }) }

// settings reads the seed and the total cycle count: KEELSON_CHAOS_SEED,
// KEELSON_CHAOS_CYCLES.
func settings(t *testing.T) (seed int64, cycles int) {
	seed, cycles = ciSeed, ciCycles
	if v := os.Getenv("KEELSON_CHAOS_SEED"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("KEELSON_CHAOS_SEED=%q: %v", v, err)
		}
		seed = n
	}
	if v := os.Getenv("KEELSON_CHAOS_CYCLES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("KEELSON_CHAOS_CYCLES=%q: want a positive number", v)
		}
		cycles = n
	}
	return seed, cycles
}

// tally is what the run did, for the table.
type tally struct {
	cycles   int
	faults   map[faultKind]int
	pushes   int
	converge []time.Duration
	hashes   int           // state-hash comparisons that matched on every replica
	first    time.Duration // the first deployment, from the servers' start
}

func soak(t *testing.T, nServers, nAgents int, seedOffset int64, share func(total int) int) {
	env := requireSuite(t)
	seed, total := settings(t)
	seed += seedOffset
	cycles := share(total)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("chaos seed %d failed: reproduce with KEELSON_CHAOS_SEED=%d (and KEELSON_CHAOS_CYCLES=%d) -run %s", seed, seed-seedOffset, total, t.Name())
		}
	})
	rng := rand.New(rand.NewSource(seed))
	rec := model.NewRecorder()

	c := startCluster(t, env, nServers, nAgents, rec)
	obs := startObservers(c, c.pusher, rec)
	checked := false
	t.Cleanup(func() { // a failed run's history is checked too: it may say why
		if !checked {
			obs.close()
			for _, v := range rec.Check(2 * time.Minute).Violations {
				t.Errorf("history violation: %s", v)
			}
		}
	})

	tl := tally{faults: map[faultKind]int{}}
	tl.first = c.waitConverged(t, "the first deployment")
	for i := range cycles {
		kind := faultKinds[rng.Intn(len(faultKinds))]
		if kind == routeDrift && nAgents < 2 {
			kind = nftDrift
		}
		tl.converge = append(tl.converge, c.cycle(t, rng, i, kind))
		tl.faults[kind]++
		tl.cycles++
		c.checkHashes(t)
		tl.hashes++
	}
	reads := obs.close()
	_, _, pushes := c.pusher.current()
	tl.pushes = pushes
	res := rec.Check(2 * time.Minute)
	checked = true
	t.Log("\n" + tl.table(nServers, nAgents, seed, reads, res))
	for _, v := range res.Violations {
		t.Errorf("history violation: %s", v)
	}
}

// cycle injects one fault, pushes a stream of changes while it lasts and maybe one
// after it healed, then waits for convergence and returns how long it took from the
// heal.
func (c *cluster) cycle(t *testing.T, rng *rand.Rand, i int, kind faultKind) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f, err := c.inject(ctx, rng, kind)
	if err != nil {
		t.Fatalf("cycle %d: inject %s: %v", i, kind, err)
	}
	// A stream of commits while the fault lasts (none, one or two), then maybe one
	// after it healed. The hold is the schedule (how long the fault lasts), not a wait
	// for state.
	pushDuring, pushAfter := rng.Intn(3), rng.Intn(2) == 0
	start := time.Now()
	for k := range pushDuring { // the first at once, the second half-way
		time.Sleep(time.Until(start.Add(f.hold * time.Duration(k) / 2)))
		d, msg := c.pusher.change(rng)
		if err := c.pusher.push(d, msg); err != nil {
			t.Fatal(err)
		}
	}
	if f.deposed != nil {
		testenv.PollDetail(t, 20*time.Second, 100*time.Millisecond, "a new leader while "+f.deposed.Name+" is cut off", func() (bool, string) {
			l, err := c.leader(ctx)
			if err != nil {
				return false, err.Error()
			}
			return l != f.deposed, "still " + l.Name
		})
	}
	time.Sleep(time.Until(start.Add(f.hold)))
	if err := f.heal(); err != nil {
		t.Fatalf("cycle %d: heal %s (%s): %v", i, kind, f.what, err)
	}
	if pushAfter {
		d, msg := c.pusher.change(rng)
		if err := c.pusher.push(d, msg); err != nil {
			t.Fatal(err)
		}
	}
	d := c.waitConverged(t, fmt.Sprintf("cycle %d (%s %s, held %s)", i, kind, f.what, f.hold.Round(time.Millisecond)))
	t.Logf("cycle %d: %s %s held %s, pushes during %d after %v: converged in %s", i, kind, f.what, f.hold.Round(time.Millisecond), pushDuring, pushAfter, d.Round(time.Millisecond))
	return d
}

// waitConverged polls until converged holds, records the ownership scan it found, and
// returns how long it took.
func (c *cluster) waitConverged(t *testing.T, what string) time.Duration {
	t.Helper()
	start := time.Now()
	var cv *convergence
	testenv.PollDetail(t, convergeBound, 100*time.Millisecond, what+" to converge", func() (bool, string) {
		for _, p := range c.procs() {
			if !p.Running() {
				t.Fatalf("%s: %s exited:\n%s", what, p.Name, p.Tail(3000))
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		call := c.pusher.rec.Now()
		var err error
		if cv, err = c.converged(ctx, c.pusher); err != nil {
			return false, err.Error()
		}
		want, _, _ := c.pusher.current()
		c.pusher.rec.Scan(call, c.pusher.rec.Now(), scanOwners(cv, want))
		return true, ""
	})
	return time.Since(start)
}

// checkHashes waits until every replica is at one raft index and compares their state
// hashes there: replicas that applied the same log must hold the same state.
func (c *cluster) checkHashes(t *testing.T) {
	t.Helper()
	testenv.PollDetail(t, 30*time.Second, 100*time.Millisecond, "every replica at one index", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var hs []api.StateHash
		var desc []string
		for _, s := range c.servers {
			h, err := c.client(s).StateHash(ctx)
			if err != nil {
				return false, s.Name + ": " + err.Error()
			}
			hs = append(hs, h)
			desc = append(desc, fmt.Sprintf("%s@%d=%.12s", s.Name, h.Index, h.Hash))
		}
		if slices.ContainsFunc(hs, func(h api.StateHash) bool { return h.Index != hs[0].Index }) {
			return false, strings.Join(desc, " ")
		}
		if slices.ContainsFunc(hs, func(h api.StateHash) bool { return h.Hash != hs[0].Hash }) {
			t.Fatalf("replicas at one index hold different states: %s", strings.Join(desc, " "))
		}
		return true, ""
	})
}

func (tl tally) table(nServers, nAgents int, seed int64, reads int, res model.Result) string {
	var b strings.Builder
	sorted := slices.Clone(tl.converge)
	slices.Sort(sorted)
	fmt.Fprintf(&b, "chaos soak: %d servers, %d agents, seed %d\n", nServers, nAgents, seed)
	fmt.Fprintf(&b, "| %-38s | %s |\n|---|---|\n", "what", "count")
	fmt.Fprintf(&b, "| %-38s | %d |\n", "cycles", tl.cycles)
	for _, k := range faultKinds {
		if tl.faults[k] > 0 {
			fmt.Fprintf(&b, "| %-38s | %d |\n", "fault: "+string(k), tl.faults[k])
		}
	}
	fmt.Fprintf(&b, "| %-38s | %d |\n", "git pushes", tl.pushes)
	fmt.Fprintf(&b, "| %-38s | %d |\n", "reads recorded", reads)
	fmt.Fprintf(&b, "| %-38s | %d |\n", "operations checked (porcupine)", res.Operations)
	fmt.Fprintf(&b, "| %-38s | %d |\n", "state-hash comparisons", tl.hashes)
	fmt.Fprintf(&b, "| %-38s | %d |\n", "violations", len(res.Violations))
	fmt.Fprintf(&b, "| %-38s | %s |\n", "first deployment converged", tl.first.Round(time.Millisecond))
	if n := len(sorted); n > 0 {
		fmt.Fprintf(&b, "| %-38s | %s |\n", "convergence p50 after heal", sorted[n/2].Round(time.Millisecond))
		fmt.Fprintf(&b, "| %-38s | %s |\n", "convergence worst after heal", sorted[n-1].Round(time.Millisecond))
	}
	return b.String()
}
