package devenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// gitIdentity gives commits a fixed identity and hides the user's git config, so tests
// behave the same on a fresh machine.
var gitIdentity = []string{
	"GIT_AUTHOR_NAME=Keelson Test", "GIT_AUTHOR_EMAIL=test@keelson.invalid",
	"GIT_COMMITTER_NAME=Keelson Test", "GIT_COMMITTER_EMAIL=test@keelson.invalid",
	"GIT_CONFIG_NOSYSTEM=1", "HOME=" + os.TempDir(),
}

// Git runs the real git command in dir and returns its trimmed output.
func Git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), gitIdentity...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// Repo is a bare repository (the push target the cluster watches) and a work tree
// cloned from it, as a user would have.
type Repo struct {
	Bare string
	Work string
}

// NewRepo creates dir/repo.git and its clone dir/work: see NewRepoAt.
func NewRepo(dir, seedDir string) (*Repo, error) {
	return NewRepoAt(filepath.Join(dir, "repo.git"), filepath.Join(dir, "work"), seedDir)
}

// NewRepoAt creates a bare repository with branch main and a clone of it, seeded with
// the files of seedDir (if not empty) in a first commit pushed to main.
func NewRepoAt(bare, work, seedDir string) (*Repo, error) {
	r := &Repo{Bare: bare, Work: work}
	dir := filepath.Dir(bare)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if _, err := Git(dir, "init", "-q", "--bare", "-b", "main", r.Bare); err != nil {
		return nil, err
	}
	if _, err := Git(dir, "clone", "-q", r.Bare, r.Work); err != nil {
		return nil, err
	}
	if _, err := Git(r.Work, "checkout", "-q", "-B", "main"); err != nil {
		return nil, err
	}
	if seedDir != "" {
		if err := os.CopyFS(r.Work, os.DirFS(seedDir)); err != nil {
			return nil, fmt.Errorf("seed %s: %w", seedDir, err)
		}
		if _, err := r.Commit("seed from " + filepath.Base(seedDir)); err != nil {
			return nil, err
		}
		if err := r.Push(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// WriteFile writes a file in the work tree (path relative to it).
func (r *Repo) WriteFile(rel, content string) error {
	p := filepath.Join(r.Work, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, []byte(content), 0o644)
}

// Remove deletes a file from the work tree.
func (r *Repo) Remove(rel string) error { return os.Remove(filepath.Join(r.Work, rel)) }

// Commit stages everything and commits; it returns the new commit id.
func (r *Repo) Commit(msg string) (string, error) {
	if _, err := Git(r.Work, "add", "-A"); err != nil {
		return "", err
	}
	if _, err := Git(r.Work, "commit", "-q", "--allow-empty", "-m", msg); err != nil {
		return "", err
	}
	return Git(r.Work, "rev-parse", "HEAD")
}

// Push pushes main to the bare repository with the real git command.
func (r *Repo) Push() error {
	_, err := Git(r.Work, "push", "-q", "origin", "HEAD:main")
	return err
}

// CommitAndPush is Commit followed by Push.
func (r *Repo) CommitAndPush(msg string) (string, error) {
	sha, err := r.Commit(msg)
	if err != nil {
		return "", err
	}
	return sha, r.Push()
}
