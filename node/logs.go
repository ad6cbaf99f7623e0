package node

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/pki"
)

// LogHandler serves GET api.PathAgentLogs+"{podUID}/{container}?follow=&tail=" from
// the runtime's log of the container's newest attempt. The servers proxy `keelson
// logs` here over mutual TLS: only a server certificate from the cluster CA is
// admitted (checked by the listener's TLS config and again here).
func (a *Agent) LogHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.PathAgentLogs+"{uid}/{container}", a.serveLogs)
	return mux
}

func (a *Agent) serveLogs(w http.ResponseWriter, r *http.Request) {
	if id, ok := pki.PeerIdentity(r.TLS); !ok || id.Role != pki.RoleServer {
		writeError(w, http.StatusForbidden, "only a server certificate may read logs here")
		return
	}
	uid, name := r.PathValue("uid"), r.PathValue("container")
	q := r.URL.Query()
	opts := LogOptions{}
	if v := q.Get("follow"); v != "" {
		f, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "follow: "+err.Error())
			return
		}
		opts.Follow = f
	}
	if v := q.Get("tail"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "tail must be a non-negative number")
			return
		}
		opts.Tail = n
	}
	ctrs, err := a.cfg.Runtime.ListContainers(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "list containers: "+err.Error())
		return
	}
	var id string
	attempt := int32(-1)
	for _, c := range ctrs {
		if c.PodUID == uid && c.Name == name && c.Attempt > attempt {
			id, attempt = c.ID, c.Attempt
		}
	}
	if id == "" {
		writeError(w, http.StatusNotFound, "no container "+name+" in pod "+uid+" on this node")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fw := &flushWriter{w: w}
	fw.f, _ = w.(http.Flusher)
	if err := a.cfg.Runtime.Logs(r.Context(), id, fw, opts); err != nil && r.Context().Err() == nil {
		if !fw.wrote {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		a.log.Warn("streaming logs", "pod", uid, "container", name, "err", err)
	}
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(api.ErrorResponse{Error: msg})
}

// flushWriter flushes after every write so `logs -f` streams line by line.
type flushWriter struct {
	w     io.Writer
	f     http.Flusher
	wrote bool
}

func (fw *flushWriter) Write(p []byte) (int, error) {
	n, err := fw.w.Write(p)
	fw.wrote = fw.wrote || n > 0
	if fw.f != nil {
		fw.f.Flush()
	}
	return n, err
}

// rotateLogs rotates the current attempts' log files that grew past LogMaxBytes.
func (w *podWorker) rotateLogs() {
	for name, cs := range w.ctrs {
		if cs.id == "" || cs.info.LogPath == "" {
			continue
		}
		if err := rotateLog(cs.info.LogPath, w.deps.LogMaxBytes); err != nil {
			w.log.Warn("rotate log", "container", name, "err", err)
		}
	}
}

// rotateLog keeps a log file under max bytes by copying it to path+".1" (replacing
// the older copy) and truncating it in place. Copy-and-truncate needs no cooperation
// from the runtime, which keeps writing through its O_APPEND descriptor; the price is
// that lines written during the copy may be lost, as with logrotate's copytruncate.
func rotateLog(path string, max int64) error {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.Size() <= max {
		return nil
	}
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(path+".1", os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	return os.Truncate(path, 0)
}
