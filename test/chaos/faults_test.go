package chaos

import (
	"context"
	"fmt"
	"github.com/keelson/keelson/test/harness"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/keelson/keelson/node/hostgw"
	"github.com/keelson/keelson/server/client"
)

// faultKind is one kind of fault of the schedule.
type faultKind string

const (
	leaderKill     faultKind = "leader SIGKILL"
	followerKill   faultKind = "follower SIGKILL"
	lostDataDir    faultKind = "server restart, lost data dir"
	symPartition   faultKind = "symmetric partition"
	oneWay         faultKind = "one-way partition"
	minorityLeader faultKind = "partitioned minority leader"
	agentKill      faultKind = "agent SIGKILL"
	agentCut       faultKind = "agent partitioned from servers"
	nftDrift       faultKind = "agent nft table deleted"
	routeDrift     faultKind = "host-gw route deleted"
)

// faultKinds is the schedule's menu, in a fixed order so a seed always draws the same
// schedule. Slow disk (an fsync delay) is not in it: the data dirs are on /run, a
// tmpfs, where fsync costs nothing, and delaying it would need dm-delay or a FUSE
// layer this machine does not have.
var faultKinds = []faultKind{leaderKill, followerKill, lostDataDir, symPartition, oneWay,
	minorityLeader, agentKill, agentCut, nftDrift, routeDrift}

// fault is one drawn fault: what it did (for the log) and how to undo it.
type fault struct {
	kind faultKind
	what string
	hold time.Duration // how long the fault lasts before heal (the schedule, not a wait for state)
	heal func() error
	// deposed is the leader a minority partition cut off: the majority must elect
	// another one while the fault lasts (proof that the partition is real).
	deposed *server
}

// inject draws the parameters of kind from rng and applies the fault.
func (c *cluster) inject(ctx context.Context, rng *rand.Rand, kind faultKind) (*fault, error) {
	hold := time.Duration(1500+rng.Intn(3500)) * time.Millisecond
	f := &fault{kind: kind, hold: hold, heal: func() error { return nil }}
	pick := func(n int) int { return rng.Intn(n) }
	switch kind {
	case leaderKill, followerKill, lostDataDir:
		l, err := c.leader(ctx)
		if err != nil {
			return nil, err
		}
		s := l
		if kind != leaderKill {
			others := c.serversExcept(l)
			if kind == lostDataDir {
				others = c.servers // the leader may lose its data too
			}
			s = others[pick(len(others))]
		}
		s.proc.Kill()
		f.what = s.Name
		if kind == lostDataDir {
			if err := os.RemoveAll(s.dataDir); err != nil {
				return nil, err
			}
		}
		f.heal = func() error { return c.startServer(s, false) }
	case symPartition, minorityLeader:
		var minority []*server
		if kind == minorityLeader {
			l, err := c.leader(ctx)
			if err != nil {
				return nil, err
			}
			minority = []*server{l}
			f.deposed = l
		} else {
			minority = []*server{c.servers[pick(len(c.servers))]}
		}
		if len(c.servers) == 5 && pick(2) == 0 { // a minority of two
			rest := c.serversExcept(minority[0])
			minority = append(minority, rest[pick(len(rest))])
		}
		side := map[*host]bool{}
		var names []string
		for _, s := range minority {
			side[s.host] = true
			names = append(names, s.Name)
		}
		if kind == symPartition { // agents land on either side
			for _, a := range c.agents {
				if pick(2) == 0 {
					side[a.host] = true
					names = append(names, a.Name)
				}
			}
		}
		var cuts []cut
		for _, x := range c.net.hosts {
			for _, y := range c.net.hosts {
				if side[x] && !side[y] && (kind == symPartition || isServer(c, y)) {
					cuts = append(cuts, cut{x, y}, cut{y, x})
				}
			}
		}
		f.what = strings.Join(names, ",") + " | rest"
		if err := c.net.partition(cuts); err != nil {
			return nil, err
		}
		f.heal = c.net.heal
	case oneWay:
		s := c.servers[pick(len(c.servers))]
		out := pick(2) == 0
		var cuts []cut
		for _, o := range c.serversExcept(s) {
			if out {
				cuts = append(cuts, cut{s.host, o.host})
			} else {
				cuts = append(cuts, cut{o.host, s.host})
			}
		}
		f.what = s.Name + map[bool]string{true: " sends nothing", false: " receives nothing"}[out]
		if err := c.net.partition(cuts); err != nil {
			return nil, err
		}
		f.heal = c.net.heal
	case agentKill:
		a := c.agents[pick(len(c.agents))]
		a.proc.Kill()
		f.hold = time.Duration(1500+rng.Intn(6000)) * time.Millisecond // sometimes past the eviction timeout
		f.what = a.Name
		f.heal = func() error { return c.startAgent(a) }
	case agentCut:
		a := c.agents[pick(len(c.agents))]
		var cuts []cut
		for _, s := range c.servers {
			cuts = append(cuts, cut{a.host, s.host}, cut{s.host, a.host})
		}
		f.hold = time.Duration(1500+rng.Intn(6000)) * time.Millisecond
		f.what = a.Name
		if err := c.net.partition(cuts); err != nil {
			return nil, err
		}
		f.heal = c.net.heal
	case nftDrift:
		a := c.agents[pick(len(c.agents))]
		f.what, f.hold = a.Name, 0
		if err := nftIn(a.host, "delete", "table", "ip", a.spec.ProxyTable); err != nil {
			return nil, err
		}
	case routeDrift:
		a := c.agents[pick(len(c.agents))]
		f.what, f.hold = a.Name, 0
		routes, err := hostGWRoutes(a.host)
		if err != nil {
			return nil, err
		}
		if len(routes) == 0 {
			return nil, fmt.Errorf("no host-gw route on %s to delete", a.Name)
		}
		r := routes[pick(len(routes))]
		f.what += " " + r
		if err := harness.IP(append([]string{"-n", a.NetNS, "route", "del"}, strings.Fields(r)...)...); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown fault %q", kind)
	}
	return f, nil
}

// hostGWRoutes lists the agent's host-gw routes ("10.249.1.0/24 via 10.78.0.12 dev eth0").
func hostGWRoutes(h *host) ([]string, error) {
	out, err := exec.Command("ip", "-n", h.NetNS, "route", "show", "proto", strconv.Itoa(int(hostgw.Protocol))).Output()
	if err != nil {
		return nil, fmt.Errorf("ip route in %s: %w", h.Name, err)
	}
	var routes []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[1] == "via" {
			routes = append(routes, strings.Join(f[:3], " "))
		}
	}
	return routes, nil
}

func isServer(c *cluster, h *host) bool {
	for _, s := range c.servers {
		if s.host == h {
			return true
		}
	}
	return false
}

func (c *cluster) serversExcept(x *server) []*server {
	var out []*server
	for _, s := range c.servers {
		if s != x {
			out = append(out, s)
		}
	}
	return out
}

// leader asks the cluster (consistently) which server leads.
func (c *cluster) leader(ctx context.Context) (*server, error) {
	var last error
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, readTimeout)
		st, _, err := c.client().StatusQuery(rctx, client.QueryOptions{Consistent: true})
		cancel()
		if err == nil {
			host, _, _ := net.SplitHostPort(st.Leader)
			for _, s := range c.servers {
				if s.Addr == host {
					return s, nil
				}
			}
			err = fmt.Errorf("leader %q is not a server of the test", st.Leader)
		}
		last = err
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("no leader: %v", last)
}
