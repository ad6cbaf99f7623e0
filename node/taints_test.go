package node

import "testing"

func TestParseTaints(t *testing.T) {
	got, err := ParseTaints([]string{"dedicated=db:NoSchedule", "maintenance:NoExecute"})
	if err != nil || len(got) != 2 || got[0].Key != "dedicated" || got[0].Value != "db" || got[0].Effect != "NoSchedule" ||
		got[1].Key != "maintenance" || got[1].Value != "" || got[1].Effect != "NoExecute" {
		t.Fatalf("ParseTaints = %+v, %v", got, err)
	}
	for _, bad := range []string{"dedicated=db", "k=v:Sometimes", "bad key:NoSchedule", "k=v:NoSchedule,k=w:NoSchedule"} {
		specs := []string{bad}
		if bad == "k=v:NoSchedule,k=w:NoSchedule" {
			specs = []string{"k=v:NoSchedule", "k=w:NoSchedule"}
		}
		if _, err := ParseTaints(specs); err == nil {
			t.Errorf("ParseTaints(%q) accepted", specs)
		}
	}
}
