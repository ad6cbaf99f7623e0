package apply

import (
	"fmt"
	"time"

	"github.com/keelson/keelson/api"
)

// RegisterNode creates a node (Ready, registered at the leader's time at) or updates
// what its agent says about itself (address, labels, capacity), keeping the
// leader-owned fields (status, pod CIDR).
func RegisterNode(st State, reg api.NodeRegistration, at time.Time) error {
	if reg.Name == "" {
		return fmt.Errorf("register node: empty name")
	}
	old, err := st.Node(reg.Name)
	if err != nil {
		return fmt.Errorf("read node %s: %w", reg.Name, err)
	}
	var n api.Node
	if old != nil {
		n = *old
	} else {
		n = api.Node{Name: reg.Name, Status: api.NodeReady, RegisteredAt: at, StatusChangedAt: at}
	}
	n.Address, n.AgentURL, n.Labels = reg.Address, reg.AgentURL, reg.Labels
	n.Capacity, n.Allocatable, n.Taints = reg.Capacity, reg.Allocatable, reg.Taints
	if n.KeyHash == "" { // first key wins: a name is never rebound (NodeRestriction)
		n.KeyHash = reg.KeyHash
	}
	if err := st.PutNode(&n); err != nil {
		return fmt.Errorf("write node %s: %w", n.Name, err)
	}
	return nil
}
