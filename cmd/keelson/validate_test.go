package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runValidate runs `keelson validate args...` and returns its output and exit code.
func runValidate(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := newValidateCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	code := 0
	if err != nil {
		code = 1
		var ec *exitCodeError
		if errors.As(err, &ec) {
			code = ec.Code
		}
	}
	return out.String(), code
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestValidateExample(t *testing.T) {
	out, code := runValidate(t, "../../manifests-example")
	if code != 0 || out != "valid: 5 objects in 3 files\n" {
		t.Fatalf("exit %d, output %q", code, out)
	}
}

func TestValidateInvalid(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "apps", "pod.yaml"), "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: web\n    image: nginx\n    tty: true\n")
	writeFile(t, filepath.Join(dir, ".git", "junk.yaml"), "not: [valid")
	writeFile(t, filepath.Join(dir, "notes.txt"), "ignored")
	writeFile(t, filepath.Join(dir, "dup.json"), `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": {"containers": [{"name": "a", "image": "b"}]}}`)

	out, code := runValidate(t, dir)
	want := dir + "/apps/pod.yaml:8:5: Pod/web: spec.containers[0].tty: not supported by Keelson (see docs/fields.md)\n" +
		dir + "/dup.json:1:50: Pod/web: metadata.name: defined twice: first at " + dir + "/apps/pod.yaml:1\n"
	if code != 1 || out != want {
		t.Fatalf("exit %d, output:\n%s\nwant:\n%s", code, out, want)
	}

	out, code = runValidate(t, "-o", "json", dir+"/apps/pod.yaml", dir+"/dup.json")
	var res validateResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("json output %q: %v", out, err)
	}
	if code != 1 || res.Valid || res.Files != 2 || len(res.Errors) != 2 ||
		res.Errors[1].Pos.File != dir+"/dup.json" || !strings.HasPrefix(res.Errors[1].Message, "defined twice: first at "+dir+"/apps/pod.yaml:1") {
		t.Fatalf("exit %d, result %+v", code, res)
	}
}

func TestValidateUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-o", "yaml", "."},
		{"--nope", "."},
		{"/does/not/exist"},
	} {
		if _, code := runValidate(t, args...); code != 2 {
			t.Errorf("validate %q: exit %d, want 2", args, code)
		}
	}
}
