package printers

import (
	"github.com/keelson/keelson/api"
)

// Events renders `keelson events`, oldest first like kubectl.
func Events(evs []api.Event, o Options) *Table {
	t := &Table{}
	t.Row("LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE")
	for i := range evs {
		t.Row(EventRow(&evs[i], o)...)
	}
	return t
}

// EventRow is one event's row.
func EventRow(e *api.Event, o Options) []string {
	return []string{Age(o.Now, e.Time), string(e.Type), e.Reason, e.Object, e.Message}
}
