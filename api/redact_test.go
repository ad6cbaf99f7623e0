package api

import "testing"

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
