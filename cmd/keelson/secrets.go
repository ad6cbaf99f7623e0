package main

import (
	"os"
	"strings"

	"github.com/keelson/keelson/pki"
)

// secretFromFileOrEnv reads a secret from a file, or else from an environment
// variable: never from a flag's value, which every user of the machine sees in ps.
func secretFromFileOrEnv(file, env string) (string, error) {
	if file != "" {
		t, err := pki.ReadTokenFile(file)
		if err != nil {
			return "", err
		}
		return t.String(), nil
	}
	return strings.TrimSpace(os.Getenv(env)), nil
}
