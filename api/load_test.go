package api

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLoadDir(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	write := func(path, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "a.yaml"), "a")
	write(filepath.Join(root, "sub", "b.yml"), "b")
	write(filepath.Join(root, "sub", "c.JSON"), "c")
	write(filepath.Join(root, "readme.md"), "skipped: not a manifest")
	write(filepath.Join(root, ".github", "ci.yaml"), "skipped: dot-directory")
	write(filepath.Join(root, ".pre-commit-config.yaml"), "skipped: dot-file")
	write(filepath.Join(root, "big.yaml"), strings.Repeat("#", MaxFileSize+1))
	write(filepath.Join(outside, "secret.yaml"), "secret")
	if err := os.Symlink(filepath.Join(outside, "secret.yaml"), filepath.Join(root, "escape.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.yaml", filepath.Join(root, "link.yaml")); err != nil {
		t.Fatal(err)
	}

	files, errs := LoadDir(root)
	var got []string
	for _, f := range files {
		got = append(got, f.Path+"="+string(f.Data))
	}
	if diff := cmp.Diff([]string{"a.yaml=a", "link.yaml=a", "sub/b.yml=b", "sub/c.JSON=c"}, got); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	var gotErrs []string
	for _, e := range errs {
		gotErrs = append(gotErrs, e.Error())
	}
	wantErrs := []string{
		"big.yaml: file is larger than the 4194304 bytes limit",
		"escape.yaml: symlink points outside the manifests root",
	}
	if diff := cmp.Diff(wantErrs, gotErrs); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}

	single, errs := LoadDir(filepath.Join(root, "sub", "b.yml"))
	if len(errs) != 0 || len(single) != 1 || single[0].Path != "b.yml" {
		t.Errorf("single file: %v %v", single, errs)
	}
	if _, errs := LoadDir(filepath.Join(root, "missing")); len(errs) != 1 {
		t.Errorf("missing root: %v", errs)
	}
}
