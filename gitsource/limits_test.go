package gitsource

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson/api"
)

// A commit whose manifests pass the revision size limit is refused at the file that
// passes it, and nothing after it is read (a later file's garbage is not reported).
func TestRevisionSizeLimitStopsReading(t *testing.T) {
	r := newRepos(t)
	files := map[string]string{"z-garbage.yaml": "{"}
	big := "# " + strings.Repeat("x", MaxManifestSize-200) + "\n"
	for i := range 9 {
		files[fmt.Sprintf("f%d.yaml", i)] = big
	}
	head := r.commit("too big", files)
	r.push("main")
	rev := start(t, newLocal(t, Config{URL: r.bare})).waitFor(t, head, 30*time.Second)
	var got []string
	for _, e := range rev.Errors {
		got = append(got, e.Error())
	}
	want := api.RevisionTooLarge("f8.yaml").Error()
	if len(got) != 1 || got[0] != want {
		t.Fatalf("errors %q, want only %q", got, want)
	}
}
