package proxy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/google/nftables"

	"github.com/keelson/keelson/api"
)

// The kernel's rules are not ours alone: an operator's `nft delete table ip keelson`,
// a firewall reload or a crashed tool can change them behind the proxy's back, and an
// incremental Sync (which diffs against what it last applied) would never notice.
// Resync compares the kernel with the last applied state and, on any difference,
// reprograms the whole table from the last desired input in one atomic batch.

// rulesCheckedPerResync bounds the per-chain rule dumps of one Resync: the chain list
// and the two maps are checked every time, the rule counts of regular chains round
// robin, so a table of thousands of chains costs a bounded amount of netlink work per
// period and is still covered completely within a few periods.
const rulesCheckedPerResync = 256

// lastInput is what the last Sync was asked to program.
type lastInput struct {
	services    []api.ServiceRecord
	endpoints   []api.Endpoints
	nodeAddress string
}

// Resync checks that the kernel still holds what the last Sync programmed and repairs
// it when not. It returns what had drifted ("" when nothing did). Before the first
// Sync there is nothing to check.
func (p *NFTables) Resync(ctx context.Context) (string, error) {
	p.mu.Lock()
	in, applied := p.last, p.applied
	closed := p.closed
	var drift string
	var err error
	if !closed && in != nil && applied != nil {
		drift, err = p.drift(applied)
		if drift != "" {
			p.applied = nil // the next Sync rebuilds the table from scratch
		}
	}
	p.mu.Unlock()
	switch {
	case closed:
		return "", errors.New("nftables proxy: closed")
	case err != nil:
		return "", fmt.Errorf("nftables proxy: check kernel state: %w", err)
	case drift == "":
		return "", nil
	}
	if err := p.Sync(ctx, in.services, in.endpoints, in.nodeAddress); err != nil {
		return drift, err
	}
	return drift, nil
}

// drift compares the kernel's table with st; it needs p.mu.
func (p *NFTables) drift(st *nftState) (string, error) {
	tables, err := p.conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return "", err
	}
	if !slices.ContainsFunc(tables, func(t *nftables.Table) bool { return t.Name == p.table.Name }) {
		return "table " + p.table.Name + " is missing", nil
	}
	chains, err := p.conn.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return "", err
	}
	want := p.expectedRules(st)
	have := map[string]bool{}
	for _, c := range chains {
		if c.Table != nil && c.Table.Name == p.table.Name {
			have[c.Name] = true
		}
	}
	for name := range want {
		if !have[name] {
			return "chain " + name + " is missing", nil
		}
	}
	for name := range have {
		if _, ok := want[name]; !ok {
			return "unexpected chain " + name, nil
		}
	}
	for _, s := range []struct {
		set  *nftables.Set
		want int
	}{{p.dispatchMap, len(st.dispatch)}, {p.noEpSet, len(st.noEp)}} {
		elems, err := p.conn.GetSetElements(s.set)
		if err != nil {
			return fmt.Sprintf("set %s: %v", s.set.Name, err), nil
		}
		if len(elems) != s.want {
			return fmt.Sprintf("set %s has %d elements, want %d", s.set.Name, len(elems), s.want), nil
		}
	}
	if len(st.affinity) > 0 {
		sets, err := p.conn.GetSets(p.table)
		if err != nil {
			return "", err
		}
		for name := range st.affinity {
			if !slices.ContainsFunc(sets, func(s *nftables.Set) bool { return s.Name == name }) {
				return "affinity set " + name + " is missing", nil
			}
		}
	}
	for _, name := range p.chainsToCount(want) {
		rules, err := p.conn.GetRules(p.table, &nftables.Chain{Name: name, Table: p.table})
		if err != nil {
			return "", err
		}
		if len(rules) != want[name] {
			return fmt.Sprintf("chain %s has %d rules, want %d", name, len(rules), want[name]), nil
		}
	}
	return "", nil
}

// chainsToCount picks this round's chains whose rules are counted: every base chain,
// and the next rulesCheckedPerResync regular chains in name order.
func (p *NFTables) chainsToCount(want map[string]int) []string {
	var regular []string
	out := slices.Clone(baseChains)
	for name := range want {
		if !slices.Contains(baseChains, name) {
			regular = append(regular, name)
		}
	}
	sort.Strings(regular)
	if len(regular) <= rulesCheckedPerResync {
		return append(out, regular...)
	}
	start := p.resyncCursor % len(regular)
	for i := range rulesCheckedPerResync {
		out = append(out, regular[(start+i)%len(regular)])
	}
	p.resyncCursor = (start + rulesCheckedPerResync) % len(regular)
	return out
}

// baseChains are the fixed chains addBase installs.
var baseChains = []string{"services", "nat-prerouting", "nat-output", "filter-prerouting", "filter-output", "nat-postrouting"}

// expectedRules returns every chain of the table with its number of rules, as addBase
// and renderChain program them (kept beside them: a change there changes the counts).
func (p *NFTables) expectedRules(st *nftState) map[string]int {
	want := map[string]int{"services": 1, "nat-prerouting": 1, "nat-output": 1,
		"filter-prerouting": 1, "filter-output": 1, "nat-postrouting": 2}
	if p.cfg.BridgeName != "" {
		want["nat-postrouting"]++
	}
	for name, def := range st.chains {
		switch c := def.(type) {
		case extChain:
			want[name] = 1
		case epChain:
			want[name] = 2 // hairpin mark, dnat
			if c.AffinitySet != "" {
				want[name]++
			}
		case svcChain:
			n := len(c.AffinitySets) + 1 // affinity lookups, then goto or numgen
			if c.MasqOutsideCluster {
				n++
			}
			want[name] = n
		}
	}
	return want
}
