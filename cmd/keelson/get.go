package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/cli/printers"
	"github.com/keelson/keelson/server/client"
)

// watchWait is how long one blocking query of --watch waits for a change before the
// server answers anyway; the loop simply asks again.
const watchWait = 5 * time.Minute

// resourceKinds maps what people type (kubectl's names and short names) to a kind.
func resourceKind(arg string) (string, bool) {
	switch strings.ToLower(arg) {
	case "pod", "pods", "po":
		return "pods", true
	case "node", "nodes", "no":
		return "nodes", true
	case "service", "services", "svc":
		return "services", true
	case "replicationcontroller", "replicationcontrollers", "rc", "rcs":
		return "replicationcontrollers", true
	}
	return "", false
}

// getFlags are the options of `keelson get`.
type getFlags struct {
	client        clientFlags
	output        string
	namespace     string
	allNamespaces bool
	selector      string
	watch         bool
}

// newGetCmd builds `keelson get`.
func newGetCmd() *cobra.Command { return getCmd(processEnv()) }

// getCmd lists pods, nodes, services or replication controllers like kubectl get.
func getCmd(env cliEnv) *cobra.Command {
	g := &getFlags{client: clientFlags{env: env}}
	cmd := &cobra.Command{
		Use:   "get pods|nodes|services|rc [NAME]",
		Short: "List pods, nodes, services or replication controllers",
		Long: `Get lists objects as the cluster sees them, like kubectl get.

Kinds: pods (po), nodes (no), services (svc), replicationcontrollers (rc).
-o wide adds columns; -o json and -o yaml print the API records (a list, or the one
object when NAME is given); -o name prints kind/name.
-l filters pods and nodes by their labels, and services and RCs by their pod selector.
--watch prints the table, then, at every change the server reports, the rows that
changed (new or different), aligned under the first table; with -o json|yaml it
prints the whole list again at every change.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return usageError(fmt.Errorf("get needs a kind and at most one NAME"))
			}
			if _, ok := resourceKind(args[0]); !ok {
				return usageError(fmt.Errorf("unknown kind %q: want pods, nodes, services or rc", args[0]))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(g.output, "", "wide", "json", "yaml", "name"); err != nil {
				return err
			}
			var sel labels.Selector
			if g.selector != "" {
				s, err := labels.Parse(g.selector)
				if err != nil {
					return usageError(fmt.Errorf("bad selector %q: %w", g.selector, err))
				}
				sel = s
			}
			kind, _ := resourceKind(args[0])
			name := ""
			if len(args) == 2 {
				name = args[1]
			}
			c, err := g.client.client()
			if err != nil {
				return err
			}
			q := query{kind: kind, name: name, namespace: g.namespace, all: g.allNamespaces, selector: g.selector, sel: sel}
			if g.watch {
				return g.watchLoop(cmd.Context(), c, q, cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
			l, err := q.fetch(cmd.Context(), c, client.QueryOptions{})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), l, q)
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	g.client.register(cmd)
	fl := cmd.Flags()
	fl.StringVarP(&g.output, "output", "o", "", "output format: wide, json, yaml or name")
	fl.StringVarP(&g.namespace, "namespace", "n", api.DefaultNamespace, "namespace")
	fl.BoolVarP(&g.allNamespaces, "all-namespaces", "A", false, "list across all namespaces")
	fl.StringVarP(&g.selector, "selector", "l", "", "label selector, e.g. app=web,tier!=db")
	fl.BoolVarP(&g.watch, "watch", "w", false, "after listing, print changes as they happen")
	return cmd
}

// query is one listing request, filters applied client-side where the API has none.
type query struct {
	kind, name, namespace, selector string
	all                             bool
	sel                             labels.Selector // nil: everything
}

// listing is the answer to a query in every form the output may take.
type listing struct {
	index   uint64
	objects []any    // API records for json/yaml
	keys    []string // namespace/name per row, for watch
	names   []string // kind/name
	table   func(printers.Options) *printers.Table
}

// nsMatch applies -n/-A; an empty namespace is "default", as in Git.
func (q query) nsMatch(ns string) bool {
	if q.all || q.kind == "nodes" {
		return true
	}
	if ns == "" {
		ns = api.DefaultNamespace
	}
	return ns == q.namespace
}

func (q query) match(ns, name string, set map[string]string) bool {
	return q.nsMatch(ns) && (q.name == "" || q.name == name) && (q.sel == nil || q.sel.Matches(labels.Set(set)))
}

// fetch lists the kind with the given read options and filters the answer.
func (q query) fetch(ctx context.Context, c *client.Client, opts client.QueryOptions) (listing, error) {
	var l listing
	var err error
	switch q.kind {
	case "pods":
		opts.Selector = q.selector
		if !q.all {
			opts.Namespace = q.namespace
		}
		var pods []api.PodRecord
		if pods, l.index, err = c.Pods(ctx, opts); err != nil {
			return l, fmt.Errorf("list pods: %w", err)
		}
		var keep []api.PodRecord
		for _, p := range pods {
			if q.match(p.Namespace, p.Name, p.Labels) {
				keep = append(keep, p)
				l.add(p, "pod", p.Namespace, p.Name)
			}
		}
		l.table = func(o printers.Options) *printers.Table { return printers.Pods(keep, o) }
	case "nodes":
		var nodes []api.Node
		if nodes, l.index, err = c.Nodes(ctx, opts); err != nil {
			return l, fmt.Errorf("list nodes: %w", err)
		}
		pods, _, err := c.Pods(ctx, client.QueryOptions{})
		if err != nil {
			return l, fmt.Errorf("list pods for node usage: %w", err)
		}
		usage := printers.UsageByNode(pods)
		var keep []api.Node
		for _, n := range nodes {
			if q.match("", n.Name, n.Labels) {
				keep = append(keep, n)
				l.add(n, "node", "", n.Name)
			}
		}
		l.table = func(o printers.Options) *printers.Table { return printers.Nodes(keep, usage, o) }
	case "services":
		var svcs []api.ServiceView
		if svcs, l.index, err = c.Services(ctx, opts); err != nil {
			return l, fmt.Errorf("list services: %w", err)
		}
		var keep []api.ServiceView
		for _, s := range svcs {
			if q.match(s.Namespace, s.Name, s.Spec.Selector) {
				keep = append(keep, s)
				l.add(s, "service", s.Namespace, s.Name)
			}
		}
		l.table = func(o printers.Options) *printers.Table { return printers.Services(keep, o) }
	case "replicationcontrollers":
		var rcs []api.RCView
		if rcs, l.index, err = c.RCs(ctx, opts); err != nil {
			return l, fmt.Errorf("list replication controllers: %w", err)
		}
		var keep []api.RCView
		for _, r := range rcs {
			if q.match(r.Namespace, r.Name, r.Selector) {
				keep = append(keep, r)
				l.add(r, "replicationcontroller", r.Namespace, r.Name)
			}
		}
		l.table = func(o printers.Options) *printers.Table { return printers.RCs(keep, o) }
	}
	if q.name != "" && len(l.objects) == 0 {
		return l, fmt.Errorf("%s %q not found%s", strings.TrimSuffix(q.kind, "s"), q.name, q.where())
	}
	return l, nil
}

func (q query) where() string {
	if q.kind == "nodes" || q.all {
		return ""
	}
	return " in namespace " + q.namespace
}

func (l *listing) add(obj any, kind, ns, name string) {
	l.objects = append(l.objects, obj)
	l.keys = append(l.keys, ns+"/"+name)
	l.names = append(l.names, kind+"/"+name)
}

// print writes a listing once in the chosen output.
func (g *getFlags) print(w io.Writer, l listing, q query) error {
	var v any = l.objects
	if q.name != "" && len(l.objects) == 1 {
		v = l.objects[0]
	} else if l.objects == nil {
		v = []any{}
	}
	switch g.output {
	case "json":
		return printers.JSON(w, v)
	case "yaml":
		return printers.YAML(w, v)
	case "name":
		_, err := io.WriteString(w, strings.Join(append(l.names, ""), "\n"))
		return err
	}
	t := l.table(g.client.options(g.output == "wide", g.allNamespaces))
	if t.Len() == 0 {
		_, err := fmt.Fprintf(w, "No %s found%s.\n", q.kind, q.where())
		return err
	}
	return t.Write(w, g.client.color(w))
}

// watchLoop prints the listing, then follows it with blocking queries on the index of
// the last answer. A failed query (a server restarting, a leader election) is reported
// on stderr and retried; the loop ends when ctx does.
func (g *getFlags) watchLoop(ctx context.Context, c *client.Client, q query, w, errw io.Writer) error {
	l, err := q.fetch(ctx, c, client.QueryOptions{})
	if err != nil {
		return err
	}
	if err := g.print(w, l, q); err != nil {
		return err
	}
	color := g.client.color(w)
	first := l.table(g.client.options(g.output == "wide", g.allNamespaces))
	widths := first.Widths()
	shown := fingerprints(l)
	return follow(ctx, errw, l.index, func(ctx context.Context, index uint64) (uint64, error) {
		next, err := q.fetch(ctx, c, client.QueryOptions{Index: index, Wait: watchWait})
		if err != nil {
			return index, err
		}
		if next.index == l.index {
			return next.index, nil // the wait elapsed with no change
		}
		l = next
		if g.output != "" && g.output != "wide" {
			return l.index, printed(g.print(w, l, q))
		}
		t := l.table(g.client.options(g.output == "wide", g.allNamespaces))
		var changed [][]string
		now := fingerprints(l)
		for i, row := range t.Rows() {
			if prev, ok := shown[l.keys[i]]; !ok || prev != now[l.keys[i]] {
				changed = append(changed, row)
			}
		}
		shown = now
		if len(changed) > 0 {
			return l.index, printed(printers.WriteRows(w, widths, changed, color))
		}
		return l.index, nil
	})
}

// fingerprints identifies each object's state by its JSON, so that watch prints a row
// when the object changed, not merely because its AGE ticked.
func fingerprints(l listing) map[string]string {
	m := make(map[string]string, len(l.keys))
	for i, k := range l.keys {
		b, err := json.Marshal(l.objects[i])
		if err != nil {
			b = []byte(fmt.Sprint(l.objects[i]))
		}
		m[k] = string(b)
	}
	return m
}
