// Package gittrust tests, on a real `keelson server` process, how the server reaches
// and trusts its Git repository: an HTTPS remote served by the real `git http-backend`
// behind basic auth with the credentials in a file, SSH-signed commits made by the real
// git and ssh-keygen, a refused rollback, and a refused oversized revision. It needs
// no root and no containerd.
package gittrust
