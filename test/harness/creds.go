package harness

import (
	"github.com/keelson/keelson/internal/devenv"
	"github.com/keelson/keelson/server/client"
)

// Credentials are a bootstrap server's CA and tokens (see devenv.Credentials).
type Credentials = devenv.Credentials

// Client is an API client for these server URLs (default: every server of the
// cluster) with the read credential.
func (c *Cluster) Client(urls ...string) (*client.Client, error) {
	if len(urls) == 0 {
		urls = c.ServerURLs()
	}
	return c.Credentials.Client(urls...)
}

// MustClient is Client for tests that cannot go on without it.
func (c *Cluster) MustClient(urls ...string) *client.Client {
	cl, err := c.Client(urls...)
	if err != nil {
		panic(err) // the files exist once StartCluster returned
	}
	return cl
}
