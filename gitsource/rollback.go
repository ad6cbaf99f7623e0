package gitsource

import (
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/keelson/keelson/api"
)

// Rollback protection. A signature proves who wrote a commit, not that it is the
// newest: whoever can push could force the branch back to an old signed commit (one
// with a known vulnerability) and every check would pass. So when signatures are
// required, a new head must descend from the commit the cluster last applied, unless
// the operator allows rollbacks. Without a signature policy anyone who can push can
// push anything, and a force-pushed tip is simply what is desired.

// appliedCommit is the commit a new head must descend from ("" for none).
func (s *Source) appliedCommit() string {
	if s.cfg.Applied != nil {
		return s.cfg.Applied()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delivered
}

// noteDelivered remembers the last valid revision delivered, for appliedCommit.
func (s *Source) noteDelivered(rev api.Revision) {
	if rev.Valid() {
		s.mu.Lock()
		s.delivered = rev.Commit
		s.mu.Unlock()
	}
}

// checkDescent returns the refusal of head when it does not descend from applied.
func checkDescent(objects storer.EncodedObjectStorer, head plumbing.Hash, applied string) *api.FieldError {
	if applied == "" || applied == head.String() {
		return nil
	}
	headCommit, err := object.GetCommit(objects, head)
	if err != nil {
		return &api.FieldError{Pos: api.Position{File: "commit " + head.String()[:12]}, Field: "history", Message: fmt.Sprintf("cannot read the commit: %v", err)}
	}
	base, err := object.GetCommit(objects, plumbing.NewHash(applied))
	if err != nil {
		return commitRefusal(headCommit, "history", fmt.Sprintf("cannot check that it descends from the applied commit %s (%v): refused, as a rollback would be", short(applied), err))
	}
	ok, err := base.IsAncestor(headCommit)
	switch {
	case err != nil:
		return commitRefusal(headCommit, "history", fmt.Sprintf("cannot check that it descends from the applied commit %s (%v): refused, as a rollback would be", short(applied), err))
	case !ok:
		return commitRefusal(headCommit, "history", fmt.Sprintf("does not descend from the applied commit %s: a rollback or force-push of a signed branch is refused (--allow-rollback permits it)", short(applied)))
	}
	return nil
}

func short(h string) string { return h[:min(12, len(h))] }
