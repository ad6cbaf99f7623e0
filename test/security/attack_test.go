package security

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/pki"
	"github.com/keelson/keelson/server/client"
)

// TestAttacks runs every attack of issue #13 against one cluster; each subtest asserts
// the attack is refused and the replicated state is unchanged.
func TestAttacks(t *testing.T) {
	tg := startTarget(t)
	ctx := context.Background()
	agentDir := filepath.Join(tg.c.Opts.Dir, agentName, "tls")
	stolen, err := tls.LoadX509KeyPair(filepath.Join(agentDir, pki.CertFile), filepath.Join(agentDir, pki.KeyFile))
	if err != nil {
		t.Fatalf("the real agent's node certificate: %v", err)
	}
	st, err := tg.reader.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var raftAddrs []string
	for _, s := range st.Servers {
		raftAddrs = append(raftAddrs, s.RaftAddr)
	}

	t.Run("raft injection from a non-member", func(t *testing.T) {
		dialers := map[string]func(addr string, timeout time.Duration) (net.Conn, error){
			"plain TCP": func(addr string, timeout time.Duration) (net.Conn, error) {
				return net.DialTimeout("tcp", addr, timeout)
			},
			"TLS without a certificate": func(addr string, timeout time.Duration) (net.Conn, error) {
				return tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the attacker
			},
			"TLS with a stolen node certificate": func(addr string, timeout time.Duration) (net.Conn, error) {
				return tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", addr, &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{stolen}}) //nolint:gosec // the attacker
			},
		}
		for name, dial := range dialers {
			t.Run(name, func(t *testing.T) {
				tg.unchanged(t, func(t *testing.T) {
					for _, addr := range raftAddrs {
						if err := injectEntry(dial, addr); err == nil {
							t.Errorf("raft at %s accepted AppendEntries over %s", addr, name)
						}
					}
				})
			})
		}
	})

	t.Run("an agent joining or leaving raft", func(t *testing.T) {
		stolenClient := client.New(tg.c.ServerURLs(), "", client.WithTLSConfig(pki.ClientTLS(caPool(t, tg), &stolen, pki.RoleServer)))
		nodeToken, err := pki.ReadTokenFile(tg.c.NodeTokenFile())
		if err != nil {
			t.Fatal(err)
		}
		tokenClient := client.New(tg.c.ServerURLs(), nodeToken.Secret, client.WithTLSConfig(pki.ClientTLS(caPool(t, tg), nil, pki.RoleServer)))
		for what, cl := range map[string]*client.Client{"node certificate": stolenClient, "node-join token": tokenClient} {
			t.Run(what, func(t *testing.T) {
				tg.unchanged(t, func(t *testing.T) {
					rogue := api.ServerJoin{ID: "rogue", RaftAddr: "127.0.0.1:1", HTTPAddr: "https://127.0.0.1:2"}
					wantRefused(t, "join a rogue voter", cl.Join(ctx, rogue))
					wantRefused(t, "join as the leader's ID", cl.Join(ctx, api.ServerJoin{ID: "s1", RaftAddr: "127.0.0.1:1", HTTPAddr: "https://127.0.0.1:2"}))
					wantRefused(t, "remove a server", cl.Leave(ctx, "s2"))
				})
			})
		}
		t.Run("server credentials with a node token", func(t *testing.T) {
			code := post(t, tg, api.PathServerCredentials, nodeToken.Secret, "{}")
			if code != http.StatusForbidden {
				t.Fatalf("POST %s with a node token: %d, want 403", api.PathServerCredentials, code)
			}
		})
	})

	t.Run("node A acting for node B", func(t *testing.T) {
		tg.unchanged(t, func(t *testing.T) {
			b := tg.nodes["sec-b"]
			_, err := tg.a.Register(ctx, api.NodeRegistration{Name: "sec-b", Address: "192.0.2.66", AgentURL: "https://192.0.2.66:1", Capacity: b.Capacity, Allocatable: b.Allocatable})
			wantRefused(t, "A registering as B", err)
			wantRefused(t, "A heartbeating B", tg.a.Heartbeat(ctx, "sec-b"))
			_, err = tg.a.WatchNode(ctx, "sec-b", 0, 0)
			wantRefused(t, "A watching B's view", err)
			ready := api.PodStatus{Phase: "Running", Ready: true, PodIP: ipIn(t, b.PodCIDR)}
			wantRefused(t, "A reporting B's pod as B", tg.a.ReportStatus(ctx, []api.PodStatusReport{{UID: tg.victim.UID, Node: "sec-b", Status: ready}}))
			wantRefused(t, "A reporting B's pod as A", tg.a.ReportStatus(ctx, []api.PodStatusReport{{UID: tg.victim.UID, Node: "sec-a", Status: ready}}))
		})
	})

	t.Run("a pod IP outside the node's CIDR", func(t *testing.T) {
		tg.unchanged(t, func(t *testing.T) {
			foreign := ipIn(t, tg.nodes["sec-a"].PodCIDR) // another node's pod network
			err := tg.b.ReportStatus(ctx, []api.PodStatusReport{{UID: tg.victim.UID, Node: "sec-b", Status: api.PodStatus{Phase: "Running", Ready: true, PodIP: foreign}}})
			wantRefused(t, "B reporting A's pod IP", err)
			err = tg.b.ReportStatus(ctx, []api.PodStatusReport{{UID: tg.victim.UID, Node: "sec-b", Status: api.PodStatus{Phase: "Running", Ready: true, PodIP: "10.98.0.1"}}})
			wantRefused(t, "B reporting a service IP as pod IP", err)
		})
	})

	t.Run("taking over a registered node name", func(t *testing.T) {
		tg.unchanged(t, func(t *testing.T) {
			// A second certificate for the name (another key), as a stolen CA-signed
			// certificate or a re-join with a node token would give.
			other, err := tg.c.NodeClient("sec-b", nil, tg.c.ServerURLs()...)
			if err != nil {
				t.Fatal(err)
			}
			b := tg.nodes["sec-b"]
			_, err = other.Register(ctx, api.NodeRegistration{Name: "sec-b", Address: "192.0.2.66", Capacity: b.Capacity, Allocatable: b.Allocatable})
			wantRefused(t, "re-registering sec-b with another key", err)
			wantRefused(t, "heartbeating sec-b with another key", other.Heartbeat(ctx, "sec-b"))
			nodeToken, err := pki.ReadTokenFile(tg.c.NodeTokenFile())
			if err != nil {
				t.Fatal(err)
			}
			// The node-join exchange refuses a new key for a registered name.
			_, err = client.NodeCredentials(ctx, tg.c.ServerURLs(), nodeToken.String(), "", "sec-b", nil, t.TempDir())
			wantRefused(t, "a node certificate for sec-b from the node token", err)
		})
	})

	t.Run("the agent's log endpoint without a server certificate", func(t *testing.T) {
		agentURL := tg.nodes[agentName].AgentURL
		if !strings.HasPrefix(agentURL, "https://") {
			t.Fatalf("agent URL %q is not https", agentURL)
		}
		for what, certs := range map[string][]tls.Certificate{"no certificate": nil, "a node certificate": {stolen}} {
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool(t, tg), Certificates: certs}}
			resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(agentURL + api.PathAgentLogs + tg.victim.UID + "/web")
			if err == nil {
				resp.Body.Close()
				t.Errorf("agent log endpoint answered %s with %s", resp.Status, what)
			}
			tr.CloseIdleConnections()
		}
	})

	t.Run("no plaintext listener", func(t *testing.T) {
		var httpPorts []string
		httpPorts = append(httpPorts, tg.c.HTTPAddrs...)
		httpPorts = append(httpPorts, strings.TrimPrefix(tg.nodes[agentName].AgentURL, "https://"))
		for _, addr := range httpPorts {
			resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + addr + api.PathHealth)
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					t.Errorf("plain HTTP to %s answered 200: %s", addr, b)
				}
			}
		}
		for _, addr := range raftAddrs {
			if err := injectEntry(func(a string, to time.Duration) (net.Conn, error) { return net.DialTimeout("tcp", a, to) }, addr); err == nil {
				t.Errorf("raft at %s speaks plain TCP", addr)
			}
		}
	})
}

