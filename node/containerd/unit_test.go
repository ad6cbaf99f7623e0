package containerd

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/containerd/oci"
)

func TestSeekTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	content := "one\ntwo\nthree\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	for n, want := range map[int]string{1: "three\n", 2: "two\nthree\n", 3: content, 10: content} {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := seekTail(f, n); err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(f)
		_ = f.Close()
		if string(got) != want {
			t.Errorf("tail %d = %q, want %q", n, got, want)
		}
	}
}

func TestSeekTailLongFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	line := strings.Repeat("x", 999) + "\n"
	if err := os.WriteFile(path, []byte(strings.Repeat(line, 200)+"last"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := seekTail(f, 100); err != nil { // crosses several 32 KiB blocks
		t.Fatal(err)
	}
	got, _ := io.ReadAll(f)
	if want := strings.Repeat(line, 99) + "last"; string(got) != want {
		t.Errorf("tail 100: got %d bytes, want %d", len(got), len(want))
	}
}

func TestIDs(t *testing.T) {
	uid := "0b8f4a2e-1c7d-4e55-9a0b-3f2d1e6c7a89"
	id := containerID(uid, "web", 2)
	if !validID(id) || !strings.HasSuffix(id, "-web-2") {
		t.Errorf("containerID = %q", id)
	}
	if containerID(uid, "web", 2) != id || containerID(uid, "web", 3) == id || containerID("other", "web", 2) == id {
		t.Error("containerID is not deterministic and distinct per (uid, name, attempt)")
	}
	long := containerID(uid, strings.Repeat("a", 63), 123456)
	if !validID(long) {
		t.Errorf("long name gives invalid ID %q", long)
	}
	if odd := containerID(uid, "a--b", 0); !validID(odd) {
		t.Errorf("name with a double dash gives invalid ID %q", odd)
	}
	if sandboxID(uid) != uid {
		t.Errorf("a UUID should be its own sandbox ID, got %q", sandboxID(uid))
	}
	if s := sandboxID("weird/uid"); !validID(s) {
		t.Errorf("sandboxID(weird/uid) = %q is not a valid ID", s)
	}
	for _, bad := range []string{"", "-a", "a-", "a..b", "a/b", strings.Repeat("a", 77)} {
		if validID(bad) {
			t.Errorf("validID(%q) = true", bad)
		}
	}
}

func TestWithArgsKubernetesRules(t *testing.T) {
	ep, cmd := []string{"/ep"}, []string{"--default"}
	cases := []struct {
		command, args, want []string
	}{
		{nil, nil, []string{"/ep", "--default"}},
		{nil, []string{"x"}, []string{"/ep", "x"}},
		{[]string{"/bin/other"}, nil, []string{"/bin/other"}},
		{[]string{"/bin/other"}, []string{"y"}, []string{"/bin/other", "y"}},
	}
	for _, c := range cases {
		var s oci.Spec
		if err := withArgs(ep, cmd, c.command, c.args)(nil, nil, nil, &s); err != nil {
			t.Fatal(err)
		}
		if got := s.Process.Args; strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("command %q args %q: argv %q, want %q", c.command, c.args, got, c.want)
		}
	}
	if err := withArgs(nil, nil, nil, nil)(nil, nil, nil, &oci.Spec{}); err == nil {
		t.Error("no command at all should be an error")
	}
}
