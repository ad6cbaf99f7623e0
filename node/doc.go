// Package node is the Keelson node agent. It registers the node, heartbeats, follows
// the node's view (its pods, services, endpoints and the other nodes) with blocking
// queries, and runs exactly the pods the view assigns with Desire Run: one worker
// goroutine per pod drives a Runtime (containerd in production, FakeRuntime in tests
// and simulations) through image pull, sandbox, containers, probes, restarts with
// CrashLoopBackOff and graceful stop, and reports status in batches.
//
// The agent is built to survive its servers and itself: it never stops a pod until a
// view says so (a node cut off from the servers keeps its pods), and after a restart it
// adopts the sandboxes and containers the runtime still holds instead of making new
// ones.
package node
