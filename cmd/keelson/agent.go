package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/keelson/keelson/node"
	"github.com/keelson/keelson/node/containerd"
	"github.com/keelson/keelson/node/hostgw"
	"github.com/keelson/keelson/node/proxy"
	"github.com/keelson/keelson/server/client"
)

// agentFlags are the flags of `keelson agent`.
type agentFlags struct {
	servers, tokenFile, caFile, name, address     string
	listen, dataDir                               string
	containerdSock, cniBinDir, proxyMode          string
	clusterCIDR, bridge, ctrNamespace, proxyTable string
	insecureRegistries, hostPaths                 []string
	taints, allowCaps                             []string
	dnsAddress, resolvConf                        string
	dnsUpstreams                                  []string
	labels                                        map[string]string
	allowPrivileged, hostGW                       bool
}

// newAgentCmd builds `keelson agent`: the node agent that runs the pods the servers
// assign to this node through containerd and CNI, and programs the service proxy and
// the routes to other nodes' pods.
func newAgentCmd() *cobra.Command {
	var f agentFlags
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the node agent (pods through containerd, service proxy, routes)",
		Long: "The agent registers this node with the servers, heartbeats, and runs exactly the pods\n" +
			"the leader assigns to it. It keeps its pods running while the servers are unreachable\n" +
			"and adopts them again after a restart.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return usageError(err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runAgent(ctx, f, cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	host, _ := os.Hostname()
	fl.StringVar(&f.servers, "server", "", "server URL(s), comma-separated (https://10.0.0.1:7480,...)")
	fl.StringVar(&f.tokenFile, "token-file", "", "file holding a node-join token (K10...; or the token in $KEELSON_TOKEN), exchanged once for this node's certificate in --data-dir/tls")
	fl.StringVar(&f.caFile, "ca-file", "", "the cluster CA certificate (default: learnt from the servers, pinned by the token's CA hash)")
	fl.StringVar(&f.name, "name", host, "node name")
	fl.StringVar(&f.address, "address", "", "this node's IP on the cluster network")
	fl.StringVar(&f.listen, "listen", ":7071", "address of the agent's log endpoint (mutual TLS: servers only)")
	fl.StringVar(&f.dataDir, "data-dir", "/var/lib/keelson/agent", "agent state: pod volumes, logs, runtime state")
	fl.StringVar(&f.containerdSock, "containerd", "/run/containerd/containerd.sock", "containerd socket")
	fl.StringVar(&f.cniBinDir, "cni-bin-dir", "/usr/lib/cni", "directory of the CNI plugins")
	fl.StringVar(&f.bridge, "bridge", "keelson0", "the pods' bridge on this node")
	fl.StringVar(&f.ctrNamespace, "containerd-namespace", "keelson", "containerd namespace of this agent's images and containers")
	fl.StringVar(&f.proxyTable, "proxy-table", "keelson", "nftables table of the service proxy")
	fl.StringVar(&f.clusterCIDR, "cluster-cidr", "10.244.0.0/16", "the whole pod network (the proxy masquerades traffic from outside it)")
	fl.StringSliceVar(&f.insecureRegistries, "registry-insecure", nil, "registry host(s) pulled over plain HTTP")
	fl.StringSliceVar(&f.hostPaths, "allow-host-path", nil, "path prefix(es) hostPath volumes may use (none = hostPath refused)")
	fl.BoolVar(&f.allowPrivileged, "allow-privileged", false, "allow privileged containers")
	fl.StringSliceVar(&f.allowCaps, "allow-capabilities", nil, "capabilities containers may add (NET_ADMIN,...; ALL = any); none by default")
	fl.StringSliceVar(&f.taints, "register-with-taints", nil, "node taint(s) key=value:Effect (NoSchedule, PreferNoSchedule, NoExecute)")
	fl.StringToStringVar(&f.labels, "label", nil, "node label(s) key=value")
	fl.StringVar(&f.proxyMode, "proxy-mode", "nftables", "service proxy: nftables, userspace or none")
	fl.BoolVar(&f.hostGW, "host-gw", true, "route other nodes' pod CIDRs via their addresses")
	fl.StringVar(&f.dnsAddress, "dns-address", "169.254.20.10", "link-local IPv4 the node's cluster DNS serves pods on (port 53, added to lo; distinct per agent sharing a host; \"\" = no cluster DNS)")
	fl.StringVar(&f.resolvConf, "resolv-conf", "/etc/resolv.conf", "the host's resolver configuration: dnsPolicy Default pods get it, cluster DNS forwards to its nameservers")
	fl.StringSliceVar(&f.dnsUpstreams, "dns-upstream", nil, "resolver(s) host[:port] the cluster DNS forwards other names to (default: --resolv-conf's nameservers)")
	return cmd
}

