package raftstore

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keelson/keelson/pki"
)

// This file runs a 3-server cluster as real processes over loopback TCP with bolt
// logs on disk: the test binary re-executes itself as a helper (TestMain dispatches on
// an environment variable), so a "crash" is a real SIGKILL of a real process.

const helperEnv = "RAFTSTORE_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		if err := runHelper(); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type helperState struct {
	ID     string   `json:"id"`
	Leader bool     `json:"leader"`
	Index  uint64   `json:"index"`
	Hash   string   `json:"hash"`
	Nodes  []string `json:"nodes"`
}

// runHelper serves one store with a tiny control API: POST /apply?name=N commits a
// node registration and answers only once it is committed; GET /state shows the replica.
func runHelper() error {
	var peers []Peer
	for _, p := range strings.Split(os.Getenv("PEERS"), ",") {
		id, addr, _ := strings.Cut(p, "=")
		peers = append(peers, Peer{ID: id, Addr: addr})
	}
	ca, err := pki.LoadCA(os.Getenv("CA"))
	if err != nil {
		return err
	}
	c, k, err := ca.IssueKeyPair(pki.RoleServer, os.Getenv("ID"), []string{"127.0.0.1"})
	if err != nil {
		return err
	}
	kp, err := tls.X509KeyPair(c, k)
	if err != nil {
		return err
	}
	cfg := Config{
		ID: os.Getenv("ID"), DataDir: os.Getenv("DATA"), BindAddr: os.Getenv("RAFT"),
		TLS:       pki.MutualTLS(ca.Pool(), kp, pki.RoleServer),
		Bootstrap: true, Peers: peers,
		Logger:           helperLogger(),
		HeartbeatTimeout: 300 * time.Millisecond, ElectionTimeout: 300 * time.Millisecond,
		LeaderLeaseTimeout: 300 * time.Millisecond, CommitTimeout: 10 * time.Millisecond,
	}
	s, err := Open(cfg)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /apply", func(w http.ResponseWriter, r *http.Request) {
		idx, err := s.Apply(r.Context(), RegisterNodeCmd(reg(r.URL.Query().Get("name")), t0))
		switch {
		case errors.Is(err, ErrNotLeader):
			http.Error(w, err.Error(), http.StatusConflict)
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		default:
			fmt.Fprint(w, idx)
		}
	})
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, r *http.Request) {
		st := s.Snapshot()
		hs := helperState{ID: s.ID(), Leader: s.IsLeader(), Index: st.Index(), Hash: st.Hash()}
		for _, n := range st.Nodes() {
			hs.Nodes = append(hs.Nodes, n.Name)
		}
		_ = json.NewEncoder(w).Encode(hs)
	})
	return http.ListenAndServe(os.Getenv("CTL"), mux)
}

// helperLogger is silent unless RAFTSTORE_HELPER_LOG=1: a killed peer makes the
// survivors log connection errors that are expected here.
func helperLogger() *slog.Logger {
	if os.Getenv("RAFTSTORE_HELPER_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

type proc struct {
	id, data, raft, ctl string
	cmd                 *exec.Cmd
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (p *proc) start(t *testing.T, peers string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1", "ID="+p.id, "DATA="+p.data, "CA="+filepath.Join(filepath.Dir(p.data), "ca"), "RAFT="+p.raft, "CTL="+p.ctl, "PEERS="+peers)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.cmd = cmd
	t.Cleanup(func() { p.kill() })
}

func (p *proc) kill() {
	if p.cmd != nil && p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill() // SIGKILL
		_ = p.cmd.Wait()
	}
}

func (p *proc) state() (helperState, error) {
	var hs helperState
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + p.ctl + "/state")
	if err != nil {
		return hs, err
	}
	defer resp.Body.Close()
	return hs, json.NewDecoder(resp.Body).Decode(&hs)
}

func (p *proc) apply(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+p.ctl+"/apply?name="+name, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("apply %s: %s", name, resp.Status)
	}
	return nil
}

func procLeader(t *testing.T, ps []*proc) *proc {
	t.Helper()
	var l *proc
	waitFor(t, 30*time.Second, "a leader process", func() bool {
		for _, p := range ps {
			if hs, err := p.state(); err == nil && hs.Leader {
				l = p
				return true
			}
		}
		return false
	})
	return l
}

func procsConverged(t *testing.T, ps []*proc, want []string) {
	t.Helper()
	waitFor(t, 30*time.Second, "processes holding every acknowledged write with one hash", func() bool {
		var hash string
		for i, p := range ps {
			hs, err := p.state()
			if err != nil || (i > 0 && hs.Hash != hash) {
				return false
			}
			hash = hs.Hash
			have := map[string]bool{}
			for _, n := range hs.Nodes {
				have[n] = true
			}
			for _, w := range want {
				if !have[w] {
					return false
				}
			}
		}
		return true
	})
}

func TestRealProcessesSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	dir := t.TempDir()
	var ps []*proc
	var peers []string
	if err := pki.SaveCA(filepath.Join(dir, "ca"), testCA(t)); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		p := &proc{id: fmt.Sprintf("s%d", i), data: filepath.Join(dir, fmt.Sprint(i)), raft: freeAddr(t), ctl: freeAddr(t)}
		ps = append(ps, p)
		peers = append(peers, p.id+"="+p.raft)
	}
	peerList := strings.Join(peers, ",")
	for _, p := range ps {
		p.start(t, peerList)
	}
	l := procLeader(t, ps)
	var acked []string
	for i := range 30 {
		name := fmt.Sprintf("before-%d", i)
		if err := l.apply(name); err != nil {
			t.Fatal(err)
		}
		acked = append(acked, name)
	}

	l.kill()
	var rest []*proc
	for _, p := range ps {
		if p != l {
			rest = append(rest, p)
		}
	}
	l2 := procLeader(t, rest)
	procsConverged(t, rest, acked)
	for i := range 10 {
		name := fmt.Sprintf("after-%d", i)
		if err := l2.apply(name); err != nil {
			t.Fatal(err)
		}
		acked = append(acked, name)
	}

	// The killed server restarts from its bolt log and catches up.
	l.start(t, peerList)
	procsConverged(t, ps, acked)
}
