package printers

import (
	"time"

	"github.com/keelson/keelson/api"
)

// Options are the knobs every table shares, as kubectl's flags set them.
type Options struct {
	// Now is the clock that ages are measured from; injected so golden tests are stable.
	Now time.Time
	// Wide adds the -o wide columns.
	Wide bool
	// AllNamespaces adds a NAMESPACE column (-A).
	AllNamespaces bool
}

// withNamespace prepends the namespace to a row when -A asks for it.
func (o Options) withNamespace(ns string, row []string) []string {
	if !o.AllNamespaces {
		return row
	}
	if ns == "" {
		ns = api.DefaultNamespace
	}
	return append([]string{ns}, row...)
}
