package main

import "fmt"

// Exit codes of the keelson binary, as scripts and CI jobs expect from a validator:
// 0 success, 1 the input is invalid (or the operation failed), 2 the command was used
// wrongly.
const (
	exitInvalid = 1
	exitUsage   = 2
)

// exitCodeError is returned by a command that wants a specific exit code; main maps
// it to os.Exit. Cobra itself only knows "error or not".
type exitCodeError struct {
	Code int
	Err  error
}

func (e *exitCodeError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *exitCodeError) Unwrap() error { return e.Err }

// usageError marks err as a usage error (exit code 2).
func usageError(err error) error { return &exitCodeError{Code: exitUsage, Err: err} }
