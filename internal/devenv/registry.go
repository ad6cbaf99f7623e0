package devenv

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// StartRegistry starts Debian's docker-registry serving plain HTTP on addr (a free
// 127.0.0.1 port when addr is empty), storing into dir, until stop is called.
func StartRegistry(dir, addr string) (string, func(), error) {
	if addr == "" {
		var err error
		if addr, err = freeLocalAddr(); err != nil {
			return "", nil, err
		}
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
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, fmt.Errorf("registry dir: %w", err)
	}
	configPath := filepath.Join(dir, "registry.yml")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		return "", nil, fmt.Errorf("write registry config: %w", err)
	}
	d, err := startDaemon("docker-registry", "serve", configPath)
	if err != nil {
		return "", nil, err
	}
	if err := d.waitReady(30*time.Second, func() error { return registryReady(addr) }); err != nil {
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

// RegistryAnswers reports whether an OCI registry answers on addr.
func RegistryAnswers(addr string) bool { return registryReady(addr) == nil }

func registryReady(addr string) error {
	client := &http.Client{Timeout: time.Second}
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
