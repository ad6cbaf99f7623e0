package reconciler

import (
	"cmp"
	"maps"
	"slices"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/apply"
)

// Apply returns a copy of in with the batch c applied by apply.Changes, the function
// the store's FSM runs, so Simulate (and tests) step the loop through the states the
// cluster passes through. in is not modified. On error (a batch the store would reject
// whole) it returns in unchanged with the error. Events are not kept: Observed has none.
func Apply(in Observed, c api.Changes) (Observed, error) {
	return ApplyWith(in, func(st apply.State) error { return apply.Changes(st, c) })
}

// ApplyWith returns a copy of in changed by fn, one of package apply's functions
// (apply.StatusReports for agent reports, apply.RegisterNode, ...), all or nothing.
func ApplyWith(in Observed, fn func(apply.State) error) (Observed, error) {
	st := newMemState(in)
	if err := fn(st); err != nil {
		return in, err
	}
	return st.observed(in), nil
}

// memState is apply.State over maps keyed like the store's tables. It points at the
// records of the Observed it was made from and replaces them on write, never changing
// them, so that Observed stays valid.
type memState struct {
	pods      map[string]*api.PodRecord
	specs     map[[2]string]*api.PodRecord // owner, spec hash → a pod with that spec
	nodes     map[string]*api.Node
	services  map[string]*api.ServiceRecord
	endpoints map[string]*api.Endpoints
	objects   []api.ObjectStatus
	status    api.ClusterStatus
}

var _ apply.State = (*memState)(nil)

func newMemState(in Observed) *memState {
	s := &memState{
		pods:      make(map[string]*api.PodRecord, len(in.Pods)),
		specs:     map[[2]string]*api.PodRecord{},
		nodes:     make(map[string]*api.Node, len(in.Nodes)),
		services:  make(map[string]*api.ServiceRecord, len(in.Services)),
		endpoints: make(map[string]*api.Endpoints, len(in.Endpoints)),
		objects:   in.ObjectStatus,
		status:    in.Status,
	}
	for i := range in.Pods {
		s.pods[in.Pods[i].UID] = &in.Pods[i]
	}
	for i := range in.Nodes {
		s.nodes[in.Nodes[i].Name] = &in.Nodes[i]
	}
	for i := range in.Services {
		s.services[in.Services[i].Key()] = &in.Services[i]
	}
	for i := range in.Endpoints {
		s.endpoints[in.Endpoints[i].Key()] = &in.Endpoints[i]
	}
	return s
}

// observed returns in with the state's tables, each sorted the way the store lists
// them (pods by UID, nodes by name, services and endpoints by key).
func (s *memState) observed(in Observed) Observed {
	out := in
	out.Pods = sortedValues(s.pods, func(a, b *api.PodRecord) int { return cmp.Compare(a.UID, b.UID) })
	out.Nodes = sortedValues(s.nodes, func(a, b *api.Node) int { return cmp.Compare(a.Name, b.Name) })
	out.Services = sortedValues(s.services, func(a, b *api.ServiceRecord) int { return cmp.Compare(a.Key(), b.Key()) })
	out.Endpoints = sortedValues(s.endpoints, func(a, b *api.Endpoints) int { return cmp.Compare(a.Key(), b.Key()) })
	out.ObjectStatus, out.Status = s.objects, s.status
	return out
}

func sortedValues[T any](m map[string]*T, by func(a, b *T) int) []T {
	ptrs := slices.Collect(maps.Values(m))
	slices.SortFunc(ptrs, by)
	out := make([]T, len(ptrs))
	for i, p := range ptrs {
		out[i] = *p
	}
	return out
}

func (s *memState) Pod(uid string) (*api.PodRecord, error) { return s.pods[uid], nil }

func (s *memState) PodWithSpec(owner, specHash string) (*api.PodRecord, error) {
	return s.specs[[2]string{owner, specHash}], nil
}

func (s *memState) PutPod(p, _ *api.PodRecord) error {
	cp := *p
	s.pods[p.UID] = &cp
	if p.SpecHash != "" {
		s.specs[[2]string{p.Owner, p.SpecHash}] = &cp
	}
	return nil
}

func (s *memState) DeletePod(p *api.PodRecord) error {
	delete(s.pods, p.UID)
	return nil
}

func (s *memState) PutService(r *api.ServiceRecord) error {
	cp := *r
	s.services[r.Key()] = &cp
	return nil
}

func (s *memState) DeleteService(key string) error {
	delete(s.services, key)
	return nil
}

func (s *memState) PutEndpoints(e *api.Endpoints) error {
	cp := *e
	s.endpoints[e.Key()] = &cp
	return nil
}

func (s *memState) DeleteEndpoints(key string) error {
	delete(s.endpoints, key)
	return nil
}

func (s *memState) Node(name string) (*api.Node, error) { return s.nodes[name], nil }

func (s *memState) PutNode(n *api.Node) error {
	cp := *n
	s.nodes[n.Name] = &cp
	return nil
}

func (s *memState) DeleteNode(name string) error {
	delete(s.nodes, name)
	return nil
}

// ReplaceObjectStatus keeps the table as the store does: one row per key (the last
// wins), sorted by key.
func (s *memState) ReplaceObjectStatus(objs []api.ObjectStatus) error {
	byKey := make(map[string]*api.ObjectStatus, len(objs))
	for i := range objs {
		byKey[objs[i].Key] = &objs[i]
	}
	s.objects = sortedValues(byKey, func(a, b *api.ObjectStatus) int { return cmp.Compare(a.Key, b.Key) })
	return nil
}

func (s *memState) SetClusterStatus(cs api.ClusterStatus) error {
	s.status = cs
	return nil
}

// AppendEvents drops events: Plan never reads them.
func (s *memState) AppendEvents([]api.Event) error { return nil }
