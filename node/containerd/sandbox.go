package containerd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/keelson/keelson/node"
)

// sandboxRecord is what a restarted runtime needs to know about a pod's network: its
// identity and IP for ListSandboxes, and its CIDR and ports so DEL gets the same
// configuration as ADD.
type sandboxRecord struct {
	PodUID    string             `json:"podUID"`
	Namespace string             `json:"namespace"`
	Name      string             `json:"name"`
	IP        string             `json:"ip"`
	NetNSPath string             `json:"netnsPath"`
	PodCIDR   string             `json:"podCIDR"`
	HostPorts []node.PortMapping `json:"hostPorts,omitempty"`
	CreatedAt time.Time          `json:"createdAt"`
}

func (s sandboxRecord) sandbox() node.Sandbox {
	return node.Sandbox{PodUID: s.PodUID, Namespace: s.Namespace, Name: s.Name, IP: s.IP, NetNSPath: s.NetNSPath, CreatedAt: s.CreatedAt}
}

func (r *Runtime) recordPath(id string) string {
	return filepath.Join(sandboxDir(r.cfg.StateDir), id+".json")
}

func (r *Runtime) netnsPath(id string) string { return filepath.Join(netnsDir(r.cfg.StateDir), id) }

// CreateSandbox creates the pod's network namespace and wires it with CNI, or returns
// the existing one. A half-made sandbox (the agent died between steps, or the host
// rebooted and the namespace mount is gone) is torn down and made again.
func (r *Runtime) CreateSandbox(ctx context.Context, cfg node.SandboxConfig) (node.Sandbox, error) {
	if cfg.PodUID == "" {
		return node.Sandbox{}, errors.New("create sandbox: empty pod UID")
	}
	if cfg.PodCIDR == "" {
		return node.Sandbox{}, fmt.Errorf("create sandbox %s: no pod CIDR", cfg.PodUID)
	}
	id := sandboxID(cfg.PodUID)
	defer r.locks.lock("sandbox/" + id)()

	rec, err := r.readRecord(id)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return node.Sandbox{}, err
	}
	nsPath := r.netnsPath(id)
	if err == nil && rec.IP != "" && isNetNS(rec.NetNSPath) {
		return rec.sandbox(), nil
	}
	_, statErr := os.Lstat(nsPath)
	if err == nil || statErr == nil {
		if err := r.teardown(ctx, id, rec); err != nil {
			return node.Sandbox{}, fmt.Errorf("create sandbox %s: clean up a previous attempt: %w", cfg.PodUID, err)
		}
	}

	if err := createNetNS(nsPath); err != nil {
		return node.Sandbox{}, fmt.Errorf("create sandbox %s: %w", cfg.PodUID, err)
	}
	rec = sandboxRecord{
		PodUID: cfg.PodUID, Namespace: cfg.Namespace, Name: cfg.Name, NetNSPath: nsPath,
		PodCIDR: cfg.PodCIDR, HostPorts: cfg.HostPorts, CreatedAt: time.Now().UTC(),
	}
	// Write the record before ADD: if we die during ADD, the next attempt knows the
	// CIDR and ports to DEL with.
	if err := r.writeRecord(id, rec); err != nil {
		_ = removeNetNS(nsPath)
		return node.Sandbox{}, fmt.Errorf("create sandbox %s: %w", cfg.PodUID, err)
	}
	ip, err := r.cniAdd(ctx, id, nsPath, cfg.PodCIDR, cfg.HostPorts)
	if err != nil {
		if terr := r.teardown(context.WithoutCancel(ctx), id, rec); terr != nil {
			r.log.Warn("sandbox cleanup after failed CNI add", "pod", cfg.PodUID, "err", terr)
		}
		return node.Sandbox{}, fmt.Errorf("create sandbox %s: %w", cfg.PodUID, err)
	}
	rec.IP = ip
	if err := r.writeRecord(id, rec); err != nil {
		return node.Sandbox{}, fmt.Errorf("create sandbox %s: %w", cfg.PodUID, err)
	}
	r.log.Debug("sandbox created", "pod", cfg.PodUID, "ip", ip)
	return rec.sandbox(), nil
}

// RemoveSandbox releases the pod's address (CNI DEL, even without a namespace) and
// deletes the namespace and the record. Removing a missing sandbox is not an error.
func (r *Runtime) RemoveSandbox(ctx context.Context, podUID string) error {
	id := sandboxID(podUID)
	defer r.locks.lock("sandbox/" + id)()
	rec, err := r.readRecord(id)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := r.teardown(ctx, id, rec); err != nil {
		return fmt.Errorf("remove sandbox %s: %w", podUID, err)
	}
	return nil
}

// teardown undoes whatever exists of a sandbox: CNI DEL (with the recorded CIDR, or
// the last configured one when there is no record), the namespace, the record.
func (r *Runtime) teardown(ctx context.Context, id string, rec sandboxRecord) error {
	nsPath := r.netnsPath(id)
	delNS := nsPath
	if !isNetNS(nsPath) {
		delNS = "" // plugins skip the interface work and just release the address
	}
	if err := r.cniDel(ctx, id, delNS, rec.PodCIDR, rec.HostPorts); err != nil {
		return err
	}
	if err := removeNetNS(nsPath); err != nil {
		return err
	}
	if err := os.Remove(r.recordPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove sandbox record: %w", err)
	}
	return nil
}

// ListSandboxes lists every sandbox record, sorted by UID. A sandbox whose CNI setup
// never finished has an empty IP: CreateSandbox redoes it, RemoveSandbox removes it.
func (r *Runtime) ListSandboxes(ctx context.Context) ([]node.Sandbox, error) {
	entries, err := os.ReadDir(sandboxDir(r.cfg.StateDir))
	if err != nil {
		return nil, fmt.Errorf("list sandboxes: %w", err)
	}
	var out []node.Sandbox
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		rec, err := r.readRecord(id)
		if errors.Is(err, os.ErrNotExist) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, rec.sandbox())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PodUID < out[j].PodUID })
	return out, nil
}

func (r *Runtime) readRecord(id string) (sandboxRecord, error) {
	var rec sandboxRecord
	b, err := os.ReadFile(r.recordPath(id))
	if err != nil {
		return rec, fmt.Errorf("read sandbox record: %w", err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("decode sandbox record %s: %w", r.recordPath(id), err)
	}
	return rec, nil
}

func (r *Runtime) writeRecord(id string, rec sandboxRecord) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("encode sandbox record: %w", err)
	}
	if err := writeFileAtomic(r.recordPath(id), b); err != nil {
		return fmt.Errorf("write sandbox record: %w", err)
	}
	return nil
}

// writeFileAtomic writes through a temporary file and a rename, so a crash leaves
// either the old or the new content, never half of one.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
