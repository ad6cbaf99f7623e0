package gitsource

import (
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/keelson/keelson/api"
)

// MaxManifestSize is the largest manifest file read. A bigger blob is almost certainly
// a mistake (a generated dump, a binary) and reading it would cost every server memory
// on every revision, so it is refused with an error naming the file.
const MaxManifestSize = 4 << 20

// reader turns a commit of one repository into an api.Revision. It reads the Git
// object store only, never a work tree, so a person editing files in a checkout can
// never leak half-written manifests into the cluster.
type reader struct {
	objects storer.EncodedObjectStorer
	path    string // manifests directory inside the repository, "" for the root
	trust   trustPolicy
}

// revision reads the commit at hash. Problems with the content (invalid manifests,
// oversized files, symlinks, a bad signature) become Revision.Errors; an error is
// returned only when the repository itself cannot be read, e.g. a missing object.
func (r reader) revision(hash plumbing.Hash) (api.Revision, error) {
	c, err := object.GetCommit(r.objects, hash)
	if err != nil {
		return api.Revision{}, fmt.Errorf("read commit %s: %w", hash, err)
	}
	rev := api.Revision{
		Commit:    c.Hash.String(),
		Author:    person(c.Author),
		Committer: person(c.Committer),
		Message:   strings.TrimRight(c.Message, "\n"),
		Time:      c.Committer.When,
	}
	if len(c.ParentHashes) > 0 {
		rev.Parent = c.ParentHashes[0].String()
	}
	if r.trust.required() {
		// Fail closed: content of an untrusted commit is not even decoded.
		if fe := r.trust.verify(c); fe != nil {
			rev.Errors = []api.FieldError{*fe}
			return rev, nil
		}
	}
	files, problems, err := r.files(c)
	if err != nil {
		return api.Revision{}, fmt.Errorf("read manifests of %s: %w", hash, err)
	}
	objs, errs := api.Decode(files)
	rev.Objects = objs
	rev.Errors = append(problems, errs...)
	return rev, nil
}

func person(s object.Signature) string { return fmt.Sprintf("%s <%s>", s.Name, s.Email) }

// files collects every manifest under the configured path of the commit's tree.
// Paths are relative to that directory, sorted.
func (r reader) files(c *object.Commit) ([]api.File, []api.FieldError, error) {
	root, err := object.GetTree(r.objects, c.TreeHash)
	if err != nil {
		return nil, nil, fmt.Errorf("tree %s: %w", c.TreeHash, err)
	}
	if r.path != "" {
		sub, err := root.Tree(r.path)
		if errors.Is(err, object.ErrDirectoryNotFound) || errors.Is(err, object.ErrEntryNotFound) {
			return nil, []api.FieldError{{
				Pos:     api.Position{File: r.path},
				Message: "manifests directory not found in this commit",
			}}, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("tree %s/%s: %w", c.TreeHash, r.path, err)
		}
		root = sub
	}
	w := walk{limit: api.MaxRevisionBytes}
	if err := w.tree(r.objects, root, ""); err != nil {
		return nil, nil, err
	}
	sort.Slice(w.files, func(i, j int) bool { return w.files[i].Path < w.files[j].Path })
	return w.files, w.problems, nil
}

// walk accumulates the result of a recursive tree walk.
type walk struct {
	files    []api.File
	problems []api.FieldError
	bytes    int64 // read so far
	limit    int64 // of bytes read: api.MaxRevisionBytes (tests use less)
	full     bool  // the limit was passed: read no more
}

// tree visits one tree. Entries whose name starts with a dot (.github/, .gitlab-ci.yml,
// .git-crypt/) are tooling, not desired state, and are skipped. Symlinks and
// submodules are refused rather than skipped: either could hide manifests, and a
// manifest Keelson does not read must not be silently dropped.
func (w *walk) tree(objects storer.EncodedObjectStorer, t *object.Tree, prefix string) error {
	for _, e := range t.Entries {
		if strings.HasPrefix(e.Name, ".") {
			continue
		}
		p := path.Join(prefix, e.Name)
		switch e.Mode {
		case filemode.Dir:
			sub, err := object.GetTree(objects, e.Hash)
			if err != nil {
				return fmt.Errorf("tree %s: %w", p, err)
			}
			if err := w.tree(objects, sub, p); err != nil {
				return err
			}
		case filemode.Symlink:
			w.refuse(p, "symbolic links are not followed: commit the file itself")
		case filemode.Submodule:
			w.refuse(p, "submodules are not supported: manifests must live in this repository")
		case filemode.Regular, filemode.Executable, filemode.Deprecated:
			if !isManifest(e.Name) {
				continue
			}
			if err := w.blob(objects, e.Hash, p); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *walk) refuse(p, msg string) {
	w.problems = append(w.problems, api.FieldError{Pos: api.Position{File: p}, Message: msg})
}

// blob reads one manifest, refusing it before reading when it is too big.
func (w *walk) blob(objects storer.EncodedObjectStorer, h plumbing.Hash, p string) error {
	size, err := objects.EncodedObjectSize(h)
	if err != nil {
		return fmt.Errorf("size of %s: %w", p, err)
	}
	if size > MaxManifestSize {
		w.refuse(p, fmt.Sprintf("file is %d bytes, larger than the %d-byte limit for a manifest", size, MaxManifestSize))
		return nil
	}
	if w.full {
		return nil
	}
	if w.bytes += size; w.bytes > w.limit {
		w.full = true
		w.problems = append(w.problems, api.RevisionTooLarge(p))
		return nil
	}
	b, err := object.GetBlob(objects, h)
	if err != nil {
		return fmt.Errorf("blob %s: %w", p, err)
	}
	rc, err := b.Reader()
	if err != nil {
		return fmt.Errorf("open %s: %w", p, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, MaxManifestSize+1))
	if err != nil {
		return fmt.Errorf("read %s: %w", p, err)
	}
	w.files = append(w.files, api.File{Path: p, Data: data})
	return nil
}

func isManifest(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}
