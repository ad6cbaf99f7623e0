package gitsource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// debounce is how long a ref change is left to settle before the branch is resolved.
// git writes refs/heads/B.lock and renames it, and rewrites packed-refs the same way;
// a few milliseconds coalesce the burst of one push without hurting latency.
const debounce = 10 * time.Millisecond

// refWatcher turns filesystem events on a branch's ref into "look again" hints. The
// events are only hints: the branch is always re-resolved through git, and a slow poll
// runs beside it, so a missed or merged event costs latency, never correctness.
type refWatcher struct {
	w       *fsnotify.Watcher
	gitDir  string
	refFile string   // gitDir/refs/heads/<branch>
	packed  string   // gitDir/packed-refs
	dirs    []string // gitDir, refs, refs/heads, and every parent of a nested branch
	changed chan struct{}
	log     *slog.Logger
}

func newRefWatcher(gitDir, branch string, log *slog.Logger) (*refWatcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("fsnotify: %w", err)
	}
	rw := &refWatcher{
		w:       w,
		gitDir:  gitDir,
		refFile: filepath.Join(gitDir, "refs", "heads", filepath.FromSlash(branch)),
		packed:  filepath.Join(gitDir, "packed-refs"),
		changed: make(chan struct{}, 1),
		log:     log,
	}
	for d := filepath.Dir(rw.refFile); ; d = filepath.Dir(d) {
		rw.dirs = append(rw.dirs, d)
		if d == gitDir || len(d) <= len(gitDir) {
			break
		}
	}
	if err := rw.addWatches(); err != nil {
		w.Close()
		return nil, err
	}
	return rw, nil
}

// addWatches watches every directory on the way to the ref that exists now. A nested
// branch directory (refs/heads/team/) appears and disappears with its branches, so
// this runs again after every event.
func (rw *refWatcher) addWatches() error {
	for _, d := range rw.dirs {
		err := rw.w.Add(d)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			continue
		}
		if d == rw.gitDir {
			return fmt.Errorf("watch %s: %w", d, err)
		}
		rw.log.Warn("cannot watch ref directory; relying on polling", "dir", d, "err", err)
	}
	return nil
}

// relevant reports whether an event path can change what the branch resolves to: the
// ref itself, packed-refs, or a directory on the way to the ref (created or removed
// with a nested branch). Lock files are skipped: the rename that follows them is the
// event that matters.
func (rw *refWatcher) relevant(p string) bool {
	if strings.HasSuffix(p, ".lock") {
		return false
	}
	return p == rw.refFile || p == rw.packed || strings.HasPrefix(rw.refFile, p+string(filepath.Separator))
}

// run forwards debounced hints on rw.changed until ctx ends, then closes the watcher.
// Overflow (the kernel dropped events) is a hint too: the branch is simply re-resolved.
func (rw *refWatcher) run(ctx context.Context) {
	defer rw.w.Close()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	pending := false
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-rw.w.Events:
			if !ok {
				return
			}
			if !rw.relevant(ev.Name) {
				continue
			}
			if !pending {
				pending = true
				timer.Reset(debounce)
			}
		case err, ok := <-rw.w.Errors:
			if !ok {
				return
			}
			if !errors.Is(err, fsnotify.ErrEventOverflow) {
				rw.log.Warn("fsnotify error; rescanning", "err", err)
			}
			if !pending {
				pending = true
				timer.Reset(debounce)
			}
		case <-timer.C:
			pending = false
			if err := rw.addWatches(); err != nil {
				rw.log.Warn("re-adding ref watches", "err", err)
			}
			select {
			case rw.changed <- struct{}{}:
			default: // a hint is already waiting: coalesce
			}
		}
	}
}
