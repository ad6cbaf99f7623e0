package raftstore

import (
	"strings"
	"testing"

	"github.com/keelson/keelson/api"
)

// A batch of replicas carries their template's spec once; every stored replica has it.
func TestApplyChangesCarriesSpecOnce(t *testing.T) {
	pods := templatePods(3)
	bare := pod("bare", "n2") // no SpecHash: always carries its spec
	pods = append(pods, bare)
	data, err := ApplyChangesCmd(api.Changes{UpsertPods: pods}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), `"image":"img:1"`); n != 2 {
		t.Fatalf("the entry carries the image %d times, want 2 (template once, bare pod once)", n)
	}
	if pods[2].Spec.Containers == nil {
		t.Fatal("encoding modified the caller's pods")
	}
	f := NewFSM(nil, 0)
	mustApply(t, f, ApplyChangesCmd(api.Changes{UpsertPods: pods}))
	for _, p := range f.State().Pods() {
		if len(p.Spec.Containers) != 1 || p.Spec.Containers[0].Image != "img:1" {
			t.Errorf("pod %s spec = %+v", p.UID, p.Spec)
		}
	}
}
