package api

// This file is the HTTP/JSON contract between servers, agents and the CLI. Every
// response that reflects replicated state carries the raft index it reflects in the
// IndexHeader header; list endpoints accept ?index=N&wait=30s (blocking query: answer
// when the state is newer than N, or when wait elapses) like Nomad and Consul.

const (
	// IndexHeader carries the raft index a response reflects.
	IndexHeader = "X-Keelson-Index"
	// LeaderHeader is "true" when the answering server is the leader.
	LeaderHeader = "X-Keelson-Leader"
)

// Paths of the HTTP API. Nothing here writes desired state.
const (
	// Read API (read token when configured).
	PathStatus    = "/v1/status"                 // GET → StatusResponse
	PathNodes     = "/v1/nodes"                  // GET → []Node
	PathPods      = "/v1/pods"                   // GET ?namespace=&selector= → []PodRecord
	PathServices  = "/v1/services"               // GET → []ServiceView
	PathRCs       = "/v1/replicationcontrollers" // GET → []RCView
	PathEvents    = "/v1/events"                 // GET ?since=SEQ → []Event
	PathEndpoints = "/v1/endpoints"              // GET → []Endpoints
	PathLogs      = "/v1/logs/"                  // GET /v1/logs/{namespace}/{pod}?container=&follow=&tail= → text (proxied to the agent)
	PathHealth    = "/v1/health"                 // GET → 200 when the server can serve
	PathMetrics   = "/metrics"                   // Prometheus

	// Cluster API (cluster token): agents and servers.
	PathNodeRegister  = "/v1/node/register"  // POST NodeRegistration → Node
	PathNodeHeartbeat = "/v1/node/heartbeat" // POST Heartbeat → 200
	PathNodeStatus    = "/v1/node/status"    // POST []PodStatusReport → 200
	PathNodeView      = "/v1/node/view/"     // GET /v1/node/view/{name}?index=N&wait= → NodeView
	PathServerJoin    = "/v1/server/join"    // POST ServerJoin → 200 (raft membership)
	PathServerLeave   = "/v1/server/leave"   // POST ServerJoin → 200

	// Git webhook (HMAC-SHA256 signed): only a trigger to fetch.
	PathGitHook = "/v1/hooks/git"

	// Agent endpoints (served by each agent, cluster token).
	PathAgentLogs = "/v1/agent/logs/" // GET /v1/agent/logs/{podUID}/{container}?follow=&tail=
)

// NodeRegistration is what an agent says about itself at start and on reconnect.
type NodeRegistration struct {
	Name        string            `json:"name"`
	Address     string            `json:"address"`
	AgentURL    string            `json:"agentURL,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Capacity    Resources         `json:"capacity"`
	Allocatable Resources         `json:"allocatable"`
	Taints      []Taint           `json:"taints,omitempty"`
	// KeyHash is set by the server from the caller's certificate, never by the agent.
	KeyHash string `json:"keyHash,omitempty"`
}

// Heartbeat keeps a node Ready. Heartbeats live in the leader's memory, not in raft.
type Heartbeat struct {
	Name string `json:"name"`
}

// NodeView is everything one agent needs, in one blocking query: its pods (Run and
// Stop), the services and endpoints for its proxy, and the other nodes' pod CIDRs for
// its routes.
type NodeView struct {
	Index     uint64          `json:"index"`
	Node      Node            `json:"node"`
	Pods      []PodRecord     `json:"pods"`
	Services  []ServiceRecord `json:"services"`
	Endpoints []Endpoints     `json:"endpoints"`
	Nodes     []Node          `json:"nodes"`

	// ClusterDomain is the DNS domain of services and pods (server --cluster-domain);
	// "" from an older server means cluster.local.
	ClusterDomain string `json:"clusterDomain,omitempty"`
}

// StatusResponse is `keelson status`.
type StatusResponse struct {
	Index    uint64           `json:"index"`
	Leader   string           `json:"leader"` // raft address of the leader
	Servers  []ServerInfo     `json:"servers"`
	Cluster  ClusterStatus    `json:"cluster"`
	Applied  *Revision        `json:"applied,omitempty"` // last good revision (Objects omitted)
	Refused  *RefusedRevision `json:"refused,omitempty"` // newest refused commit, if newer than Applied
	Source   SourceStatus     `json:"source"`
	Objects  []ObjectStatus   `json:"objects"`
	Nodes    []Node           `json:"nodes"`
	PodCount map[string]int   `json:"podCount"` // by phase
	Events   []Event          `json:"events"`   // most recent
}

// ServerInfo is one raft member.
type ServerInfo struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raftAddr"`
	HTTPAddr string `json:"httpAddr,omitempty"`
	Leader   bool   `json:"leader"`
	Voter    bool   `json:"voter"`
}

// ServerJoin asks the leader to add (or remove) a server.
type ServerJoin struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raftAddr"`
	HTTPAddr string `json:"httpAddr"`
}

// ServiceView is a Service as Git declares it with what the cluster allocated.
type ServiceView struct {
	ServiceRecord
	Endpoints []Endpoint `json:"endpoints"`
	Source    Source     `json:"source"`
}

// RCView is a ReplicationController with its observed counts.
type RCView struct {
	Namespace string            `json:"namespace"`
	Name      string            `json:"name"`
	Replicas  int32             `json:"replicas"` // desired
	Current   int32             `json:"current"`  // pods with Desire Run
	Ready     int32             `json:"ready"`
	Selector  map[string]string `json:"selector"`
	Images    []string          `json:"images"`
	Source    Source            `json:"source"`
	Status    ObjectStatus      `json:"status"`
}

// ErrorResponse is the body of every non-2xx answer.
type ErrorResponse struct {
	Error string `json:"error"`
}
