package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"sync"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/keelson/keelson/api"
)

// NFTables is the kernel data path. It owns one nftables table and nothing else: every
// change it makes is inside that table, and Close deletes the table.
type NFTables struct {
	cfg  Config
	log  *slog.Logger
	cidr netip.Prefix

	mu           sync.Mutex
	nsFD         int // -1 when running in the agent's own namespace
	conn         *nftables.Conn
	table        *nftables.Table
	dispatchMap  *nftables.Set
	noEpSet      *nftables.Set
	sets         map[string]*nftables.Set // affinity sets by name
	applied      *nftState                // nil until the first successful Sync
	last         *lastInput               // the input of the last successful Sync (Resync)
	resyncCursor int                      // where Resync's round-robin rule check goes on
	closed       bool
}

// NewNFTables prepares the kernel data path. Nothing is installed until the first
// Sync, which replaces any table of the same name left by a crashed agent in the same
// atomic batch that programs the current Services, so there is no window without rules.
func NewNFTables(cfg Config) (*NFTables, error) {
	cidr, err := cfg.clusterCIDR()
	if err != nil || !cidr.Addr().Is4() {
		return nil, fmt.Errorf("nftables proxy: cluster CIDR %q is not an IPv4 prefix", cfg.ClusterCIDR)
	}
	p := &NFTables{cfg: cfg, log: cfg.logger(), cidr: cidr, nsFD: -1, sets: map[string]*nftables.Set{}}
	// A first sync of thousands of Services is one batch of megabytes; the default
	// socket buffer refuses it with EMSGSIZE, and splitting would lose atomicity.
	opts := []nftables.ConnOption{nftables.WithSockOptions(bigSendBuffer)}
	if cfg.NetNSPath != "" {
		fd, err := unix.Open(cfg.NetNSPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("nftables proxy: open netns %s: %w", cfg.NetNSPath, err)
		}
		p.nsFD = fd
		opts = append(opts, nftables.WithNetNSFd(fd))
	}
	conn, err := nftables.New(opts...)
	if err != nil {
		p.closeNS()
		return nil, fmt.Errorf("nftables proxy: netlink: %w", err)
	}
	// Probe now so an agent on a machine without nftables fails at start (and the
	// operator picks --proxy-mode=userspace) rather than at the first Service.
	if _, err := conn.ListTablesOfFamily(nftables.TableFamilyIPv4); err != nil {
		p.closeNS()
		return nil, fmt.Errorf("nftables proxy: nftables unavailable: %w", err)
	}
	p.conn = conn
	p.table = &nftables.Table{Family: nftables.TableFamilyIPv4, Name: cfg.table()}
	return p, nil
}

// Sync programs the Services so that the table matches them exactly. Only chains,
// sets and map elements that differ from the last applied state are changed, in one
// atomic netlink batch: packets see either the old or the new rules, never a mix.
// Conntrack entries are never flushed, so established connections keep their
// endpoint.
func (p *NFTables) Sync(ctx context.Context, services []api.ServiceRecord, endpoints []api.Endpoints, nodeAddress string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ports, skipped := buildModel(services, endpoints)
	for _, err := range skipped {
		p.log.Warn("service not proxied", "err", err)
	}
	var node netip.Addr
	if nodeAddress != "" {
		a, err := netip.ParseAddr(nodeAddress)
		if err != nil || !a.Is4() {
			return fmt.Errorf("nftables proxy: node address %q is not IPv4", nodeAddress)
		}
		node = a
	}
	want := desiredNFT(ports, node, true)
	for _, id := range want.truncated {
		p.log.Warn("service port has more ready endpoints than the nftables path spreads over", "servicePort", id, "max", maxEndpoints)
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("nftables proxy: closed")
	}
	from := p.applied
	if from == nil {
		// First sync: replace whatever table of ours exists (AddTable first so the
		// delete cannot fail when there is none) and rebuild the base in this batch.
		p.conn.AddTable(p.table)
		p.conn.DelTable(p.table)
		p.conn.AddTable(p.table)
		p.sets = map[string]*nftables.Set{}
		p.addBase()
		from = newNFTState()
	}
	n, err := p.queueDiff(from, want)
	if err == nil {
		err = p.conn.Flush()
	}
	if err != nil {
		// The batch failed as a whole: the kernel still holds the previous state, but
		// our bookkeeping of set objects may not. Start over from scratch next time.
		p.applied = nil
		return fmt.Errorf("nftables proxy: apply %d changes: %w", n, err)
	}
	p.applied = want
	p.last = &lastInput{services: services, endpoints: endpoints, nodeAddress: nodeAddress}
	p.log.Debug("nftables synced", "servicePorts", len(ports), "changes", n)
	return nil
}

