// Package client is the HTTP client of the Keelson API, used by node agents and the
// CLI. It fails over between server URLs: a connection error or a 503 (no leader,
// election in progress) moves on to the next server.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keelson/keelson/api"
)

// Error is a non-2xx answer from a server.
type Error struct {
	StatusCode int
	Message    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.StatusCode, http.StatusText(e.StatusCode), e.Message)
}

// IsNotFound reports whether err is a 404 from the API.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == http.StatusNotFound
}

// Client talks to a set of servers.
type Client struct {
	servers []string
	token   string
	http    *http.Client

	mu   sync.Mutex
	next int // index of the server to try first (the last one that answered)
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient replaces the HTTP client (its Timeout should be zero: blocking
// queries are long and every call carries a context).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithTLSConfig sets the TLS configuration (e.g. a private CA) for https servers.
func WithTLSConfig(cfg *tls.Config) Option {
	return func(c *Client) {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = cfg
		c.http = &http.Client{Transport: tr}
	}
}

// New returns a client for the given server URLs ("https://127.0.0.1:7480"; a bare
// host:port gets https://, the servers' only scheme). token is sent as a bearer token
// when non-empty (the read token; agents and servers use certificates instead).
func New(servers []string, token string, opts ...Option) *Client {
	c := &Client{token: token, http: &http.Client{}}
	for _, s := range servers {
		s = strings.TrimRight(strings.TrimSpace(s), "/")
		if s == "" {
			continue
		}
		if !strings.Contains(s, "://") {
			s = "https://" + s
		}
		c.servers = append(c.servers, s)
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// QueryOptions are the read options shared by list endpoints.
type QueryOptions struct {
	// Index and Wait make a blocking query: answer once the state changed after
	// Index, or after Wait.
	Index uint64
	Wait  time.Duration
	// Consistent reads through the leader.
	Consistent bool
	Namespace  string
	Selector   string // label selector, e.g. "app=web"
}

func (o QueryOptions) values() url.Values {
	v := url.Values{}
	if o.Index > 0 {
		v.Set("index", strconv.FormatUint(o.Index, 10))
	}
	if o.Wait > 0 {
		v.Set("wait", o.Wait.String())
	}
	if o.Consistent {
		v.Set("consistent", "")
	}
	if o.Namespace != "" {
		v.Set("namespace", o.Namespace)
	}
	if o.Selector != "" {
		v.Set("selector", o.Selector)
	}
	return v
}

// do sends one request with failover and returns the response of the first server
// that answered with something other than 503. The caller closes the body.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body any) (*http.Response, error) {
	if len(c.servers) == 0 {
		return nil, errors.New("no servers configured")
	}
	var payload []byte
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode %s body: %w", path, err)
		}
		payload = b
	}
	c.mu.Lock()
	start := c.next
	c.mu.Unlock()
	var lastErr error
	for i := range c.servers {
		idx := (start + i) % len(c.servers)
		u := c.servers[idx] + path
		if len(query) > 0 {
			u += "?" + query.Encode()
		}
		var rd io.Reader
		if payload != nil {
			rd = bytes.NewReader(payload)
		}
		req, err := http.NewRequestWithContext(ctx, method, u, rd)
		if err != nil {
			return nil, fmt.Errorf("build request %s: %w", u, err)
		}
		if payload != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%s %s: %w", method, path, ctx.Err())
			}
			lastErr = fmt.Errorf("%s %s: %w", method, u, err)
			continue
		}
		if resp.StatusCode == http.StatusServiceUnavailable {
			lastErr = readError(resp)
			continue
		}
		c.mu.Lock()
		c.next = idx
		c.mu.Unlock()
		if resp.StatusCode/100 != 2 {
			return nil, readError(resp)
		}
		return resp, nil
	}
	return nil, lastErr
}

func readError(resp *http.Response) error {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e api.ErrorResponse
	if json.Unmarshal(b, &e) != nil || e.Error == "" {
		e.Error = strings.TrimSpace(string(b))
	}
	return &Error{StatusCode: resp.StatusCode, Message: e.Error}
}

// call does a JSON round trip and returns the response's raft index.
func (c *Client) call(ctx context.Context, method, path string, query url.Values, body, out any) (uint64, error) {
	resp, err := c.do(ctx, method, path, query, body)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	idx, _ := strconv.ParseUint(resp.Header.Get(api.IndexHeader), 10, 64)
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return idx, fmt.Errorf("decode %s answer: %w", path, err)
		}
	}
	return idx, nil
}

// Register registers (or re-registers) a node and returns it as stored.
func (c *Client) Register(ctx context.Context, reg api.NodeRegistration) (api.Node, error) {
	var n api.Node
	_, err := c.call(ctx, http.MethodPost, api.PathNodeRegister, nil, reg, &n)
	return n, err
}

// Heartbeat tells the leader the node is alive. A 404 means: register again.
func (c *Client) Heartbeat(ctx context.Context, name string) error {
	_, err := c.call(ctx, http.MethodPost, api.PathNodeHeartbeat, nil, api.Heartbeat{Name: name}, nil)
	return err
}

