package api

import (
	"net/url"
	"regexp"
	"strings"
)

// Redacted replaces what is hidden in a URL.
const Redacted = "xxxxx"

// urlPattern finds URLs inside free text (error messages, log lines): a scheme, "://",
// then anything up to white space or a quote.
var urlPattern = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>` + "`" + `]+`)

// RedactURLs hides the credentials of every URL in s, which may be a URL or text that
// contains some (a Git error quoting its remote). It is the one redaction used
// wherever a repository URL is shown: status, logs, errors and events.
//
//   - user information is replaced entirely ("https://TOKEN@host" and
//     "https://user:password@host" both become "https://xxxxx@host"): a token is as
//     often in the user position as in the password's;
//   - an ssh:// URL keeps its user name (not a secret: "git"), but not a password;
//   - every query-string value is replaced (access_token=, private_token=, ...).
func RedactURLs(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	return urlPattern.ReplaceAllStringFunc(s, redactURL)
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		// Unparseable: hide everything between the scheme and the host.
		scheme, rest, _ := strings.Cut(raw, "://")
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			rest = Redacted + rest[at:]
		}
		if q := strings.Index(rest, "?"); q >= 0 {
			rest = rest[:q+1] + Redacted
		}
		return scheme + "://" + rest
	}
	if u.User != nil {
		_, hasPassword := u.User.Password()
		switch {
		case u.Scheme == "ssh" && hasPassword:
			u.User = url.UserPassword(u.User.Username(), Redacted)
		case u.Scheme != "ssh":
			u.User = url.User(Redacted)
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{Redacted}
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}