// queueDiff adds to the pending batch the messages that turn from into to, in an order
// the kernel accepts: objects before their references, references removed before the
// objects they point at. It returns the number of changed objects.
func (p *NFTables) queueDiff(from, to *nftState) (int, error) {
	changes := 0
	for name, timeout := range to.affinity {
		if _, ok := from.affinity[name]; !ok {
			delete(p.sets, name) // a stale object from a failed batch must not be reused
			if err := p.conn.AddSet(p.affinitySet(name, timeout), nil); err != nil {
				return changes, fmt.Errorf("add set %s: %w", name, err)
			}
			changes++
		}
	}
	var added, changed []string
	for name, def := range to.chains {
		old, ok := from.chains[name]
		switch {
		case !ok:
			added = append(added, name)
		case old.sig() != def.sig():
			changed = append(changed, name)
		}
	}
	sort.Strings(added)
	sort.Strings(changed)
	for _, name := range added { // create every new chain before any rule jumps to it
		p.conn.AddChain(&nftables.Chain{Table: p.table, Name: name})
	}
	for _, name := range changed {
		p.conn.FlushChain(&nftables.Chain{Table: p.table, Name: name})
	}
	for _, name := range append(added, changed...) {
		rules, err := p.renderChain(to.chains[name])
		if err != nil {
			return changes, fmt.Errorf("render chain %s: %w", name, err)
		}
		ch := &nftables.Chain{Table: p.table, Name: name}
		for _, r := range rules {
			p.conn.AddRule(&nftables.Rule{Table: p.table, Chain: ch, Exprs: r})
		}
		changes++
	}

	var delElems, addElems []nftables.SetElement
	for k, chain := range from.dispatch {
		if to.dispatch[k] != chain {
			delElems = append(delElems, nftables.SetElement{Key: k.bytes()})
		}
	}
	for k, chain := range to.dispatch {
		if from.dispatch[k] != chain {
			addElems = append(addElems, nftables.SetElement{Key: k.bytes(),
				VerdictData: gotoVerdict(chain)})
		}
	}
	if err := p.setElems(p.dispatchMap, delElems, addElems); err != nil {
		return changes, err
	}
	changes += len(delElems) + len(addElems)

	delElems, addElems = nil, nil
	for k := range from.noEp {
		if !to.noEp[k] {
			delElems = append(delElems, nftables.SetElement{Key: k.bytes()})
		}
	}
	for k := range to.noEp {
		if !from.noEp[k] {
			addElems = append(addElems, nftables.SetElement{Key: k.bytes()})
		}
	}
	if err := p.setElems(p.noEpSet, delElems, addElems); err != nil {
		return changes, err
	}
	changes += len(delElems) + len(addElems)

	// Chains that are gone: flush all first (their rules may jump to each other),
	// then delete. The map elements pointing at them were removed above.
	var gone []string
	for name := range from.chains {
		if _, ok := to.chains[name]; !ok {
			gone = append(gone, name)
		}
	}
	sort.Strings(gone)
	for _, name := range gone {
		p.conn.FlushChain(&nftables.Chain{Table: p.table, Name: name})
	}
	for _, name := range gone {
		p.conn.DelChain(&nftables.Chain{Table: p.table, Name: name})
		changes++
	}
	for name := range from.affinity {
		if _, ok := to.affinity[name]; !ok {
			p.conn.DelSet(p.affinitySet(name, 0))
			delete(p.sets, name)
			changes++
		}
	}
	return changes, nil
}

// setElems queues element changes, split over several messages: one message's element
// list is a netlink attribute whose length field is 16 bits, so a single message of
// more than 64 KiB is silently truncated by the encoder.
func (p *NFTables) setElems(s *nftables.Set, del, add []nftables.SetElement) error {
	for _, chunk := range chunkElems(del) {
		if err := p.conn.SetDeleteElements(s, chunk); err != nil {
			return fmt.Errorf("delete elements of %s: %w", s.Name, err)
		}
	}
	for _, chunk := range chunkElems(add) {
		if err := p.conn.SetAddElements(s, chunk); err != nil {
			return fmt.Errorf("add elements to %s: %w", s.Name, err)
		}
	}
	return nil
}

// chunkElems splits elements into groups whose encoding stays well under 64 KiB.
func chunkElems(elems []nftables.SetElement) [][]nftables.SetElement {
	const budget = 32 << 10
	var out [][]nftables.SetElement
	start, size := 0, 0
	for i, e := range elems {
		n := 64 + len(e.Key)
		if e.VerdictData != nil {
			n += len(e.VerdictData.Chain)
		}
		if size+n > budget && i > start {
			out = append(out, elems[start:i])
			start, size = i, 0
		}
		size += n
	}
	if start < len(elems) {
		out = append(out, elems[start:])
	}
	return out
}

// Close deletes the table and with it every chain, set and map this proxy installed.
// Conntrack entries stay: connections already NATed keep working until they end.
func (p *NFTables) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	defer p.closeNS()
	p.conn.AddTable(p.table)
	p.conn.DelTable(p.table)
	if err := p.conn.Flush(); err != nil {
		return fmt.Errorf("nftables proxy: delete table %s: %w", p.table.Name, err)
	}
	return nil
}

// bigSendBuffer raises the netlink socket's buffers past net.core.wmem_max
// (SO_SNDBUFFORCE needs CAP_NET_ADMIN, which the proxy has anyway).
func bigSendBuffer(c *netlink.Conn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var sockErr error
	err = raw.Control(func(fd uintptr) {
		sockErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, netlinkSendBuffer)
		if sockErr == nil {
			// The kernel acknowledges every message of the batch.
			sockErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, netlinkSendBuffer)
		}
	})
	if err != nil {
		return err
	}
	if sockErr != nil {
		if err := c.SetWriteBuffer(netlinkSendBuffer); err != nil {
			return err
		}
		return c.SetReadBuffer(netlinkSendBuffer)
	}
	return nil
}

// netlinkSendBuffer fits the first batch of roughly 20,000 service ports.
const netlinkSendBuffer = 64 << 20

func (p *NFTables) closeNS() {
	if p.nsFD >= 0 {
		_ = unix.Close(p.nsFD)
		p.nsFD = -1
	}
}
