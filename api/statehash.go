package api

// PathStateHash answers this server's replicated state hash at its applied raft index
// (GET → StateHash): two replicas at the same index must show the same hash. The
// chaos soak compares it on every server after each fault cycle.
const PathStateHash = "/v1/state-hash"

// StateHash is a replica's FSM hash (raftstore State.Hash) and the index it is at.
type StateHash struct {
	Index uint64 `json:"index"`
	Hash  string `json:"hash"`
}
