package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keelson/keelson/internal/cli/printers"
	"github.com/keelson/keelson/pki"
	"github.com/keelson/keelson/server/client"
)

// defaultServer is where the read commands look when neither --server nor
// KEELSON_SERVER says otherwise: the address `keelson dev` and `keelson server` use.
const defaultServer = "https://127.0.0.1:7480"

// cliEnv is what the read commands take from the process: the clock, the environment
// and whether an output is a terminal. Commands get it as a value so tests can fix the
// clock (stable ages in golden files) without any package-level state.
type cliEnv struct {
	now      func() time.Time
	getenv   func(string) string
	terminal func(io.Writer) bool
}

// processEnv is the real environment.
func processEnv() cliEnv {
	return cliEnv{now: time.Now, getenv: os.Getenv, terminal: isTerminal}
}

// isTerminal reports whether w is a character device (a terminal), the portable test
// that needs no extra module.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// clientFlags are the flags every read command shares.
type clientFlags struct {
	env     cliEnv
	server  string
	creds   credFlags
	noColor bool
}

// register adds --server, the credential flags and --no-color to cmd, with defaults
// from the environment (KEELSON_SERVER, ...).
func (f *clientFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.server, "server", cmp.Or(f.env.getenv("KEELSON_SERVER"), defaultServer),
		"server URL(s), comma-separated for failover (env KEELSON_SERVER)")
	f.creds.register(cmd, f.env)
	cmd.Flags().BoolVar(&f.noColor, "no-color", false, "never color the output (colors are used only on a terminal)")
}

// client builds the API client for the configured servers.
func (f *clientFlags) client() (*client.Client, error) {
	return f.creds.client(f.server)
}

// credFlags say how a read command authenticates and whom it trusts. The read token
// comes from KEELSON_TOKEN or a file, never from the command line (where every user
// of the machine can see it in ps).
type credFlags struct {
	env                       cliEnv
	tokenFile                 string
	caFile, certFile, keyFile string
}

func (c *credFlags) register(cmd *cobra.Command, env cliEnv) {
	c.env = env
	fl := cmd.Flags()
	fl.StringVar(&c.tokenFile, "token-file", env.getenv("KEELSON_TOKEN_FILE"), "file holding the read token (env KEELSON_TOKEN_FILE; or the token itself in KEELSON_TOKEN)")
	fl.StringVar(&c.caFile, "ca-file", env.getenv("KEELSON_CA_FILE"), "the cluster CA certificate that the servers' certificates must chain to (env KEELSON_CA_FILE)")
	fl.StringVar(&c.certFile, "cert-file", env.getenv("KEELSON_CERT_FILE"), "a reader client certificate, instead of a token (env KEELSON_CERT_FILE)")
	fl.StringVar(&c.keyFile, "key-file", env.getenv("KEELSON_KEY_FILE"), "the key of --cert-file (env KEELSON_KEY_FILE)")
}

// client builds the API client for a comma-separated server list.
func (c *credFlags) client(serverList string) (*client.Client, error) {
	servers := splitServers(serverList)
	if len(servers) == 0 {
		return nil, usageError(fmt.Errorf("--server: no server URL given"))
	}
	token, err := c.readToken()
	if err != nil {
		return nil, err
	}
	tc, err := client.TLSFiles{CAFile: c.caFile, CertFile: c.certFile, KeyFile: c.keyFile}.Config()
	if err != nil {
		return nil, usageError(err)
	}
	return client.New(servers, token, client.WithTLSConfig(tc)), nil
}

// readToken is the read token's secret from --token-file or KEELSON_TOKEN ("" for
// none: a reader certificate, or an open read API).
func (c *credFlags) readToken() (string, error) {
	token := c.env.getenv("KEELSON_TOKEN")
	if c.tokenFile != "" {
		t, err := pki.ReadTokenFile(c.tokenFile)
		if err != nil {
			return "", usageError(err)
		}
		return t.Secret, nil
	}
	if token == "" {
		return "", nil
	}
	t, err := pki.ParseToken(token)
	if err != nil {
		return "", usageError(fmt.Errorf("KEELSON_TOKEN: %w", err))
	}
	return t.Secret, nil
}

// splitServers parses a comma-separated list of server URLs.
func splitServers(list string) []string {
	var out []string
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// color reports whether output to w gets colors: only on a terminal, never with
// --no-color or NO_COLOR (https://no-color.org).
func (f *clientFlags) color(w io.Writer) bool {
	return !f.noColor && f.env.getenv("NO_COLOR") == "" && f.env.terminal(w)
}

// options are the printer options at this moment.
func (f *clientFlags) options(wide, allNamespaces bool) printers.Options {
	return printers.Options{Now: f.env.now(), Wide: wide, AllNamespaces: allNamespaces}
}

// checkOutput refuses an -o value outside allowed.
func checkOutput(output string, allowed ...string) error {
	for _, a := range allowed {
		if output == a {
			return nil
		}
	}
	return usageError(fmt.Errorf("unknown output format %q: want one of %s", output, strings.Join(allowed, ", ")))
}
