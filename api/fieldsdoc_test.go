package api

import (
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/fields.md from the supported-fields table")

// TestFieldsDoc keeps docs/fields.md equal to the table the decoder enforces.
func TestFieldsDoc(t *testing.T) {
	const path = "../docs/fields.md"
	want := FieldsMarkdown()
	if *update {
		if err := os.MkdirAll("../docs", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v (run: go test ./api -run TestFieldsDoc -update)", path, err)
	}
	if string(got) != want {
		t.Fatalf("%s is out of date: run go test ./api -run TestFieldsDoc -update", path)
	}
}

// TestFieldRulesAreDecodable catches typos in the table: every rule path must name a
// real field of its kind's Go type.
func TestFieldRulesAreDecodable(t *testing.T) {
	for _, k := range SupportedFields() {
		for _, r := range k.Rules {
			if !pathExists(objectType(k.Kind), r.Path) {
				t.Errorf("%s: %s is not a field of %s", k.Kind, r.Path, objectType(k.Kind))
			}
		}
	}
}

func pathExists(t reflect.Type, path string) bool {
	for _, seg := range pathSegments(path) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch {
		case seg == "[*]":
			if t.Kind() != reflect.Slice {
				return false
			}
			t = t.Elem()
		case strings.HasPrefix(seg, "["):
			if t.Kind() != reflect.Map {
				return false
			}
			t = t.Elem()
		default:
			if t.Kind() != reflect.Struct {
				return false
			}
			ft, ok := jsonFields(t)[seg]
			if !ok {
				return false
			}
			t = ft
		}
	}
	return true
}

// pathSegments splits "a.b[*].c[key]" into "a", "b", "[*]", "c", "[key]".
func pathSegments(path string) []string {
	var segs []string
	prev := 0
	for _, p := range pathPrefixes(path) {
		seg := strings.TrimPrefix(p[prev:], ".")
		prev = len(p)
		segs = append(segs, seg)
	}
	return segs
}
