package gitsource

import "github.com/keelson/keelson/api"

// redactedError hides URL credentials in the text of an error from go-git (which may
// quote the remote's URL), keeping the error chain for errors.Is.
type redactedError struct{ err error }

func (e redactedError) Error() string { return api.RedactURLs(e.err.Error()) }
func (e redactedError) Unwrap() error { return e.err }
