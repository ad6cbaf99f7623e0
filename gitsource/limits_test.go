package gitsource

import (
	"fmt"
	"strings"
	"testing"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/keelson/keelson/api"
)

// Reading a commit stops at the blob that passes the revision size limit: it is
// reported and neither it nor the blobs after it are read (a 10 KiB limit here, so the
// test stays fast; the walk is the one every revision uses).
func TestRevisionSizeLimitStopsReading(t *testing.T) {
	r := newRepos(t)
	files := map[string]string{}
	for i := range 5 {
		files[fmt.Sprintf("f%d.yaml", i)] = "# " + strings.Repeat("x", 3000) + "\n"
	}
	head := r.commit("too big", files)
	repo, err := git.PlainOpen(r.work)
	if err != nil {
		t.Fatal(err)
	}
	c, err := object.GetCommit(repo.Storer, plumbing.NewHash(head))
	if err != nil {
		t.Fatal(err)
	}
	tree, err := c.Tree()
	if err != nil {
		t.Fatal(err)
	}
	w := walk{limit: 10 << 10}
	if err := w.tree(repo.Storer, tree, ""); err != nil {
		t.Fatal(err)
	}
	var read []string
	for _, f := range w.files {
		read = append(read, f.Path)
	}
	if strings.Join(read, ",") != "f0.yaml,f1.yaml,f2.yaml" {
		t.Errorf("read %v, want the three files under 10 KiB", read)
	}
	if len(w.problems) != 1 || w.problems[0] != api.RevisionTooLarge("f3.yaml") {
		t.Errorf("problems %v, want the limit reported at f3.yaml only", w.problems)
	}
}
