package gitsource

import (
	"context"
	"strings"
	"testing"
)

func TestReadFileAtCommitUnderPath(t *testing.T) {
	r := newRepos(t)
	first := r.commit("first", map[string]string{"deploy/pod.yaml": pod("one"), "README.md": "not a manifest\n"})
	second := r.commit("second", map[string]string{"deploy/pod.yaml": pod("two")})
	r.push("main")

	src := newLocal(t, Config{URL: r.bare, Path: "deploy"})
	ctx := context.Background()
	for commit, want := range map[string]string{first: "name: one", second: "name: two"} {
		got, err := src.ReadFile(ctx, commit, "pod.yaml")
		if err != nil {
			t.Fatalf("ReadFile(%s): %v", commit[:8], err)
		}
		if !strings.Contains(string(got), want) {
			t.Errorf("ReadFile(%s) = %q, want it to contain %q", commit[:8], got, want)
		}
	}
	// Outside the manifests directory, and missing files, are errors naming the file.
	for _, name := range []string{"README.md", "nope.yaml"} {
		if _, err := src.ReadFile(ctx, second, name); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("ReadFile(%s) error = %v, want one naming it", name, err)
		}
	}
}
