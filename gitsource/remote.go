package gitsource

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/keelson/keelson/api"
)

// ErrBranchNotFound says the repository has no such branch (deleted, or never pushed).
var ErrBranchNotFound = errors.New("branch not found")

// remote is a bare clone of a remote repository in the work directory. Branches are
// mirrored to refs/heads/* of the clone (force refspecs, so a force-push is simply the
// new tip) and HEAD points at the configured branch, so revisions like "main~1",
// "v1.2" or "HEAD" resolve the same way as in the remote.
//
// go-git is not safe for concurrent use, so every use of the clone — by the Run loop
// or by Read — happens with mu held, on a handle opened under it.
type remote struct {
	url    string
	dir    string
	branch string
	creds  credentials
	log    *slog.Logger

	mu sync.Mutex
}

func newRemote(cfg Config, log *slog.Logger) (*remote, error) {
	creds, err := newCredentials(cfg)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(cfg.URL))
	return &remote{
		url:    cfg.URL,
		dir:    filepath.Join(cfg.WorkDir, hex.EncodeToString(sum[:8])+".git"),
		branch: cfg.Branch,
		creds:  creds,
		log:    log,
	}, nil
}

// open opens the clone, creating an empty one (init + origin) when there is none, and
// replacing one that cannot be opened.
func (r *remote) open() (*git.Repository, error) {
	repo, err := git.PlainOpen(r.dir)
	if err == nil {
		return repo, nil
	}
	if !errors.Is(err, git.ErrRepositoryNotExists) {
		if rmErr := os.RemoveAll(r.dir); rmErr != nil {
			return nil, fmt.Errorf("remove broken clone %s: %w (opening it failed: %v)", r.dir, rmErr, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(r.dir), 0o755); err != nil {
		return nil, fmt.Errorf("work dir: %w", err)
	}
	repo, err = git.PlainInit(r.dir, true)
	if err != nil {
		return nil, fmt.Errorf("init clone %s: %w", r.dir, err)
	}
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{r.url}}); err != nil {
		return nil, fmt.Errorf("clone %s: add origin: %w", r.dir, err)
	}
	head := plumbing.NewSymbolicReference(plumbing.HEAD, plumbing.NewBranchReferenceName(r.branch))
	if err := repo.Storer.SetReference(head); err != nil {
		return nil, fmt.Errorf("clone %s: set HEAD: %w", r.dir, err)
	}
	return repo, nil
}

// reset deletes the clone; the next open starts from scratch. It is the cure for a
// clone that lost objects (interrupted write, disk trouble, a shallow clone made by
// someone else): re-cloning is cheaper than diagnosing.
func (r *remote) reset() error {
	if err := os.RemoveAll(r.dir); err != nil {
		return fmt.Errorf("remove clone %s: %w", r.dir, err)
	}
	return nil
}

// fetchSpec says what one fetch brings into the clone.
type fetchSpec struct {
	refs  []config.RefSpec
	prune bool // delete local refs the remote no longer has
}

// branchSpec fetches only the desired-state branch. It does not prune: when the
// branch disappears the fetch fails with ErrBranchNotFound and the last good head
// stays in the clone.
func (r *remote) branchSpec() fetchSpec {
	ref := plumbing.NewBranchReferenceName(r.branch)
	return fetchSpec{refs: []config.RefSpec{config.RefSpec(fmt.Sprintf("+%s:%s", ref, ref))}}
}

// allSpec fetches every branch and tag, for Read of an arbitrary revision, pruning so
// that a branch deleted on the remote cannot be read from a stale copy.
var allSpec = fetchSpec{
	refs:  []config.RefSpec{"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"},
	prune: true,
}

// fetch updates the clone. The branch missing on the remote is ErrBranchNotFound.
func (r *remote) fetch(ctx context.Context, repo *git.Repository, spec fetchSpec) error {
	// Credentials are read again for every fetch, so a rotated token or key file is
	// used without a restart.
	auth, err := r.creds.auth()
	if err != nil {
		return err
	}
	err = repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin",
		RefSpecs:   spec.refs,
		Auth:       auth,
		CABundle:   r.creds.caBundle,
		Tags:       git.NoTags,
		Force:      true,
		Prune:      spec.prune,
	})
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
		return nil
	case errors.Is(err, git.NoMatchingRefSpecError{}):
		return fmt.Errorf("%w on the remote: %s", ErrBranchNotFound, r.branch)
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		return fmt.Errorf("%w on the remote: %s (the remote has no branches)", ErrBranchNotFound, r.branch)
	default:
		return fmt.Errorf("fetch %s: %w", api.RedactURLs(r.url), redactedError{err})
	}
}

// with fetches spec into the clone and runs fn on it, holding the lock. A missing
// object anywhere (fetch or fn) means the clone is damaged: it is deleted, fetched
// again from scratch, and fn retried once.
func (r *remote) with(ctx context.Context, spec fetchSpec, fn func(*git.Repository) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.attempt(ctx, spec, fn)
	if !errors.Is(err, plumbing.ErrObjectNotFound) {
		return err
	}
	r.log.Warn("clone is missing objects; cloning again", "dir", r.dir, "err", err)
	if rerr := r.reset(); rerr != nil {
		return errors.Join(err, rerr)
	}
	return r.attempt(ctx, spec, fn)
}

func (r *remote) attempt(ctx context.Context, spec fetchSpec, fn func(*git.Repository) error) error {
	repo, err := r.open()
	if err != nil {
		return err
	}
	if err := r.fetch(ctx, repo, spec); err != nil {
		return err
	}
	return fn(repo)
}
