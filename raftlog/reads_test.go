package raftlog

import (
	"testing"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

func listIDs(rs []Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Tx.GetTxId())
	}
	return out
}

func TestListAndUnfinished(t *testing.T) {
	h := newHarness(t)
	ids := []string{txid(5, 0), txid(5, 1), txid(6, 0), txid(7, 0)}
	withLabel := beginCmd(ids[3], "")
	withLabel.Labels = map[string]string{"app": "test", "shard": "2"}
	h.applyAll(
		decideCmd(ids[2], commit, "", twoBranches(bReadOnly, bReadOnly)...), // completed
		beginCmd(ids[0], ""),
		decideCmd(ids[1], abort, "", twoBranches(bPrepared, bPrepared)...), // incomplete
		withLabel,
	)
	tests := []struct {
		name   string
		filter ListFilter
		want   []string
	}{
		{"all, sorted", ListFilter{}, ids},
		{"state", ListFilter{State: active}, []string{ids[0], ids[3]}},
		{"labels", ListFilter{Labels: map[string]string{"shard": "2"}}, []string{ids[3]}},
		{"label value must match", ListFilter{Labels: map[string]string{"shard": "3"}}, nil},
		{"after is exclusive", ListFilter{After: ids[1]}, ids[2:]},
		{"limit", ListFilter{Limit: 2}, ids[:2]},
		{"after and limit", ListFilter{After: ids[0], Limit: 1}, ids[1:2]},
	}
	for _, tc := range tests {
		got := listIDs(h.f.List(tc.filter))
		if len(got) != len(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
				break
			}
		}
	}
	if got := listIDs(h.f.Unfinished()); len(got) != 3 || got[0] != ids[0] || got[1] != ids[1] || got[2] != ids[3] {
		t.Errorf("Unfinished = %v", got)
	}
}

// Reads return deep copies: changing them changes nothing in the FSM.
func TestReadsReturnCopies(t *testing.T) {
	h := populated(t)
	before := h.f.Digest()
	rec, _ := h.f.Get(idB)
	rec.Tx.State = tmv1.TransactionState_TRANSACTION_STATE_ABORTED
	rec.Tx.Branches[0].State = bHazard
	for _, r := range h.f.List(ListFilter{}) {
		if r.Tx.Labels != nil {
			r.Tx.Labels["x"] = "y"
		}
		r.Tx.Branches = nil
	}
	_, fp, _ := h.f.Binding("kA")
	fp[0]++
	p, _ := h.f.Participant("bank-a")
	p.Target = "evil"
	h.f.Participants()[0].Name = "evil"
	h.f.Nodes()[0].GrpcAddress = "evil"
	n, _ := h.f.Node("n1")
	n.RaftAddress = "evil"
	r := h.apply(decideCmd(idA, abort, "kA"))
	r.Tx.TxId, r.Bound.TxId = "evil", "evil"
	h.apply(prepareCmd(idA)) // no change: re-read state below
	after := h.f.Digest()
	h2 := populated(t)
	h2.apply(decideCmd(idA, abort, "kA"))
	h2.apply(prepareCmd(idA))
	if after != h2.f.Digest() || before == after {
		t.Error("a returned copy aliases the FSM's state")
	}
}
