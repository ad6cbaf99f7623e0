package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/internal/cli/printers"
	"github.com/keelson/keelson/server/client"
)

// newDescribeCmd builds `keelson describe`.
func newDescribeCmd() *cobra.Command { return describeCmd(processEnv()) }

// describeCmd shows one object in detail: where Git declares it (file:line), where it
// runs, its status and container states, and the events about it.
func describeCmd(env cliEnv) *cobra.Command {
	f := &clientFlags{env: env}
	var namespace string
	cmd := &cobra.Command{
		Use:   "describe pod|rc|service|node NAME",
		Short: "Show one object in detail: Git source, placement, status, events",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageError(fmt.Errorf("describe needs a kind and a NAME"))
			}
			if _, ok := resourceKind(args[0]); !ok {
				return usageError(fmt.Errorf("unknown kind %q: want pod, rc, service or node", args[0]))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			kind, _ := resourceKind(args[0])
			w := cmd.OutOrStdout()
			d := describer{c: c, ns: namespace, name: args[1], o: f.options(false, false), color: f.color(w)}
			return d.describe(cmd.Context(), kind, w)
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	f.register(cmd)
	cmd.Flags().StringVarP(&namespace, "namespace", "n", api.DefaultNamespace, "namespace")
	return cmd
}

// describer gathers what one describe needs from the API.
type describer struct {
	c     *client.Client
	ns    string
	name  string
	o     printers.Options
	color bool
}

func (d describer) describe(ctx context.Context, kind string, w io.Writer) error {
	evs, _, err := d.c.Events(ctx, 0, 0, 0)
	if err != nil {
		return fmt.Errorf("list events: %w", err)
	}
	switch kind {
	case "pods":
		pods, _, err := d.c.Pods(ctx, client.QueryOptions{Namespace: d.ns})
		if err != nil {
			return fmt.Errorf("list pods: %w", err)
		}
		p := findPod(pods, d.ns, d.name)
		if p == nil {
			return fmt.Errorf("pod %q not found in namespace %s", d.name, d.ns)
		}
		src, err := d.podSource(ctx, p)
		if err != nil {
			return err
		}
		return printers.DescribePod(w, p, src, eventsAbout(evs, p.Key()), d.o, d.color)
	case "replicationcontrollers":
		rcs, _, err := d.c.RCs(ctx, client.QueryOptions{})
		if err != nil {
			return fmt.Errorf("list replication controllers: %w", err)
		}
		for i := range rcs {
			r := &rcs[i]
			if sameNS(r.Namespace, d.ns) && r.Name == d.name {
				key := api.Key("ReplicationController", nsOrDefault(r.Namespace), r.Name)
				pods, _, err := d.c.Pods(ctx, client.QueryOptions{Namespace: d.ns})
				if err != nil {
					return fmt.Errorf("list pods: %w", err)
				}
				owned := podsOwnedBy(pods, key)
				return printers.DescribeRC(w, r, owned, eventsAbout(evs, append([]string{key}, podKeys(owned)...)...), d.o, d.color)
			}
		}
		return fmt.Errorf("replicationcontroller %q not found in namespace %s", d.name, d.ns)
	case "services":
		svcs, _, err := d.c.Services(ctx, client.QueryOptions{})
		if err != nil {
			return fmt.Errorf("list services: %w", err)
		}
		for i := range svcs {
			s := &svcs[i]
			if sameNS(s.Namespace, d.ns) && s.Name == d.name {
				return printers.DescribeService(w, s, eventsAbout(evs, s.Key()), d.o, d.color)
			}
		}
		return fmt.Errorf("service %q not found in namespace %s", d.name, d.ns)
	default: // nodes
		nodes, _, err := d.c.Nodes(ctx, client.QueryOptions{})
		if err != nil {
			return fmt.Errorf("list nodes: %w", err)
		}
		for i := range nodes {
			if nodes[i].Name == d.name {
				pods, _, err := d.c.Pods(ctx, client.QueryOptions{})
				if err != nil {
					return fmt.Errorf("list pods: %w", err)
				}
				var on []api.PodRecord
				for _, p := range pods {
					if p.Node == d.name {
						on = append(on, p)
					}
				}
				return printers.DescribeNode(w, &nodes[i], on, eventsAbout(evs, api.Key("Node", "", d.name)), d.o, d.color)
			}
		}
		return fmt.Errorf("node %q not found", d.name)
	}
}

// podSource finds where Git declares a pod: its RC's file:line for a controller's pod.
// A bare Pod's source is not in the API's read views, so it stays unknown.
func (d describer) podSource(ctx context.Context, p *api.PodRecord) (api.Source, error) {
	if !strings.HasPrefix(p.Owner, "ReplicationController/") {
		return api.Source{}, nil
	}
	rcs, _, err := d.c.RCs(ctx, client.QueryOptions{})
	if err != nil {
		return api.Source{}, fmt.Errorf("list replication controllers: %w", err)
	}
	for _, r := range rcs {
		if api.Key("ReplicationController", nsOrDefault(r.Namespace), r.Name) == p.Owner {
			return r.Source, nil
		}
	}
	return api.Source{}, nil
}

func findPod(pods []api.PodRecord, ns, name string) *api.PodRecord {
	for i := range pods {
		if sameNS(pods[i].Namespace, ns) && pods[i].Name == name {
			return &pods[i]
		}
	}
	return nil
}

func podsOwnedBy(pods []api.PodRecord, owner string) []api.PodRecord {
	var out []api.PodRecord
	for _, p := range pods {
		if p.Owner == owner {
			out = append(out, p)
		}
	}
	return out
}

func podKeys(pods []api.PodRecord) []string {
	out := make([]string, len(pods))
	for i := range pods {
		out[i] = pods[i].Key()
	}
	return out
}

// eventsAbout keeps the events whose object is one of keys.
func eventsAbout(evs []api.Event, keys ...string) []api.Event {
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	var out []api.Event
	for _, e := range evs {
		if want[e.Object] {
			out = append(out, e)
		}
	}
	return out
}

func nsOrDefault(ns string) string {
	if ns == "" {
		return api.DefaultNamespace
	}
	return ns
}

func sameNS(a, b string) bool { return nsOrDefault(a) == nsOrDefault(b) }
