// Package gitsource turns a Git branch into a stream of desired-state revisions.
//
// A Source watches one branch of one repository. Local repositories are opened in
// place and watched with fsnotify (plus a slow poll); remote repositories are cloned
// (bare) into a work directory and fetched on an interval with jitter and on Trigger
// (the webhook). Every new branch head is read straight from the Git object store,
// checked against the optional signature policy, decoded by api.Decode and delivered
// as an api.Revision, valid or refused: deciding to keep the last good revision is the
// consumer's job.
package gitsource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/keelson/keelson/api"
)

// Source is one watched branch. Its methods are safe for concurrent use.
type Source struct {
	cfg    Config
	log    *slog.Logger
	trust  trustPolicy
	remote *remote // nil for a local repository

	trigger chan struct{} // size 1: Trigger coalesces
	running atomic.Bool

	mu        sync.Mutex
	status    api.SourceStatus
	delivered string // last valid commit delivered (rollback.go)
}

// New checks the configuration (and loads the trusted keyring) without touching the
// repository: an unreachable remote at start is a status, not an error.
func New(cfg Config) (*Source, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Source{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "gitsource", "url", api.RedactURLs(cfg.URL), "branch", cfg.Branch),
		trigger: make(chan struct{}, 1),
		status: api.SourceStatus{
			URL:     api.RedactURLs(cfg.URL),
			Branch:  cfg.Branch,
			Path:    cfg.Path,
			Message: "not checked yet",
		},
	}
	if s.trust, err = loadTrust(cfg); err != nil {
		return nil, fmt.Errorf("gitsource: %w", err)
	}
	if isRemote(cfg.URL) {
		if s.remote, err = newRemote(cfg, s.log); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Status reports the last check: the head seen and whether the branch was reachable.
func (s *Source) Status() api.SourceStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Trigger asks for an immediate fetch (remote) or re-resolve (local). It never blocks;
// triggers arriving while one is pending are merged.
func (s *Source) Trigger() {
	select {
	case s.trigger <- struct{}{}:
	default:
	}
}

// Run watches the branch until ctx ends. It delivers the head found at start and then
// every new head, in order, from a single goroutine; a head already delivered is not
// delivered again (a branch deleted and recreated at the same commit delivers
// nothing). Refused revisions are delivered too, with Errors set. Run returns nil when
// ctx ends; it may be running only once at a time.
func (s *Source) Run(ctx context.Context, deliver func(api.Revision)) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("gitsource: Run is already running")
	}
	defer s.running.Store(false)

	var (
		hints  <-chan struct{} // nil until a local repository is being watched
		warned bool
	)
	startWatch := func() {
		if s.remote != nil || hints != nil {
			return
		}
		w, err := s.watch(ctx)
		if err != nil {
			if !warned {
				s.log.Warn("cannot watch repository; polling until it can be watched", "err", err)
				warned = true
			}
			return
		}
		hints = w.changed
	}
	var last plumbing.Hash
	check := func() {
		if rev, ok := s.check(ctx, last); ok {
			last = plumbing.NewHash(rev.Commit)
			deliver(rev)
		}
	}
	// Watch before the first check, so that no change between the two is missed.
	startWatch()
	check()
	timer := time.NewTimer(s.nextPoll())
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hints:
		case <-s.trigger:
		case <-timer.C:
		}
		startWatch() // a repository created after start is watched once it exists
		check()
		timer.Reset(s.nextPoll())
	}
}

// watch starts the fsnotify watcher of a local repository. Without one (the
// repository does not exist yet, inotify limits reached) the poll still works.
func (s *Source) watch(ctx context.Context) (*refWatcher, error) {
	repo, err := openLocal(s.cfg.URL)
	if err != nil {
		return nil, err
	}
	dir, err := gitDir(repo)
	if err != nil {
		return nil, err
	}
	w, err := newRefWatcher(dir, s.cfg.Branch, s.log)
	if err != nil {
		return nil, err
	}
	go w.run(ctx)
	return w, nil
}

// nextPoll is the poll interval, plus up to 20% jitter for remotes so that servers
// started together do not fetch together.
func (s *Source) nextPoll() time.Duration {
	d := s.cfg.PollInterval
	if s.remote != nil && d >= 5 {
		d += rand.N(d / 5)
	}
	return d
}

