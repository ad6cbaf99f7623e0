package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/keelson/keelson/gitsource"
	"github.com/keelson/keelson/reconciler"
	"github.com/keelson/keelson/server"
)

// serverFlags are the flags of `keelson server`.
type serverFlags struct {
	dataDir, httpAddr, httpAdvertise, raftAddr, raftAdvertise, id string
	bootstrap                                                     bool
	bootstrapExpect                                               int
	join                                                          []string
	tokenFile, caCert, caKey                                      string
	tlsSANs                                                       []string
	repo, branch, path, webhookSecretFile, trustedKeyring         string
	pollInterval                                                  time.Duration
	logLevel                                                      string
	nodeGracePeriod, evictionTimeout                              time.Duration
	clusterCIDR, serviceCIDR                                      string
	maxPodsPerNode                                                int
	git                                                           gitFlags // server_git.go
	clusterDomain                                                 string
}

// newServerCmd builds `keelson server`: one member of the replicated control plane.
func newServerCmd() *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run a control-plane server (raft member, HTTP API, leader's reconciler)",
		Long: "Run 1, 3 or 5 servers. The first starts with --bootstrap (or all with\n" +
			"--bootstrap-expect N --join the others); later ones --join an existing server.\n" +
			"The leader follows the Git branch given by --repo and reconciles the cluster to it.\n" +
			"--bootstrap makes the cluster CA and the join and read tokens in --data-dir and\n" +
			"prints how to join servers, agents and readers. Raft and the API are mutual TLS only.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return usageError(err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runServer(ctx, f, cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	host, _ := os.Hostname()
	fl.StringVar(&f.dataDir, "data-dir", "", "directory of the raft log, snapshots and Git clones (required)")
	fl.StringVar(&f.httpAddr, "http-addr", "127.0.0.1:7480", "HTTP API listen address")
	fl.StringVar(&f.httpAdvertise, "http-advertise", "", "URL other servers use to reach this API (default https://--http-addr)")
	fl.StringVar(&f.raftAddr, "raft-addr", "127.0.0.1:7481", "raft listen address")
	fl.StringVar(&f.raftAdvertise, "raft-advertise", "", "raft address peers dial (default --raft-addr)")
	fl.StringVar(&f.id, "id", host, "server ID (unique in the cluster, stable across restarts)")
	fl.BoolVar(&f.bootstrap, "bootstrap", false, "start a new single-server cluster (first server only)")
	fl.IntVar(&f.bootstrapExpect, "bootstrap-expect", 0, "start a new cluster once this many servers (this one and --join) see each other")
	fl.StringSliceVar(&f.join, "join", nil, "HTTP URL(s) of existing servers to join")
	fl.StringVar(&f.tokenFile, "token-file", "", "file holding the server-join token (K10...; or the token in $KEELSON_TOKEN): needed to --join; with --bootstrap it sets the cluster's server token")
	fl.StringVar(&f.caCert, "ca-cert", "", "an operator's cluster CA certificate for a new data dir (default: --bootstrap makes one; required with --bootstrap-expect)")
	fl.StringVar(&f.caKey, "ca-key", "", "the key of --ca-cert")
	fl.StringSliceVar(&f.tlsSANs, "tls-san", nil, "more DNS names or IPs for this server's certificate")
	fl.StringVar(&f.repo, "repo", "", "Git repository of the desired state (local path or URL)")
	fl.StringVar(&f.branch, "branch", gitsource.DefaultBranch, "desired-state branch")
	fl.StringVar(&f.path, "path", "", "manifests directory inside the repository")
	fl.DurationVar(&f.pollInterval, "poll-interval", 0, "Git poll interval (default 15s remote, 10s local)")
	fl.StringVar(&f.webhookSecretFile, "webhook-secret-file", "", "file holding the HMAC secret of the Git webhook (or the secret in $KEELSON_WEBHOOK_SECRET; neither: no webhook)")
	fl.StringVar(&f.trustedKeyring, "trusted-keyring", "", "armored OpenPGP keyring: refuse heads not signed by one of its keys")
	f.git.register(fl)
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	def := reconciler.DefaultConfig()
	fl.DurationVar(&f.nodeGracePeriod, "node-grace-period", def.NodeGracePeriod, "a node whose last heartbeat is older than this is NotReady")
	fl.DurationVar(&f.evictionTimeout, "eviction-timeout", def.EvictionTimeout, "a node silent this long (since its last heartbeat) is Down and its pods are replaced elsewhere")
	fl.StringVar(&f.clusterCIDR, "cluster-cidr", def.ClusterCIDR, "the pod network, split into one /24 per node (must match the agents' --cluster-cidr)")
	fl.StringVar(&f.serviceCIDR, "service-cidr", def.ServiceCIDR, "the range ClusterIPs are allocated from")
	fl.IntVar(&f.maxPodsPerNode, "max-pods-per-node", def.MaxPodsPerNode, "the most running pods the scheduler places on one node (as the kubelet's --max-pods); -1: no cap")
	fl.StringVar(&f.clusterDomain, "cluster-domain", "cluster.local", "DNS domain of services and pods (svc.ns.svc.DOMAIN), served by every agent")
	return cmd
}