func (f *agentFlags) check() error {
	var errs []error
	if f.serverList() == nil {
		errs = append(errs, errors.New("--server is required"))
	}
	if f.name == "" {
		errs = append(errs, errors.New("--name is required"))
	}
	if f.address == "" {
		errs = append(errs, errors.New("--address is required (the node's IP on the cluster network)"))
	}
	if _, err := node.ParseTaints(f.taints); err != nil {
		errs = append(errs, fmt.Errorf("--register-with-taints: %w", err))
	}
	if f.dnsAddress != "" {
		if ip, err := netip.ParseAddr(f.dnsAddress); err != nil || !ip.Is4() {
			errs = append(errs, fmt.Errorf("--dns-address %q: want an IPv4 address", f.dnsAddress))
		}
	}
	switch f.proxyMode {
	case "nftables", "userspace", "none":
	default:
		errs = append(errs, fmt.Errorf("--proxy-mode %q: want nftables, userspace or none", f.proxyMode))
	}
	return errors.Join(errs...)
}

func (f *agentFlags) serverList() []string {
	var out []string
	for _, s := range strings.Split(f.servers, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// runAgent wires the agent's parts from the flags and runs it until ctx ends.
func runAgent(ctx context.Context, f agentFlags, logOut io.Writer) error {
	log := slog.New(slog.NewTextHandler(logOut, nil)).With("component", "agent")
	rt, err := containerd.New(ctx, containerd.Config{
		Address: f.containerdSock, Namespace: f.ctrNamespace, StateDir: filepath.Join(f.dataDir, "runtime"),
		CNIBinDir: f.cniBinDir, BridgeName: f.bridge, InsecureRegistries: f.insecureRegistries,
		Logger: log.With("component", "runtime"),
	})
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	defer rt.Close()
	id, err := nodeIdentity(ctx, f)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	taints, err := node.ParseTaints(f.taints)
	if err != nil {
		return usageError(fmt.Errorf("--register-with-taints: %w", err))
	}
	cfg := node.Config{Taints: taints, AllowCapabilities: f.allowCaps,
		Name: f.name, Address: f.address, AgentListen: f.listen, DataDir: f.dataDir,
		Labels: f.labels, TLS: id.listen, Runtime: rt, ControlPlane: client.New(f.serverList(), "", client.WithTLSConfig(id.dial)),
		AllowedHostPaths: f.hostPaths, AllowPrivileged: f.allowPrivileged, Logger: log,
	}
	pcfg := proxy.Config{Logger: log.With("component", "proxy"), ClusterCIDR: f.clusterCIDR, BridgeName: f.bridge, Table: f.proxyTable}
	switch f.proxyMode {
	case "nftables":
		p, err := proxy.NewNFTables(pcfg)
		if err != nil {
			return fmt.Errorf("agent: nftables proxy: %w", err)
		}
		defer p.Close()
		cfg.Proxy = p
	case "userspace":
		p, err := proxy.NewUserspace(pcfg)
		if err != nil {
			return fmt.Errorf("agent: userspace proxy: %w", err)
		}
		defer p.Close()
		cfg.Proxy = p
	}
	if f.dnsAddress != "" {
		// Not fatal: pods then get the host's resolvers (ClusterFirst falls back to
		// Default, as a kubelet without --cluster-dns does), and the rest of the node works.
		if d, err := startClusterDNS(ctx, f, log.With("component", "dns")); err != nil {
			log.Error("cluster DNS disabled: pods get the host's resolvers", "err", err)
		} else {
			defer d.Close()
			cfg.DNS, cfg.DNSAddress = d, f.dnsAddress
		}
	}
	cfg.HostResolvConf = f.resolvConf
	if f.hostGW {
		routes := hostgw.New(log.With("component", "hostgw"))
		defer routes.Close()
		cfg.Routes = routes
	}
	a, err := node.NewAgent(cfg)
	if err != nil {
		return err
	}
	log.Info("agent starting", "node", f.name, "servers", f.serverList(), "proxy", f.proxyMode)
	return a.Run(ctx)
}

// identity is the agent's TLS: dial the servers (verifying them as servers) and serve
// the log endpoint (admitting servers only), both with the node certificate.
type identity struct{ dial, listen *tls.Config }

// nodeIdentity loads the node certificate from --data-dir/tls, exchanging the
// node-join token for it on the first start.
func nodeIdentity(ctx context.Context, f agentFlags) (identity, error) {
	token, err := secretFromFileOrEnv(f.tokenFile, "KEELSON_TOKEN")
	if err != nil {
		return identity{}, err
	}
	hosts := []string{f.address}
	if h, _, err := net.SplitHostPort(f.listen); err == nil && h != "" {
		hosts = append(hosts, h)
	}
	files, err := client.NodeCredentials(ctx, f.serverList(), token, f.caFile, f.name, hosts, filepath.Join(f.dataDir, "tls"))
	if err != nil {
		return identity{}, err
	}
	dial, listen, err := files.NodeTLS()
	return identity{dial: dial, listen: listen}, err
}