// check resolves the branch and, when its head differs from last, reads that commit.
// It returns ok=false when there is nothing new to deliver, or on failure (recorded in
// the status; the consumer keeps what it has).
func (s *Source) check(ctx context.Context, last plumbing.Hash) (api.Revision, bool) {
	var (
		rev  api.Revision
		head plumbing.Hash
		read bool
	)
	err := s.withRepo(ctx, true, func(repo *git.Repository) error {
		ref, err := repo.Reference(plumbing.NewBranchReferenceName(s.cfg.Branch), true)
		if errors.Is(err, plumbing.ErrReferenceNotFound) {
			return fmt.Errorf("%w: %s", ErrBranchNotFound, s.cfg.Branch)
		}
		if err != nil {
			return fmt.Errorf("resolve branch %s: %w", s.cfg.Branch, err)
		}
		head = ref.Hash()
		if head == last {
			return nil
		}
		rev, err = s.reader(repo).revision(head)
		if err == nil && rev.Valid() && s.trust.required() && !s.cfg.AllowRollback {
			if fe := checkDescent(repo.Storer, head, s.appliedCommit()); fe != nil {
				rev.Objects, rev.Errors = api.Manifests{}, []api.FieldError{*fe}
			}
		}
		read = err == nil
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return api.Revision{}, false
		}
		if s.setStatus("", err) {
			s.log.Warn("git source check failed; keeping the last revision", "err", err)
		}
		return api.Revision{}, false
	}
	if s.setStatus(head.String(), nil) {
		s.log.Info("git source healthy", "head", head.String())
	}
	if !read {
		return api.Revision{}, false
	}
	s.log.Info("new revision", "commit", rev.Commit, "valid", rev.Valid(), "errors", len(rev.Errors))
	s.noteDelivered(rev)
	return rev, true
}

// withRepo runs fn on a repository handle of its own: a fresh handle on a local
// repository, or the clone of a remote under the clone's lock, after fetching the
// watched branch (branchOnly) or every branch and tag.
func (s *Source) withRepo(ctx context.Context, branchOnly bool, fn func(*git.Repository) error) error {
	if s.remote == nil {
		repo, err := openLocal(s.cfg.URL)
		if err != nil {
			return err
		}
		return fn(repo)
	}
	spec := allSpec
	if branchOnly {
		spec = s.remote.branchSpec()
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	return s.remote.with(ctx, spec, fn)
}

// fetchTimeout bounds one fetch so that a hung remote cannot stall the loop forever.
const fetchTimeout = 2 * time.Minute

func (s *Source) reader(repo *git.Repository) reader {
	return reader{objects: repo.Storer, path: s.cfg.Path, trust: s.trust}
}

// setStatus records the outcome of a check and reports whether the condition
// changed, so that a remote that stays down is logged once, not at every poll.
func (s *Source) setStatus(head string, err error) (changed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status.CheckedAt = time.Now()
	if err != nil {
		msg := api.RedactURLs(err.Error())
		changed = s.status.Healthy || s.status.Message != msg
		s.status.Healthy = false
		s.status.Message = msg
		return changed
	}
	changed = !s.status.Healthy
	s.status.Healthy = true
	s.status.Message = ""
	s.status.Head = head
	return changed
}

// Read decodes any revision (branch, tag, commit hash, "main~1", ...) under the same
// path and signature policy as the watched branch, for `keelson plan`. A remote is
// fetched first (all branches and tags) so that the answer is current. It does not need
// Run and does not change Status.
func (s *Source) Read(ctx context.Context, rev string) (api.Revision, error) {
	var out api.Revision
	err := s.withRepo(ctx, false, func(repo *git.Repository) error {
		h, err := repo.ResolveRevision(plumbing.Revision(rev))
		if err != nil {
			return fmt.Errorf("resolve %q: %w", rev, err)
		}
		out, err = s.reader(repo).revision(*h)
		return err
	})
	if err != nil {
		return api.Revision{}, fmt.Errorf("gitsource: read %s: %w", rev, err)
	}
	return out, nil
}