// injectEntry sends a raft AppendEntries carrying one malformed entry at a far
// future term, through hashicorp/raft's own wire protocol over the given dialer: the
// message that, on a plaintext transport, wrote (and panicked) every replica.
func injectEntry(dial func(string, time.Duration) (net.Conn, error), addr string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: &attackStream{Listener: ln, dial: dial}, MaxPool: 1, Timeout: 5 * time.Second, Logger: nil,
	})
	defer trans.Close()
	req := &raft.AppendEntriesRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("intruder"), Addr: []byte(ln.Addr().String())},
		Term:      1 << 40, PrevLogEntry: 0, PrevLogTerm: 0, LeaderCommitIndex: 1 << 30,
		Entries: []*raft.Log{{Index: 1, Term: 1 << 40, Type: raft.LogCommand, Data: bytes.Repeat([]byte{0xff}, 64)}},
	}
	var resp raft.AppendEntriesResponse
	return trans.AppendEntries("target", raft.ServerAddress(addr), req, &resp)
}

type attackStream struct {
	net.Listener
	dial func(string, time.Duration) (net.Conn, error)
}

func (s *attackStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return s.dial(string(addr), timeout)
}

func wantRefused(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: accepted", what)
		return
	}
	var e *client.Error
	if asClientError(err, &e) && e.StatusCode != http.StatusForbidden && e.StatusCode != http.StatusUnauthorized {
		t.Errorf("%s: %v, want 401 or 403", what, err)
	}
}

func post(t *testing.T, tg *target, path, token, body string) int {
	t.Helper()
	hc, err := tg.c.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, tg.c.ServerURLs()[0]+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
