package gitsource

import (
	"strings"
	"testing"
	"time"
)

// A force-push back to an old signed commit (or to a new signed commit beside the
// applied one) is refused while signatures are required, and reported with the
// applied commit; a fast-forward is accepted; --allow-rollback permits it.
func TestRollbackOfSignedBranchRefused(t *testing.T) {
	r := newRepos(t)
	key, pub := sshKeygen(t, t.TempDir(), "alice")
	signers := writeAllowedSigners(t, "alice@example.com", pub)
	old := r.sshSignedCommit(key, "v1", map[string]string{"pod.yaml": pod("pod")})
	r.push("main")
	c := start(t, newLocal(t, Config{URL: r.bare, AllowedSignersFile: signers}))
	c.waitFor(t, old, 10*time.Second)
	applied := r.sshSignedCommit(key, "v2", map[string]string{"b.yaml": pod("b")})
	r.push("main")
	if rev := c.waitFor(t, applied, 10*time.Second); !rev.Valid() {
		t.Fatalf("fast-forward refused: %v", rev.Errors)
	}

	r.push("--force", old+":main")
	rev := c.waitFor(t, old, 10*time.Second)
	// The first delivery of old was valid; wait for the refused one.
	eventually(t, 10*time.Second, "the rollback refused", func() bool {
		all := c.all()
		rev = all[len(all)-1]
		return rev.Commit == old && !rev.Valid()
	})
	want := "commit " + old[:12] + ": history: does not descend from the applied commit " + applied[:12] + ": a rollback or force-push of a signed branch is refused (--allow-rollback permits it)"
	if len(rev.Errors) != 1 || rev.Errors[0].Error() != want || len(rev.Objects.Pods) != 0 {
		t.Fatalf("rollback: errors %v, want %q", rev.Errors, want)
	}

	// A new signed commit beside the applied one is refused too.
	r.git(r.work, "reset", "-q", "--hard", old)
	side := r.sshSignedCommit(key, "side", map[string]string{"c.yaml": pod("c")})
	r.push("--force", "main")
	if rev := c.waitFor(t, side, 10*time.Second); rev.Valid() || !strings.Contains(rev.Errors[0].Message, "does not descend from the applied commit "+applied[:12]) {
		t.Fatalf("diverged head: errors %v", rev.Errors)
	}

	// The applied commit comes from the cluster (after a restart or a leader change),
	// and --allow-rollback lets the operator roll back on purpose.
	fromCluster := start(t, newLocal(t, Config{URL: r.bare, AllowedSignersFile: signers, Applied: func() string { return applied }}))
	if rev := fromCluster.waitFor(t, side, 10*time.Second); rev.Valid() {
		t.Fatal("a new source accepted a head that does not descend from the cluster's applied commit")
	}
	allowed := start(t, newLocal(t, Config{URL: r.bare, AllowedSignersFile: signers, AllowRollback: true, Applied: func() string { return applied }}))
	if rev := allowed.waitFor(t, side, 10*time.Second); !rev.Valid() {
		t.Fatalf("--allow-rollback: %v", rev.Errors)
	}
}

// Without a signature policy a force-pushed tip is simply what is desired.
func TestForcePushUnsignedBranchAccepted(t *testing.T) {
	r := newRepos(t)
	a := r.commit("a", map[string]string{"pod.yaml": pod("pod")})
	b := r.commit("b", map[string]string{"b.yaml": pod("b")})
	r.push("main")
	c := start(t, newLocal(t, Config{URL: r.bare, Applied: func() string { return b }}))
	c.waitFor(t, b, 10*time.Second)
	r.push("--force", a+":main")
	if rev := c.waitFor(t, a, 10*time.Second); !rev.Valid() {
		t.Fatalf("force-push without a signature policy refused: %v", rev.Errors)
	}
}
