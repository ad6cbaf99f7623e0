package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/hashicorp/raft"
	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/raftstore"
	"github.com/keelson/keelson/reconciler"
)

// Source is the Git source as the leader needs it (gitsource implements it).
type Source interface {
	// Run blocks until ctx ends, delivering each new branch head, valid or not.
	Run(ctx context.Context, deliver func(api.Revision)) error
	// Trigger asks for a fetch now (webhook).
	Trigger()
	// Status reports the source's condition.
	Status() api.SourceStatus
}

// Planner is one pure reconcile step (reconciler.Plan with its config bound).
type Planner func(in reconciler.Observed) reconciler.Result

// Config is everything `keelson server` is told by its flags.
type Config struct {
	ID string
	// DataDir holds raft/ (log, stable store, snapshots), tls/ (the cluster CA and
	// this server's certificate) and tokens/ (join and read tokens); the wiring may
	// keep more there (git/ for clones). Required.
	DataDir string
	// HTTPAddr is the API listen address; "" means Run does not listen and the caller
	// serves Handler() (tests with httptest).
	HTTPAddr string
	// HTTPAdvertise is the URL other servers use to reach this one (forwarding, logs);
	// default https://HTTPAddr.
	HTTPAdvertise string
	// RaftAddr is the raft listen address; RaftAdvertise what peers dial (default RaftAddr).
	RaftAddr, RaftAdvertise string

	// Bootstrap starts a new single-server cluster (when there is no raft state).
	Bootstrap bool
	// BootstrapExpect waits until this many servers (itself and those reachable at Join)
	// know each other, then all bootstrap with the same voter list.
	BootstrapExpect int
	// Join lists HTTP URLs of servers to ask for membership (or, with
	// BootstrapExpect, the other expected servers).
	Join []string

	// JoinToken is the server-join secret (K10<ca-hash>::<secret>) a joining server
	// presents to get the cluster's credentials; with Bootstrap it becomes the
	// cluster's server token (default: a fresh one in <data-dir>/tokens/server).
	JoinToken string
	// CACertFile/CAKeyFile give an operator's CA for a data dir that has none yet
	// (required with BootstrapExpect, so every server starts with the same CA).
	CACertFile, CAKeyFile string
	// ExtraSANs are more names or IPs for this server's certificate.
	ExtraSANs []string

	// ReconcileInterval is the reconcile loop's timer, for heartbeats turning stale
	// without any store change (default 1s).
	ReconcileInterval time.Duration
	// MaxWait caps a blocking query's wait (default 5m).
	MaxWait time.Duration
	// ClusterDomain is the DNS domain agents serve services under (default cluster.local).
	ClusterDomain string

	// Raft tuning and test hooks.
	RaftTransport     raft.Transport // tests: in-memory transport
	RaftInMemory      bool           // tests: no disk
	RaftFastTimeouts  bool           // tests
	SnapshotThreshold uint64
}

// Deps are the parts wired in from other packages. All are optional.
type Deps struct {
	Logger *slog.Logger
	// Store is a store opened by the caller (tests); nil: New opens one from Config.
	Store *raftstore.Store
	// NewSource makes the Git source when this server becomes leader; nil: no source.
	NewSource func() (Source, error)
	// Webhook builds the Git webhook handler around the leader's trigger; nil: no hook.
	Webhook func(trigger func()) http.Handler
	// Planner is the reconcile step; nil: no reconciler (tests of the API alone).
	Planner Planner
	// Web builds the read-only web page (server/web) around this server's API and
	// store, mounted at /ui/; nil: no page.
	Web func(readAPI http.Handler, store *raftstore.Store) http.Handler
	// Reconciler is the configuration Planner runs with, published at GET /v1/config
	// so `keelson plan --server` previews with it (zero fields: the defaults).
	Reconciler reconciler.Config
}

func (c *Config) defaults() {
	if c.ReconcileInterval <= 0 {
		c.ReconcileInterval = time.Second
	}
	if c.MaxWait <= 0 {
		c.MaxWait = 5 * time.Minute
	}
	if c.HTTPAdvertise == "" && c.HTTPAddr != "" {
		c.HTTPAdvertise = "https://" + c.HTTPAddr
	}
}
