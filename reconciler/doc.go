// Package reconciler turns the desired revision and the committed cluster state into
// one batch of changes: Plan is a pure function (no I/O, no goroutines) called by the
// leader on every state change and timer, and by `keelson plan` through Simulate to
// preview a branch. Every decision is derived from committed records (pod owner, spec
// hash, readiness, node status), so a new leader resumes any rollout where the old one
// stopped, and applying a Result then planning again converges.
//
// Choices worth knowing: a node is NotReady NodeGracePeriod after its last heartbeat
// and Down EvictionTimeout after it (both measured from the heartbeat); stopping a pod
// is two-phase (Desire Stop, then the record is deleted by the store when the pod's
// agent reports it Gone, see package apply, or by Plan at once when the pod never
// reached a node or its node is Down); pods lost with a node are marked Failed/NodeLost
// and replaced in the same step. How a batch changes state is package apply's, shared
// with the store: Apply and Simulate call it, never a copy.
package reconciler
