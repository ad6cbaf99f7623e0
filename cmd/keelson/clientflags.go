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
	"github.com/keelson/keelson/server/client"
)

// defaultServer is where the read commands look when neither --server nor
// KEELSON_SERVER says otherwise: the address `keelson dev` and `keelson server` use.
const defaultServer = "http://127.0.0.1:7480"

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
	token   string
	noColor bool
}

// register adds --server, --token and --no-color to cmd, with defaults from the
// environment (KEELSON_SERVER, KEELSON_TOKEN).
func (f *clientFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.server, "server", cmp.Or(f.env.getenv("KEELSON_SERVER"), defaultServer),
		"server URL(s), comma-separated for failover (env KEELSON_SERVER)")
	cmd.Flags().StringVar(&f.token, "token", f.env.getenv("KEELSON_TOKEN"), "read token (env KEELSON_TOKEN)")
	cmd.Flags().BoolVar(&f.noColor, "no-color", false, "never color the output (colors are used only on a terminal)")
}

// client builds the API client for the configured servers.
func (f *clientFlags) client() (*client.Client, error) {
	servers := splitServers(f.server)
	if len(servers) == 0 {
		return nil, usageError(fmt.Errorf("--server: no server URL given"))
	}
	return client.New(servers, f.token), nil
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