// WatchNode returns the node's view once it changed after index, or after wait.
func (c *Client) WatchNode(ctx context.Context, name string, index uint64, wait time.Duration) (api.NodeView, error) {
	var v api.NodeView
	_, err := c.call(ctx, http.MethodGet, api.PathNodeView+url.PathEscape(name), QueryOptions{Index: index, Wait: wait}.values(), nil, &v)
	return v, err
}

// ReportStatus sends a batch of pod status reports.
func (c *Client) ReportStatus(ctx context.Context, reports []api.PodStatusReport) error {
	_, err := c.call(ctx, http.MethodPost, api.PathNodeStatus, nil, reports, nil)
	return err
}

// Status returns the cluster status.
func (c *Client) Status(ctx context.Context) (api.StatusResponse, error) {
	s, _, err := c.StatusQuery(ctx, QueryOptions{})
	return s, err
}

// StatusQuery returns the cluster status with read options (blocking, consistent).
func (c *Client) StatusQuery(ctx context.Context, opts QueryOptions) (api.StatusResponse, uint64, error) {
	var s api.StatusResponse
	idx, err := c.call(ctx, http.MethodGet, api.PathStatus, opts.values(), nil, &s)
	return s, idx, err
}

// Nodes lists nodes and the index the answer reflects.
func (c *Client) Nodes(ctx context.Context, opts QueryOptions) ([]api.Node, uint64, error) {
	var out []api.Node
	idx, err := c.call(ctx, http.MethodGet, api.PathNodes, opts.values(), nil, &out)
	return out, idx, err
}

// Pods lists pods (opts.Namespace and opts.Selector filter).
func (c *Client) Pods(ctx context.Context, opts QueryOptions) ([]api.PodRecord, uint64, error) {
	var out []api.PodRecord
	idx, err := c.call(ctx, http.MethodGet, api.PathPods, opts.values(), nil, &out)
	return out, idx, err
}

// Services lists services with their endpoints.
func (c *Client) Services(ctx context.Context, opts QueryOptions) ([]api.ServiceView, uint64, error) {
	var out []api.ServiceView
	idx, err := c.call(ctx, http.MethodGet, api.PathServices, opts.values(), nil, &out)
	return out, idx, err
}

// RCs lists replication controllers with their observed counts.
func (c *Client) RCs(ctx context.Context, opts QueryOptions) ([]api.RCView, uint64, error) {
	var out []api.RCView
	idx, err := c.call(ctx, http.MethodGet, api.PathRCs, opts.values(), nil, &out)
	return out, idx, err
}

// Endpoints lists endpoints.
func (c *Client) Endpoints(ctx context.Context, opts QueryOptions) ([]api.Endpoints, uint64, error) {
	var out []api.Endpoints
	idx, err := c.call(ctx, http.MethodGet, api.PathEndpoints, opts.values(), nil, &out)
	return out, idx, err
}

// ReconcilerConfig returns the reconciler configuration the cluster runs with.
func (c *Client) ReconcilerConfig(ctx context.Context) (api.ReconcilerConfig, error) {
	var out api.ReconcilerConfig
	_, err := c.call(ctx, http.MethodGet, api.PathConfig, nil, nil, &out)
	return out, err
}

// Events lists events with Seq > since; index/wait make it a blocking query.
func (c *Client) Events(ctx context.Context, since, index uint64, wait time.Duration) ([]api.Event, uint64, error) {
	q := QueryOptions{Index: index, Wait: wait}.values()
	if since > 0 {
		q.Set("since", strconv.FormatUint(since, 10))
	}
	var out []api.Event
	idx, err := c.call(ctx, http.MethodGet, api.PathEvents, q, nil, &out)
	return out, idx, err
}

// Logs copies a container's log to w; with follow it streams until ctx ends.
// tail < 0 means all lines.
func (c *Client) Logs(ctx context.Context, namespace, pod, container string, follow bool, tail int, w io.Writer) error {
	q := url.Values{}
	if container != "" {
		q.Set("container", container)
	}
	if follow {
		q.Set("follow", "true")
	}
	if tail >= 0 {
		q.Set("tail", strconv.Itoa(tail))
	}
	resp, err := c.do(ctx, http.MethodGet, api.PathLogs+url.PathEscape(namespace)+"/"+url.PathEscape(pod), q, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil && ctx.Err() == nil {
		return fmt.Errorf("read logs: %w", err)
	}
	return nil
}

// Join asks a server to add another server to the cluster (forwarded to the leader).
func (c *Client) Join(ctx context.Context, j api.ServerJoin) error {
	_, err := c.call(ctx, http.MethodPost, api.PathServerJoin, nil, j, nil)
	return err
}

// Leave removes a server from the cluster.
func (c *Client) Leave(ctx context.Context, id string) error {
	_, err := c.call(ctx, http.MethodPost, api.PathServerLeave, nil, api.ServerJoin{ID: id}, nil)
	return err
}

// StateHash asks the first server that answers for its own replica's state hash and
// applied index (give the client one server URL to ask a particular replica).
func (c *Client) StateHash(ctx context.Context) (api.StateHash, error) {
	var out api.StateHash
	_, err := c.call(ctx, http.MethodGet, api.PathStateHash, nil, nil, &out)
	return out, err
}
