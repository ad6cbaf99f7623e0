package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// checkDriftHealed deletes every agent's nftables table behind its back, as an
// operator's `nft delete table ip keelson` would, and expects the agents to notice and
// reprogram the rules within their resync period (5 s): the NodePort and the ClusterIP
// answer again with no change in the store, and each agent's log says what drifted.
func (k *kcluster) checkDriftHealed(t *testing.T, s state) {
	fe := s.service("frontend")
	np := hostPort(k.addr, nodePort)
	for _, name := range agentNames {
		table := k.specs[name].ProxyTable
		if out, err := exec.Command("nft", "delete", "table", "ip", table).CombinedOutput(); err != nil {
			t.Fatalf("nft delete table ip %s: %v: %s", table, err, out)
		}
	}
	start := time.Now()
	k.eventually(30*time.Second, "NodePort and ClusterIP answer again", func(ctx context.Context) error {
		if err := answers(ctx, np, "shop frontend"); err != nil {
			return fmt.Errorf("NodePort: %w", err)
		}
		return answers(ctx, hostPort(fe.Spec.ClusterIP, 80), "shop frontend")
	})
	t.Logf("service rules restored %s after the tables were deleted", time.Since(start).Round(100*time.Millisecond))
	for _, name := range agentNames {
		if log := k.procs.Agent(name).Tail(200000); !strings.Contains(log, "service proxy rules were changed outside the agent") {
			t.Errorf("agent %s did not log the drift it repaired", name)
		}
	}
}
