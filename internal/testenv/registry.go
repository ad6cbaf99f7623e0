package testenv

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// StartRegistry starts a private OCI registry (Debian's docker-registry) on a free
// 127.0.0.1 port, storing into a temporary directory, and returns its "127.0.0.1:PORT"
// address. It serves plain HTTP; it is stopped when the test ends.
func StartRegistry(t testing.TB) string {
	t.Helper()
	RequireBinary(t, "docker-registry")
	addr, stop, err := StartRegistryProcess(t.TempDir())
	if err != nil {
		t.Fatalf("registry: %v", err)
	}
	t.Cleanup(stop)
	return addr
}

// StartRegistryProcess is StartRegistry for TestMain: the registry stores into dir and
// runs until stop is called.
func StartRegistryProcess(dir string) (addr string, stop func(), err error) {
	addr, err = freeLocalAddr()
	if err != nil {
		return "", nil, err
	}
	config := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "data"), addr)
	configPath := filepath.Join(dir, "registry.yml")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		return "", nil, fmt.Errorf("write registry config: %w", err)
	}
	d, err := startDaemon("docker-registry", "serve", configPath)
	if err != nil {
		return "", nil, err
	}
	client := &http.Client{Timeout: time.Second}
	ready := func() error {
		resp, err := client.Get("http://" + addr + "/v2/")
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /v2/: %s", resp.Status)
		}
		return nil
	}
	if err := d.waitReady(30*time.Second, ready); err != nil {
		d.stop()
		return "", nil, err
	}
	return addr, d.stop, nil
}

// freeLocalAddr returns a 127.0.0.1 address with a port nobody listens on right now.
func freeLocalAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}
