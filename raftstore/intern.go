package raftstore

import (
	"unique"

	"github.com/keelson/keelson/api"
)

// Interning: the strings a decoded entry repeats across many records (namespace,
// owner, spec hash, commit, node, phases, container names and images) would each be a
// separate allocation per pod. The FSM replaces them by one canonical copy as soon as
// an entry is decoded, while the decoded records are still its own. unique.Make keeps
// its table weakly, so strings no record uses any more are collected.

func intern(s string) string {
	if s == "" {
		return s
	}
	return unique.Make(s).Value()
}

func internPods(pods []api.PodRecord) {
	for i := range pods {
		p := &pods[i]
		p.Namespace, p.Owner, p.SpecHash = intern(p.Namespace), intern(p.Owner), intern(p.SpecHash)
		p.Commit, p.Node = intern(p.Commit), intern(p.Node)
		internStatus(&p.Status)
	}
}

func internReports(reports []api.PodStatusReport) {
	for i := range reports {
		reports[i].Node = intern(reports[i].Node)
		internStatus(&reports[i].Status)
	}
}

func internStatus(s *api.PodStatus) {
	s.Phase = api.PodPhase(intern(string(s.Phase)))
	s.Reason = intern(s.Reason)
	for _, cs := range [][]api.ContainerStatus{s.Containers, s.InitContainers} {
		for i := range cs {
			c := &cs[i]
			c.Name, c.Image, c.Reason = intern(c.Name), intern(c.Image), intern(c.Reason)
			c.State = api.ContainerState(intern(string(c.State)))
		}
	}
}
