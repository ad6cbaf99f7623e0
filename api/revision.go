package api

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// File is one manifest file as read from a directory or a Git tree. Path is relative to
// the manifests root and uses forward slashes.
type File struct {
	Path string
	Data []byte
}

// Position locates a field in a manifest file (1-based; Column 0 when unknown).
type Position struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column,omitempty"`
}

func (p Position) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Column == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	default:
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
	}
}

// FieldError is one problem found in the desired state.
type FieldError struct {
	Pos Position `json:"pos"`
	// Object is "Kind/name" (or "Kind/namespace/name" when not default); "" when the
	// problem is not inside an object (unreadable file, bad YAML).
	Object string `json:"object,omitempty"`
	// Field is the path of the offending field, e.g. "spec.containers[0].image".
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Error formats "path:line:col: Kind/name: field: message".
func (e FieldError) Error() string {
	s := e.Pos.String() + ": "
	if e.Object != "" {
		s += e.Object + ": "
	}
	if e.Field != "" {
		s += e.Field + ": "
	}
	return s + e.Message
}

// Source is where a desired object was defined.
type Source struct {
	File string `json:"file"`
	Line int    `json:"line"`
}

// Manifests is the decoded, defaulted and validated desired state of one revision.
// Each list is sorted by namespace/name.
type Manifests struct {
	Pods                   []corev1.Pod                   `json:"pods,omitempty"`
	Services               []corev1.Service               `json:"services,omitempty"`
	ReplicationControllers []corev1.ReplicationController `json:"replicationControllers,omitempty"`
	// Sources maps an object key ("Kind/namespace/name") to where it was defined.
	Sources map[string]Source `json:"sources,omitempty"`
}

// Revision is one commit of the desired-state branch.
type Revision struct {
	Commit    string    `json:"commit"`
	Parent    string    `json:"parent,omitempty"`
	Author    string    `json:"author"`    // "Name <email>"
	Committer string    `json:"committer"` // "Name <email>"
	Message   string    `json:"message"`
	Time      time.Time `json:"time"` // commit time
	// Objects is the desired state; meaningful only when Errors is empty.
	Objects Manifests `json:"objects"`
	// Errors lists every problem; a revision with errors is refused as a whole.
	Errors []FieldError `json:"errors,omitempty"`
}

// Valid reports whether the revision may be applied.
func (r *Revision) Valid() bool { return len(r.Errors) == 0 }

// RefusedRevision records a commit that was not applied and why.
type RefusedRevision struct {
	Commit  string       `json:"commit"`
	Author  string       `json:"author"`
	Message string       `json:"message"`
	Time    time.Time    `json:"time"`
	Errors  []FieldError `json:"errors"`
	// Reason is a one-line summary, e.g. "3 invalid objects" or "unsigned commit".
	Reason string `json:"reason"`
}

// SourceStatus is the condition of the Git source (reachable, branch present, ...).
type SourceStatus struct {
	URL       string    `json:"url"`
	Branch    string    `json:"branch"`
	Path      string    `json:"path,omitempty"`
	Head      string    `json:"head,omitempty"` // last commit seen on the branch
	Healthy   bool      `json:"healthy"`
	Message   string    `json:"message,omitempty"` // e.g. "branch main not found", "fetch: connection refused"
	CheckedAt time.Time `json:"checkedAt"`
}
