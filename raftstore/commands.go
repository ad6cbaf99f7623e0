package raftstore

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/keelson/keelson/api"
)

// MessageType is the first byte of every raft log entry. The numbers are part of the
// on-disk log format: never reuse or renumber one, only append.
type MessageType uint8

const (
	SetRevisionType     MessageType = 1
	RefuseRevisionType  MessageType = 2
	SetSourceStatusType MessageType = 3
	RegisterNodeType    MessageType = 4
	ApplyChangesType    MessageType = 5
	ReportPodStatusType MessageType = 6
	RegisterServerType  MessageType = 7
	RemoveServerType    MessageType = 8
)

var typeNames = map[MessageType]string{
	SetRevisionType:     "SetRevision",
	RefuseRevisionType:  "RefuseRevision",
	SetSourceStatusType: "SetSourceStatus",
	RegisterNodeType:    "RegisterNode",
	ApplyChangesType:    "ApplyChanges",
	ReportPodStatusType: "ReportPodStatus",
	RegisterServerType:  "RegisterServer",
	RemoveServerType:    "RemoveServer",
}

// String names the type, for logs and metrics labels.
func (t MessageType) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("Unknown(%d)", uint8(t))
}

// Command is one typed state change, not yet encoded. Build it with the *Cmd
// constructors so the body always matches the type.
type Command struct {
	Type MessageType
	Body any
}

// Encode returns the log entry: the type byte followed by the JSON body.
func (c Command) Encode() ([]byte, error) {
	body, err := json.Marshal(c.Body)
	if err != nil {
		return nil, fmt.Errorf("encode %s command: %w", c.Type, err)
	}
	return append([]byte{byte(c.Type)}, body...), nil
}

// Request bodies. Each is the JSON after the type byte.

// RegisterNodeRequest creates or updates a node; At is the leader's clock, carried in
// the command so every replica records the same time.
type RegisterNodeRequest struct {
	Node api.NodeRegistration `json:"node"`
	At   time.Time            `json:"at"`
}

// ApplyChangesRequest is one reconciler batch. It carries no request ID: a leader never
// retries a batch (after an error, ErrLeadershipLost included, it plans again from the
// committed state, which already holds the batch if it committed), so there is nothing
// to deduplicate. ObjectStatusSet carries the difference between a nil and an empty
// ObjectStatus, which JSON's omitempty would otherwise erase. (Entries written by older
// versions with a "requestID" field decode unchanged: the field is ignored.)
type ApplyChangesRequest struct {
	Changes         api.Changes `json:"changes"`
	ObjectStatusSet bool        `json:"objectStatusSet,omitempty"`
	// SpecsOnce says that a pod of UpsertPods whose template (Owner and a non-empty
	// SpecHash) an earlier pod of the list has carries no spec of its own: it has that
	// pod's. A batch placing 1,000 replicas then carries one spec, not 1,000 (a third
	// of the entry's bytes and of its decode time at scale). Entries without it (older
	// ones) carry every spec.
	SpecsOnce bool `json:"specsOnce,omitempty"`
}

// ReportPodStatusRequest is one agent status batch.
type ReportPodStatusRequest struct {
	Reports []api.PodStatusReport `json:"reports"`
}

// ServerRecord maps a raft server ID to its addresses, so followers can forward
// writes to the leader's HTTP API.
type ServerRecord struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raftAddr"`
	HTTPAddr string `json:"httpAddr"`
}

// RemoveServerRequest drops a server from the servers table.
type RemoveServerRequest struct {
	ID string `json:"id"`
}

// SetRevisionCmd records a valid revision (Errors empty) as the last good one.
func SetRevisionCmd(rev api.Revision) Command { return Command{SetRevisionType, rev} }

// RefuseRevisionCmd records a commit that was not applied; the last good one stays.
func RefuseRevisionCmd(r api.RefusedRevision) Command { return Command{RefuseRevisionType, r} }

// SetSourceStatusCmd records the condition of the Git source.
func SetSourceStatusCmd(s api.SourceStatus) Command { return Command{SetSourceStatusType, s} }

// RegisterNodeCmd creates a node (status Ready) or updates its address, labels and
// capacity; at is the leader's clock.
func RegisterNodeCmd(reg api.NodeRegistration, at time.Time) Command {
	return Command{RegisterNodeType, RegisterNodeRequest{Node: reg, At: at}}
}

// ApplyChangesCmd commits one reconciler batch.
func ApplyChangesCmd(c api.Changes) Command {
	set := c.ObjectStatus != nil
	c.UpsertPods = specsOnce(c.UpsertPods)
	return Command{ApplyChangesType, ApplyChangesRequest{Changes: c, ObjectStatusSet: set, SpecsOnce: true}}
}

// specsOnce returns pods with the spec of every repeated template left out (see
// ApplyChangesRequest.SpecsOnce); the caller's slice is not modified.
func specsOnce(pods []api.PodRecord) []api.PodRecord {
	seen := map[specKey]bool{}
	var out []api.PodRecord
	for i := range pods {
		p := &pods[i]
		if p.SpecHash == "" {
			continue
		}
		k := specKey{p.Owner, p.SpecHash}
		if !seen[k] {
			seen[k] = true
			continue
		}
		if out == nil {
			out = slices.Clone(pods)
		}
		out[i].Spec = corev1.PodSpec{}
	}
	if out == nil {
		return pods
	}
	return out
}

// fillSpecs undoes specsOnce on a decoded entry.
func fillSpecs(pods []api.PodRecord) {
	first := map[specKey]*corev1.PodSpec{}
	for i := range pods {
		p := &pods[i]
		if p.SpecHash == "" {
			continue
		}
		k := specKey{p.Owner, p.SpecHash}
		if s, ok := first[k]; ok {
			p.Spec = *s
		} else {
			first[k] = &p.Spec
		}
	}
}

// ReportPodStatusCmd applies an agent's status batch, fenced by pod UID and node.
func ReportPodStatusCmd(reports []api.PodStatusReport) Command {
	return Command{ReportPodStatusType, ReportPodStatusRequest{Reports: reports}}
}

// RegisterServerCmd records a server's raft and HTTP addresses.
func RegisterServerCmd(rec ServerRecord) Command { return Command{RegisterServerType, rec} }

// RemoveServerCmd drops a server's record.
func RemoveServerCmd(id string) Command {
	return Command{RemoveServerType, RemoveServerRequest{ID: id}}
}
