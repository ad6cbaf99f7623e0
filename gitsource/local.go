package gitsource

import (
	"fmt"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// openLocal opens a local repository (bare or not) in place. Every check opens a fresh
// handle: git outside this process may repack at any time, and a long-lived go-git
// handle caches the list of packfiles and would then miss objects. A fresh handle per
// check also means no handle is ever shared between goroutines.
func openLocal(dir string) (*git.Repository, error) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	return repo, nil
}

// gitDir returns the directory that holds refs/ and packed-refs: dir itself for a bare
// repository, dir/.git otherwise.
func gitDir(repo *git.Repository) (string, error) {
	st, ok := repo.Storer.(*filesystem.Storage)
	if !ok {
		return "", fmt.Errorf("repository is not on a filesystem")
	}
	return st.Filesystem().Root(), nil
}
