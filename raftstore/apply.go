package raftstore

import (
	"fmt"

	"github.com/keelson/keelson/api"
	"github.com/keelson/keelson/apply"
)

// nodePodsIndex names the index entry of the pods assigned to one node, which is what
// an agent's NodeView blocking query waits on.
func nodePodsIndex(node string) string { return "pods/node/" + node }

func (f *FSM) applySetRevision(tx *txn, body []byte) error {
	rev := decode[api.Revision](SetRevisionType, body)
	if !rev.Valid() {
		return fmt.Errorf("revision %s has %d errors: refuse it instead", rev.Commit, len(rev.Errors))
	}
	m, err := tx.meta()
	if err != nil {
		return err
	}
	m.Revision = &rev
	// A good commit supersedes any earlier refused one.
	if m.Refused != nil && m.Refused.Commit != rev.Commit {
		m.Refused = nil
	}
	return tx.putMeta(m)
}

func (f *FSM) applyRefuseRevision(tx *txn, body []byte) error {
	r := decode[api.RefusedRevision](RefuseRevisionType, body)
	m, err := tx.meta()
	if err != nil {
		return err
	}
	m.Refused = &r
	return tx.putMeta(m)
}

func (f *FSM) applySetSourceStatus(tx *txn, body []byte) error {
	s := decode[api.SourceStatus](SetSourceStatusType, body)
	m, err := tx.meta()
	if err != nil {
		return err
	}
	m.Source = s
	return tx.putMeta(m)
}

// The cluster-state commands run the shared apply functions over the transaction
// (txState), the same code reconciler.Simulate runs over its maps.

func (f *FSM) applyRegisterNode(tx *txn, body []byte) error {
	req := decode[RegisterNodeRequest](RegisterNodeType, body)
	st := f.txState(tx)
	if err := apply.RegisterNode(st, req.Node, req.At); err != nil {
		return err
	}
	return st.finish()
}

func (f *FSM) applyChanges(tx *txn, body []byte) error {
	req := decode[ApplyChangesRequest](ApplyChangesType, body)
	c := req.Changes
	if req.SpecsOnce {
		fillSpecs(c.UpsertPods)
	}
	internPods(c.UpsertPods)
	internReports(c.SetPodStatus)
	if req.ObjectStatusSet && c.ObjectStatus == nil {
		c.ObjectStatus = []api.ObjectStatus{}
	}
	st := f.txState(tx)
	if err := apply.Changes(st, c); err != nil {
		return err
	}
	return st.finish()
}

func (f *FSM) applyReportPodStatus(tx *txn, body []byte) error {
	req := decode[ReportPodStatusRequest](ReportPodStatusType, body)
	internReports(req.Reports)
	st := f.txState(tx)
	if err := apply.StatusReports(st, req.Reports); err != nil {
		return err
	}
	return st.finish()
}

func (f *FSM) applyRegisterServer(tx *txn, body []byte) error {
	rec := decode[ServerRecord](RegisterServerType, body)
	if rec.ID == "" {
		return fmt.Errorf("register server: empty id")
	}
	if err := tx.Insert(tableServers, &rec); err != nil {
		return fmt.Errorf("write server %s: %w", rec.ID, err)
	}
	return tx.touch(tableServers)
}

func (f *FSM) applyRemoveServer(tx *txn, body []byte) error {
	req := decode[RemoveServerRequest](RemoveServerType, body)
	if _, err := tx.DeleteAll(tableServers, "id", req.ID); err != nil {
		return fmt.Errorf("delete server %s: %w", req.ID, err)
	}
	return tx.touch(tableServers)
}
