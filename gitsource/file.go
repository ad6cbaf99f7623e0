package gitsource

import (
	"context"
	"fmt"
	"io"
	"path"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// ReadFile returns one file of the manifests directory (name relative to it, as in
// file:line errors) at rev, as committed: the web view's read-only repository view.
// Like the revisions themselves it reads the object store only, never a work tree.
func (s *Source) ReadFile(ctx context.Context, rev, name string) ([]byte, error) {
	var out []byte
	err := s.withRepo(ctx, false, func(repo *git.Repository) error {
		h, err := repo.ResolveRevision(plumbing.Revision(rev))
		if err != nil {
			return fmt.Errorf("resolve %q: %w", rev, err)
		}
		c, err := object.GetCommit(repo.Storer, *h)
		if err != nil {
			return fmt.Errorf("read commit %s: %w", h, err)
		}
		tree, err := c.Tree()
		if err != nil {
			return fmt.Errorf("tree of %s: %w", h, err)
		}
		f, err := tree.File(path.Join(s.cfg.Path, name))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if f.Size > MaxManifestSize {
			return fmt.Errorf("%s: %d bytes, over the %d-byte manifest limit", name, f.Size, MaxManifestSize)
		}
		rc, err := f.Reader()
		if err != nil {
			return fmt.Errorf("open %s: %w", name, err)
		}
		defer rc.Close()
		out, err = io.ReadAll(io.LimitReader(rc, MaxManifestSize))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("gitsource: read file at %s: %w", rev, err)
	}
	return out, nil
}
