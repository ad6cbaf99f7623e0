package webtest

import (
	"os"
	"testing"

	"github.com/keelson/keelson/test/harness"
)

// suite is the package's environment (containerd, registry, binary, image), prepared
// once by TestMain. chromium is one of its needs: without it (or without root, ...)
// every test skips locally and fails under CI=true.
var suite = &harness.Suite{Name: "web", Binaries: []string{"chromium"}}

func TestMain(m *testing.M) { os.Exit(suite.Run(m)) }
