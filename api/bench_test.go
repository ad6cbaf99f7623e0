package api

import "testing"

// BenchmarkDecodeExample measures decoding the example repository (5 objects), the
// common size of a small app's revision.
func BenchmarkDecodeExample(b *testing.B) {
	files, errs := LoadDir("../manifests-example")
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, errs := Decode(files); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}
