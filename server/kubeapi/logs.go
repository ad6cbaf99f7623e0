package kubeapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/keelson/keelson/api"
)

// serveLog is pods/log, proxied through the server's own log path (to the agent that
// runs the pod). follow, tailLines and container are passed on; previous is refused
// because agents keep only the current run's log; timestamps, sinceSeconds and
// limitBytes are ignored (the log is sent as the agent has it).
func (h *Handler) serveLog(w http.ResponseWriter, r *http.Request, req request) {
	if h.logs == nil {
		writeStatus(w, notFound("logs are not served by this server"))
		return
	}
	q := r.URL.Query()
	if q.Get("previous") == "true" {
		writeStatus(w, badRequest("previous=true: Keelson agents keep only the log of the current run of a container"))
		return
	}
	fwd := url.Values{}
	if v := q.Get("container"); v != "" {
		fwd.Set("container", v)
	}
	if q.Get("follow") == "true" {
		fwd.Set("follow", "true")
	}
	if v := q.Get("tailLines"); v != "" {
		fwd.Set("tail", v)
	}
	sw := &statusWriter{ResponseWriter: w}
	h.logs(sw, r, req.namespace, req.name, fwd)
	sw.finish()
}

// statusWriter passes a log stream through and turns the Keelson API's JSON error
// answers into Kubernetes Status objects, which kubectl prints as "Error from server".
type statusWriter struct {
	http.ResponseWriter
	code int
	body bytes.Buffer
}

func (s *statusWriter) WriteHeader(code int) {
	if code >= 400 {
		s.code = code
		return
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code != 0 {
		return s.body.Write(b)
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok && s.code == 0 {
		f.Flush()
	}
}

func (s *statusWriter) finish() {
	if s.code == 0 {
		return
	}
	var e api.ErrorResponse
	msg := s.body.String()
	if json.Unmarshal(s.body.Bytes(), &e) == nil && e.Error != "" {
		msg = e.Error
	}
	reason := metav1.StatusReasonUnknown
	switch s.code {
	case http.StatusNotFound:
		reason = metav1.StatusReasonNotFound
	case http.StatusBadRequest:
		reason = metav1.StatusReasonBadRequest
	case http.StatusServiceUnavailable:
		reason = metav1.StatusReasonServiceUnavailable
	}
	s.ResponseWriter.Header().Del("Content-Type")
	writeStatus(s.ResponseWriter, &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: int32(s.code), Reason: reason, Message: msg,
	}})
}
