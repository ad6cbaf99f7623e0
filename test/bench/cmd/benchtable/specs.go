package main

import (
	"fmt"
	"strings"
)

// spec says how to show one benchmark: which metrics make the figure (in order) and
// what to compare it with. One benchmark may produce several rows.
type spec struct {
	title         string
	units         []string
	anchor, notes string
}

// specs are keyed by benchmark name (sub-benchmarks by their full name, or by prefix
// with a trailing "/").
var specs = map[string][]spec{
	"BenchmarkScheduleAtScale": {
		{"Scheduling at scale: 100,000 pods, 5,000 nodes, 3 servers", []string{"pods/s", "s-to-all-assigned", "assigned-at-deadline", "s-to-all-running", "running-at-deadline", "s-deadline", "s-push-to-revision"},
			"kube-scheduler ~300 pods/s at 5k nodes; Nomad C1M ~3,700 pods/s",
			"from `git push` returning; assigned = committed and visible on a follower; Running = reported by the simulated nodes through the API"},
		{"Memory: server with 100,000 pods", []string{"MB-heap/server"}, "",
			"in-process: live heap growth (HeapInuse after GC) of 3 replicas / 3"},
		{"NodeView at 5,000 nodes (one agent's watch answer)", []string{"KB/nodeview", "ms/nodeview"}, "",
			"carries every node record: O(nodes) per agent per change"},
	},
	"BenchmarkLeaderFailover": {{"Leader failover (SIGKILL, 3 processes)", []string{"ms-median", "ms-max", "rounds"},
		"raft floor: heartbeat timeout 1 s + election", "first write committed by the new leader, via a survivor"}},
	"BenchmarkFailover": {{"raftstore failover (in process, Close as kill)", []string{"ms/failover"},
		"raft floor: heartbeat timeout 1 s + election", ""}},
	"BenchmarkNodeLoss": {{"Node loss → replacement pods Running", []string{"s-to-replacement-running"},
		"Kubernetes defaults ~5 min 50 s; floor here: eviction 20 s after the last heartbeat",
		"1 server, 2 agents on the fake runtime, default timeouts (grace 10 s, eviction 20 s), 10 pods"}},
	"BenchmarkPushToRunning": {
		{"Push-to-running (3 servers, 2 agents, containerd)", []string{"p50-ms", "p99-ms", "pushes"},
			"Argo CD polls every 3 min, Flux every 1 min", "`git push` returning → both pods of the RC rolled and Running"},
		{"Memory: processes after push-to-running", []string{"MB-rss/server", "MB-rss/agent-2pods"}, "", "VmRSS of `keelson server` / `keelson agent` with 2 pods"},
	},
	"BenchmarkWebPage": {
		{"Web view: page weight (HTML+CSS+JS / first data)", []string{"KB-page", "KB-first-data"}, "",
			"as served, uncompressed; first data = the summary the live stream sends first (3 pods)"},
		{"Web view: time to first render (headless chromium)", []string{"ms-fcp-p50", "ms-pods-filled-p50", "ms-pods-filled-p90"}, "",
			"Performance API, navigation start → first contentful paint / pod table filled; 10 cold tabs"},
	},
	"BenchmarkAgentMemory100Pods": {{"Memory: agent with 100 pods", []string{"MB-heap/agent"}, "",
		"in-process agent on the fake runtime: live heap growth (HeapInuse after GC)"}},
	"BenchmarkPushToRevision": {{"gitsource: push → revision", []string{"p50-ms", "p99-ms", "p50-from-push-start-ms"},
		"Argo CD 3 min poll, Flux 1 min", "fsnotify on a local repository"}},
	"BenchmarkApply/": {{"raftstore apply", []string{"pods/s", "entries/s"},
		"physical: one fsync per raft batch on this disk", "3 servers, loopback TCP, fsync"}},
	"BenchmarkReplicaHeap100kPods": {{"raftstore: one replica's state at 100,000 Running pods", []string{"MB-heap/replica", "B/pod"}, "",
		"FSM only, live heap after GC"}},
	"BenchmarkSnapshotRestore100k": {{"raftstore: snapshot at 100,000 pods", []string{"ms/persist", "ms/restore", "MB/snapshot", "MB-heap/restored"}, "",
		"streamed v2 format, in memory"}},
	"BenchmarkRestart100k": {{"raftstore: restart-to-serving at 100,000 pods", []string{"s-restart-to-serving", "MB-replayed"},
		"raft floor: heartbeat timeout 1 s + election", "1 server, bolt + file snapshot, default timeouts"}},
	"BenchmarkPlan100kPods5kNodes": {{"Plan: one call placing 100,000 pods on 5,000 nodes", []string{"pods/s", "ns/op"},
		"kube-scheduler ~300 pods/s at 5k nodes", "pure function, no I/O"}},
	"BenchmarkStartPod/keelson": {{"Pod start: keelson (sandbox + container)", []string{"p50-ms", "p99-ms", "sandbox-p50-ms"},
		"`ctr run` of the same image (row below)", "image present"}},
	"BenchmarkStartPod/ctr-run":           {{"Pod start: `ctr run --rm --net-host`", []string{"p50-ms", "p99-ms"}, "floor set by containerd here", ""}},
	"BenchmarkThroughput/Direct":          {{"Service path: direct pod IP", []string{"req/s", "p50-µs"}, "physical limit of this topology", "keep-alive HTTP GET"}},
	"BenchmarkThroughput/NFTables":        {{"Service path: ClusterIP via nftables", []string{"req/s", "p50-µs"}, "direct pod IP (row above)", "kernel DNAT"}},
	"BenchmarkThroughput/Userspace":       {{"Service path: ClusterIP via userspace proxy", []string{"req/s", "p50-µs"}, "direct pod IP", "fallback data path"}},
	"BenchmarkEndpointUpdate1000Services": {{"Proxy: one endpoint change with 1,000 services", []string{"ns/op"}, "", "model, diff, one netlink batch"}},
	"BenchmarkAssignToRunning":            {{"Agent overhead: assignment → Running report", []string{"p50-µs", "p99-µs"}, "", "fake runtime, in-memory control plane"}},
	"BenchmarkManyPods":                   {{"Agent: full pod lifecycle ×1,000", []string{"µs/pod-lifecycle"}, "", "fake runtime"}},
	"BenchmarkClusterDNS": {
		{"Cluster DNS: service name lookups from a pod's netns", []string{"lookups/s", "p50-µs", "p99-µs", "lookups/s-4-clients"},
			"", "node-local server on a link-local address; UDP through the pod's veth and bridge"},
		{"Cluster DNS: endpoint change → changed answer in the pod", []string{"ms-endpoint-to-answer-p50", "ms-endpoint-to-answer-max"},
			"records have a 5 s TTL (CoreDNS default)", "from the new endpoint visible in the API to the pod's first answer with it (5 scale-ups)"},
	},
	"BenchmarkKubectlGetPods100k": {{"`kubectl get pods -A` at 100,000 pods (list + Table)", []string{"p50-ms", "p99-ms", "runs"},
		"", "the real kubectl 1.32: pages of 500 as server-side Tables; in-process API on a raft store of 100,000 running pods"}},
}

