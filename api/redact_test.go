package api

import (
	"net/url"
	"strings"
	"testing"
)

func TestRedactURLs(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"https://git.example/app.git", "https://git.example/app.git"},
		{"https://ghp_secret123@github.com/org/app.git", "https://xxxxx@github.com/org/app.git"},
		{"https://oauth2:glpat-secret@gitlab.com/org/app.git", "https://xxxxx@gitlab.com/org/app.git"},
		{"https://ghp_secret:x-oauth-basic@github.com/o/a", "https://xxxxx@github.com/o/a"},
		{"https://git.example/app.git?private_token=secret&x=1", "https://git.example/app.git?private_token=xxxxx&x=xxxxx"},
		{"ssh://git@git.example/app.git", "ssh://git@git.example/app.git"},
		{"ssh://git:hunter2@git.example/app.git", "ssh://git:xxxxx@git.example/app.git"},
		{"git@github.com:org/app.git", "git@github.com:org/app.git"},
		{"/srv/git/app.git", "/srv/git/app.git"},
		{`fetch https://tok@h/x.git: authentication required; retry "https://u:p@h/y?t=s"`,
			`fetch https://xxxxx@h/x.git: authentication required; retry "https://xxxxx@h/y?t=xxxxx"`},
		{"https://tok@exa mple.com/%zz", "https://xxxxx@exa mple.com/%zz"},
		{"http://a:b@[::1/x?token=s", "http://xxxxx@[::1/x?xxxxx"},
	} {
		if got := RedactURLs(tt.in); got != tt.want {
			t.Errorf("RedactURLs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzRedactURLs: whatever surrounds it, a password or token put into a URL's user
// information or query string never survives redaction.
func FuzzRedactURLs(f *testing.F) {
	f.Add("fetch ", "https", "tok", "pw", "git.example/app.git", "")
	f.Add("", "ssh", "git", "hunter2", "h:22/x", "a=1")
	f.Add("\"", "http", "u@x", "p:q", "[::1]/%zz", "t=s&u=v")
	f.Fuzz(func(t *testing.T, prefix, scheme, user, secret, rest, query string) {
		if len(secret) < 6 || strings.ContainsAny(secret, " \t\r\n\"'<>`") || !validScheme(scheme) ||
			strings.Contains(prefix+user+rest+scheme+"hk trailer", secret) {
			return // the secret must be only where a credential goes
		}
		u := &url.URL{Scheme: scheme, User: url.UserPassword(user, secret), Host: "h", Path: "/" + rest}
		text := prefix + " " + u.String() + "?k=" + url.QueryEscape(secret) + " trailer"
		out := RedactURLs(text)
		if strings.Contains(out, secret) || strings.Contains(out, url.QueryEscape(secret)) || strings.Contains(out, url.PathEscape(secret)) {
			t.Fatalf("RedactURLs(%q) = %q: the secret survived", text, out)
		}
	})
}

func validScheme(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}
