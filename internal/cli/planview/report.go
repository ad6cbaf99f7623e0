package planview

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/keelson/keelson/api"
)

// RevInfo names one side of the comparison.
type RevInfo struct {
	Ref     string `json:"ref"`
	Commit  string `json:"commit"`
	Message string `json:"message,omitempty"`
	Author  string `json:"author,omitempty"`
}

// NewRevInfo describes a revision read for ref.
func NewRevInfo(ref string, rev *api.Revision) RevInfo {
	first, _, _ := strings.Cut(strings.TrimSpace(rev.Message), "\n")
	return RevInfo{Ref: ref, Commit: rev.Commit, Message: first, Author: rev.Author}
}

// Report is the whole answer of `keelson plan`.
type Report struct {
	Base RevInfo `json:"base"`
	Head RevInfo `json:"head"`
	// BaseErrors counts problems of the base revision: the diff is then against the
	// part of base that decoded.
	BaseErrors int `json:"baseErrors,omitempty"`
	// Errors are head's problems: a head with errors would be refused as a whole.
	Errors  []api.FieldError `json:"errors,omitempty"`
	Objects []ObjectChange   `json:"objects,omitempty"`
	// Consequences is nil when head is invalid (nothing would be applied).
	Consequences *Consequences `json:"consequences,omitempty"`
}

// Exit codes of `keelson plan`, like `terraform plan -detailed-exitcode`.
const (
	ExitNoChange = 0
	ExitInvalid  = 1
	ExitChanges  = 2
)

// ExitCode is 1 when head is invalid, 2 when it changes an object, 0 otherwise. It
// looks at the Git diff only, so a CI job gets the same answer with or without a
// server to preview against.
func (r *Report) ExitCode() int {
	switch {
	case len(r.Errors) > 0:
		return ExitInvalid
	case len(r.Objects) > 0:
		return ExitChanges
	default:
		return ExitNoChange
	}
}

func revLine(r RevInfo) string {
	s := r.Ref
	if c := short(r.Commit); c != "" && c != r.Ref {
		s += " (" + c + ")"
	}
	return s
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// JSON writes the report for machines.
func (r *Report) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encode plan: %w", err)
	}
	return nil
}

// counts is the object diff summary "1 added, 2 changed, 1 removed".
func objectSummary(objs []ObjectChange) string {
	n := map[ChangeKind]int{}
	for _, o := range objs {
		n[o.Change]++
	}
	return fmt.Sprintf("%d added, %d changed, %d removed", n[Added], n[Changed], n[Removed])
}

// diffValue keeps one field value on one line of a diff.
func diffValue(s string) string {
	if strings.ContainsAny(s, "\n\r\t") {
		return strconv.Quote(s)
	}
	return s
}

// dash is shown where a pod has no known node (previews without a server).
const dash = "–"

func nodeOrDash(node string, live bool) string {
	if node == "" || !live {
		return dash
	}
	return node
}
