package raftlog

import (
	"bytes"
	"io"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
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
	h.apply(decideCmd(idA, abort, "kA"))
	h.apply(prepareCmd(idA)) // no change: re-read state below
	after := h.f.Digest()
	h2 := populated(t)
	h2.apply(decideCmd(idA, abort, "kA"))
	h2.apply(prepareCmd(idA))
	if after != h2.f.Digest() || before == after {
		t.Error("a returned copy aliases the FSM's state")
	}
}

// A Result shares the stored transaction instead of copying it (only the
// leader's proposer reads it), which is safe because a stored record never
// changes once its apply returned: later entries that change the
// transaction store a new record, and the Result a caller holds still says
// what the entry did.
func TestResultsAreSnapshotsOfTheirEntry(t *testing.T) {
	h := newHarness(t)
	h.applyAll(registerCmd("bank-a", "t1", 1), registerCmd("bank-b", "t2", 1))
	decided := h.apply(decideCmd(idA, commit, "kA", twoBranches(bPrepared, bPrepared)...))
	if decided.Err != nil || !decided.Decided {
		t.Fatalf("decide: %+v", decided)
	}
	want := proto.Clone(decided.Tx).(*tmv1.Transaction)
	wantBound := proto.Clone(decided.Bound).(*tmv1.Transaction)
	h.apply(ackCmd(ack(idA, "b1", bCommitted), ack(idA, "b2", bCommitted)))
	if got := h.get(idA); !got.GetCompleted() || proto.Equal(got, want) {
		t.Fatalf("the acks did not complete the record: %v", got)
	}
	h.apply(collectCmd(1 << 62))
	if !proto.Equal(decided.Tx, want) || !proto.Equal(decided.Bound, wantBound) {
		t.Errorf("a later entry changed an earlier Result:\n got %v\nwant %v", decided.Tx, want)
	}
}

// The lock-free directory (ParticipantTarget, CoordinatorEndpoints,
// ClusterID) follows every apply that changes the registry, the address
// book or the cluster id, and a Restore, and agrees with the locked reads.
func TestDirectoryFollowsTheState(t *testing.T) {
	h := newHarness(t)
	check := func(when string, targets map[string]string, endpoints []string, clusterID string) {
		t.Helper()
		for name, want := range targets {
			got, ok := h.f.ParticipantTarget(name)
			p, pok := h.f.Participant(name)
			if want == "" {
				if ok || pok {
					t.Errorf("%s: %s still has target %q", when, name, got)
				}
				continue
			}
			if !ok || got != want || !pok || p.GetTarget() != want {
				t.Errorf("%s: target of %s = %q %v (registry %q), want %q", when, name, got, ok, p.GetTarget(), want)
			}
		}
		if got := h.f.CoordinatorEndpoints(); !slices.Equal(got, endpoints) {
			t.Errorf("%s: endpoints %v, want %v", when, got, endpoints)
		}
		if got := h.f.ClusterID(); got != clusterID {
			t.Errorf("%s: cluster id %q, want %q", when, got, clusterID)
		}
	}
	check("empty", map[string]string{"bank-a": ""}, nil, "")
	h.applyAll(registerCmd("bank-a", "127.0.0.1:1", 1), registerCmd("bank-b", "127.0.0.1:2", 1),
		&tmlogv1.SetNodeCommand{Id: "n2", GrpcAddress: "127.0.0.1:12", RaftAddress: "127.0.0.1:22"},
		&tmlogv1.SetNodeCommand{Id: "n1", GrpcAddress: "127.0.0.1:11", RaftAddress: "127.0.0.1:21"},
		&tmlogv1.SetNodeCommand{Id: "n3", RaftAddress: "127.0.0.1:23"},
		&tmlogv1.InitClusterCommand{ClusterId: "c-1"})
	check("registered", map[string]string{"bank-a": "127.0.0.1:1", "bank-b": "127.0.0.1:2"},
		[]string{"127.0.0.1:11", "127.0.0.1:12"}, "c-1")
	h.applyAll(registerCmd("bank-a", "127.0.0.1:9", 2), &tmlogv1.RemoveParticipantCommand{Name: "bank-b", TimeUnixNano: 3},
		&tmlogv1.RemoveNodeCommand{Id: "n2"}, &tmlogv1.InitClusterCommand{ClusterId: "c-2"})
	check("changed", map[string]string{"bank-a": "127.0.0.1:9", "bank-b": ""}, []string{"127.0.0.1:11"}, "c-1")
	h.f.CoordinatorEndpoints()[0] = "scribbled"
	check("after the caller changed its slice", nil, []string{"127.0.0.1:11"}, "c-1")

	data, err := NewFSM().MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.f.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
		t.Fatal(err)
	}
	check("restored an empty state", map[string]string{"bank-a": ""}, nil, "")
}
