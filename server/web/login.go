package web

import (
	"html/template"
	"net/http"
	"net/url"
	"time"
)

var loginPage = template.Must(template.ParseFS(assets, "assets/login.html"))

type loginData struct {
	Error string
}

func (h *Handler) renderLogin(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if err := loginPage.Execute(w, loginData{Error: msg}); err != nil {
		h.log.Warn("web: render login page", "err", err)
	}
}

// handleLoginPage shows the form, or goes straight to the page when the visitor is
// already let in (a valid session, or a read API without a read token).
func (h *Handler) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	if code, _ := h.probe(r, h.credential(r)); code == http.StatusOK {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	h.renderLogin(w, http.StatusOK, "")
}

// handleLogin checks the posted token against the read API and, when it is accepted,
// sets the session cookie.
func (h *Handler) handleLogin(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "login from another site refused", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 2*maxToken)
	if err := r.ParseForm(); err != nil {
		h.renderLogin(w, http.StatusBadRequest, "The form could not be read.")
		return
	}
	token := r.PostForm.Get("token")
	switch {
	case token == "":
		h.renderLogin(w, http.StatusBadRequest, "Enter the cluster's read token.")
		return
	case len(token) > maxToken:
		h.renderLogin(w, http.StatusBadRequest, "That token is too long.")
		return
	}
	code, msg := h.probe(r, "Bearer "+token)
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		h.renderLogin(w, http.StatusForbidden, "This token is not accepted by the read API.")
		return
	case code != http.StatusOK:
		h.renderLogin(w, http.StatusBadGateway, "The read API answered "+http.StatusText(code)+": "+msg)
		return
	}
	v, exp, err := h.sessions.seal(token)
	if err != nil {
		h.renderLogin(w, http.StatusInternalServerError, "Could not start a session.")
		return
	}
	http.SetCookie(w, sessionCookie(r, v, exp))
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

func (h *Handler) handleLogout(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "logout from another site refused", http.StatusForbidden)
		return
	}
	http.SetCookie(w, sessionCookie(r, "", time.Time{}))
	http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
}

// sameOrigin refuses a form posted by another site's page (login CSRF). Browsers say
// where a request comes from in Sec-Fetch-Site (and Origin); a request with neither
// (curl) is not a browser being misled.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin" || site == "none"
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}
