package kubeapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"

	"github.com/keelson/keelson/api"
)

// serializer encodes every answer. Objects carry their TypeMeta (set where they are
// built), so no scheme is needed to name them.
var serializer = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, nil, nil, kjson.SerializerOptions{})

// writeObject answers obj as JSON.
func writeObject(w http.ResponseWriter, code int, obj runtime.Object) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = serializer.Encode(obj, w)
}

// writeJSON answers a document that is not an API object (/version).
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// rawOf encodes obj for embedding (Table rows, watch events).
func rawOf(obj runtime.Object) runtime.RawExtension {
	b, err := runtime.Encode(serializer, obj)
	if err != nil {
		return runtime.RawExtension{}
	}
	return runtime.RawExtension{Raw: b}
}

// writeStatus answers a Kubernetes Status built by apimachinery's error constructors.
func writeStatus(w http.ResponseWriter, err *apierrors.StatusError) {
	st := err.Status()
	st.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	writeObject(w, int(st.Code), &st)
}

func notFound(msg string) *apierrors.StatusError {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound, Message: msg,
	}}
}

func objectNotFound(resource, name string) *apierrors.StatusError {
	return apierrors.NewNotFound(schema.GroupResource{Resource: resource}, name)
}

func badRequest(msg string) *apierrors.StatusError { return apierrors.NewBadRequest(msg) }

// gone is the answer to a resourceVersion (or continue token) older than what this
// server still holds: clients relist.
func gone(msg string) *apierrors.StatusError {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusGone, Reason: metav1.StatusReasonExpired, Message: msg,
	}}
}

// refusedSubresources are answered 405 even for GET: exec, attach and port-forward
// open streams into pods (kubectl 1.32 starts them with a GET websocket upgrade);
// scale and eviction exist only to be written.
var refusedSubresources = map[string]bool{
	"exec": true, "attach": true, "portforward": true, "proxy": true, "eviction": true, "scale": true,
	"binding": true, "ephemeralcontainers": true, "resize": true,
}

// refuseWrite answers a write verb with a 405 Status whose message says where desired
// state is changed: a commit to the Git repository. Nothing is changed.
func (h *Handler) refuseWrite(w http.ResponseWriter, r *http.Request) {
	src := h.store.Snapshot().Source()
	writeStatus(w, &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusMethodNotAllowed, Reason: metav1.StatusReasonMethodNotAllowed,
		Message: readOnlyMessage(r.Method, r.URL.Path, src),
	}})
}

// readOnlyMessage names the repository and branch (credentials removed) to commit to.
func readOnlyMessage(method, path string, src api.SourceStatus) string {
	where := "the cluster's Git repository"
	if src.URL != "" {
		where = redactURL(src.URL)
		if src.Branch != "" {
			where += " (branch " + src.Branch + ")"
		}
		if src.Path != "" {
			where += " under " + src.Path
		}
	}
	return "Keelson is read-only through this API (" + method + " " + path + " refused): " +
		"desired state comes only from Git. Commit the change to " + where + " and push; " +
		"`keelson plan` previews what it will do"
}

// redactURL drops the user information (tokens, passwords) of a repository URL; other
// forms (scp-like git@host:path, local paths) carry no password and are kept.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		if i := strings.Index(raw, "@"); i >= 0 && strings.Contains(raw[:i], ":") && !strings.Contains(raw[:i], "/") {
			return raw[i+1:] // user:password@host:path
		}
		return raw
	}
	u.User = nil
	u.RawQuery = ""
	return u.String()
}