type row struct{ title, figure, anchor, notes string }

// lookup finds the specs of a benchmark: exact name, then the longest "prefix/".
func lookup(name string) []spec {
	if s, ok := specs[name]; ok {
		return s
	}
	best := ""
	for k := range specs {
		if strings.HasSuffix(k, "/") && strings.HasPrefix(name, k) && len(k) > len(best) {
			best = k
		}
	}
	return specs[best]
}

func render(r result) []row {
	ss := lookup(r.name)
	if r.skipped != "" || r.failed != "" {
		title := r.name
		if len(ss) > 0 {
			title = ss[0].title
		}
		if r.skipped != "" {
			return []row{{title, "skipped: " + r.skipped, anchorOf(ss), r.name}}
		}
		return []row{{title, "FAILED: " + r.failed, anchorOf(ss), r.name}}
	}
	if len(ss) == 0 {
		return []row{{r.name, figure(r, r.order), "", ""}}
	}
	var out []row
	for _, s := range ss {
		title := s.title
		if strings.HasSuffix(lookupKey(r.name), "/") {
			title += " (" + r.name[strings.Index(r.name, "/")+1:] + ")"
		}
		out = append(out, row{title, figure(r, s.units), s.anchor, s.notes})
	}
	return out
}

func lookupKey(name string) string {
	if _, ok := specs[name]; ok {
		return name
	}
	for k := range specs {
		if strings.HasSuffix(k, "/") && strings.HasPrefix(name, k) {
			return k
		}
	}
	return ""
}

func anchorOf(ss []spec) string {
	if len(ss) == 0 {
		return ""
	}
	return ss[0].anchor
}

// figure formats the listed metrics that are present as "value unit", ns/op as ms.
func figure(r result, units []string) string {
	var parts []string
	for _, u := range units {
		v, ok := r.metrics[u]
		if !ok {
			continue
		}
		if u == "ns/op" {
			parts = append(parts, trim(v/1e6)+" ms/op")
			continue
		}
		parts = append(parts, trim(v)+" "+u)
	}
	if len(parts) == 0 {
		return "(no metrics)"
	}
	return strings.Join(parts, ", ")
}

// trim prints a value with 3 significant digits, without exponent for common sizes.
func trim(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}