func (f *serverFlags) check() error {
	var errs []error
	if f.dataDir == "" {
		errs = append(errs, errors.New("--data-dir is required"))
	}
	if f.bootstrap && (f.bootstrapExpect > 0 || len(f.join) > 0) {
		errs = append(errs, errors.New("--bootstrap cannot be combined with --bootstrap-expect or --join"))
	}
	if f.bootstrapExpect > 1 && len(f.join) == 0 {
		errs = append(errs, errors.New("--bootstrap-expect needs --join with the other servers' URLs"))
	}
	if (f.caCert == "") != (f.caKey == "") {
		errs = append(errs, errors.New("--ca-cert and --ca-key go together"))
	}
	if f.id == "" {
		errs = append(errs, errors.New("--id is required"))
	}
	if msgs := validation.IsDNS1123Subdomain(f.clusterDomain); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("--cluster-domain %q: %s", f.clusterDomain, strings.Join(msgs, "; ")))
	}
	return errors.Join(errs...)
}

func runServer(ctx context.Context, f serverFlags, logOut io.Writer) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return usageError(fmt.Errorf("--log-level: %w", err))
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level})).With("server", f.id)
	joinToken, err := secretFromFileOrEnv(f.tokenFile, "KEELSON_TOKEN")
	if err != nil {
		return usageError(err)
	}
	cfg := server.Config{
		ID: f.id, DataDir: f.dataDir, HTTPAddr: f.httpAddr, HTTPAdvertise: f.httpAdvertise,
		RaftAddr: f.raftAddr, RaftAdvertise: f.raftAdvertise,
		Bootstrap: f.bootstrap, BootstrapExpect: f.bootstrapExpect, Join: f.join,
		JoinToken: joinToken, CACertFile: f.caCert, CAKeyFile: f.caKey, ExtraSANs: f.tlsSANs,
		ClusterDomain: f.clusterDomain,
	}
	rcfg := reconciler.DefaultConfig()
	rcfg.NodeGracePeriod, rcfg.EvictionTimeout = f.nodeGracePeriod, f.evictionTimeout
	rcfg.ClusterCIDR, rcfg.ServiceCIDR = f.clusterCIDR, f.serviceCIDR
	rcfg.MaxPodsPerNode = f.maxPodsPerNode
	var srv *server.Server // set below; the Git source asks it for the applied commit
	deps := server.Deps{
		Logger:     log,
		Planner:    func(in reconciler.Observed) reconciler.Result { return reconciler.Plan(rcfg, in) },
		Reconciler: rcfg,
		Web:        webView(f, log),
	}
	if f.repo != "" {
		gcfg := gitsource.Config{
			URL: f.repo, Branch: f.branch, Path: f.path, PollInterval: f.pollInterval,
			WorkDir: filepath.Join(f.dataDir, "git"), TrustedKeyring: f.trustedKeyring,
			Logger: log,
		}
		f.git.apply(&gcfg, &srv)
		deps.NewSource = func() (server.Source, error) {
			src, err := gitsource.New(gcfg)
			if err != nil {
				return nil, fmt.Errorf("git source %s: %w", redactedRepo(strings.TrimSpace(f.repo)), err)
			}
			return src, nil
		}
		webhookSecret, err := secretFromFileOrEnv(f.webhookSecretFile, "KEELSON_WEBHOOK_SECRET")
		if err != nil {
			return usageError(fmt.Errorf("--webhook-secret-file: %w", err))
		}
		if webhookSecret != "" {
			secret := []byte(webhookSecret)
			deps.Webhook = func(trigger func()) http.Handler {
				return gitsource.WebhookHandler(secret, trigger, log.With("component", "webhook"))
			}
		}
	} else {
		log.Warn("no --repo: the cluster has no desired state until one is configured")
	}
	s, err := server.New(cfg, deps)
	if err != nil {
		return err
	}
	srv = s
	if msg := srv.JoinInstructions(); msg != "" {
		fmt.Fprint(logOut, msg)
	}
	return srv.Run(ctx)
}
