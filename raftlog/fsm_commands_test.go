package raftlog

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
)

// fsmCase applies setup, then cmd, and checks the result and the state.
type fsmCase struct {
	name  string
	setup []proto.Message
	cmd   proto.Message
	check func(t *testing.T, h *harness, r Result)
}

func runFSMCases(t *testing.T, cases []fsmCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.applyAll(tc.setup...)
			r := h.apply(tc.cmd)
			if r.Term != 1 || r.Index != h.index {
				t.Errorf("Result term/index = %d/%d, want 1/%d", r.Term, r.Index, h.index)
			}
			tc.check(t, h, r)
		})
	}
}

func wantErr(t *testing.T, r Result, want error) {
	t.Helper()
	if !errors.Is(r.Err, want) || (want == nil && r.Err != nil) {
		t.Errorf("Result.Err = %v, want %v", r.Err, want)
	}
}

func wantState(t *testing.T, tx *tmv1.Transaction, want tmv1.TransactionState) {
	t.Helper()
	if tx.GetState() != want {
		t.Errorf("state = %v, want %v (tx %v)", tx.GetState(), want, tx)
	}
}

var (
	idA = txid(10, 1)
	idB = txid(10, 2)
)

func TestApplyBarrierAndInitCluster(t *testing.T) {
	runFSMCases(t, []fsmCase{
		{"barrier returns its position and changes nothing", []proto.Message{beginCmd(idA, "")}, &tmlogv1.BarrierCommand{},
			func(t *testing.T, h *harness, r Result) {
				wantErr(t, r, nil)
				if r.Tx != nil || h.f.Len() != 1 {
					t.Errorf("barrier touched state: %v", r)
				}
			}},
		{"init cluster sets the id", nil, &tmlogv1.InitClusterCommand{ClusterId: "c1"},
			func(t *testing.T, h *harness, r Result) {
				if h.f.ClusterID() != "c1" {
					t.Errorf("cluster id %q", h.f.ClusterID())
				}
			}},
		{"init cluster is once", []proto.Message{&tmlogv1.InitClusterCommand{ClusterId: "c1"}}, &tmlogv1.InitClusterCommand{ClusterId: "c2"},
			func(t *testing.T, h *harness, r Result) {
				if h.f.ClusterID() != "c1" {
					t.Errorf("cluster id %q, want c1", h.f.ClusterID())
				}
			}},
	})
}

func TestApplyBegin(t *testing.T) {
	runFSMCases(t, []fsmCase{
		{"creates an ACTIVE record and binds its key", nil, beginCmd(idA, "k1", twoBranches(bPrepared, 0)...),
			func(t *testing.T, h *harness, r Result) {
				wantErr(t, r, nil)
				wantState(t, r.Tx, active)
				if got := branchStates(r.Tx); len(got) != 2 || got[0] != bEnlisted || got[1] != bEnlisted {
					t.Errorf("branch states %v, want ENLISTED", got)
				}
				if r.Tx.GetCreateTime().AsTime().UnixNano() != 1_000 || r.Tx.GetDeadline().AsTime().UnixNano() != 60_000 ||
					r.Tx.GetLabels()["app"] != "test" || r.Tx.GetIdempotencyKey() != "k1" {
					t.Errorf("record fields: %v", r.Tx)
				}
				if r.Bound.GetTxId() != idA || len(r.BoundFingerprint) != 32 {
					t.Errorf("Bound = %v", r.Bound)
				}
				if id, _, ok := h.f.Binding("k1"); !ok || id != idA {
					t.Errorf("binding k1 = %q %v", id, ok)
				}
				if rec, _ := h.f.Get(idA); rec.MintIndex != 10 || rec.MintTerm != 1 {
					t.Errorf("mint %d/%d", rec.MintTerm, rec.MintIndex)
				}
			}},
		{"same tx id again changes nothing", []proto.Message{beginCmd(idA, "")}, beginCmd(idA, "", twoBranches(0, 0)...),
			func(t *testing.T, h *harness, r Result) {
				wantErr(t, r, nil)
				if r.Tx.GetTxId() != idA || len(r.Tx.GetBranches()) != 0 {
					t.Errorf("Tx = %v, want the first record", r.Tx)
				}
			}},
		{"bound key creates no record", []proto.Message{beginCmd(idA, "k1")}, beginCmd(idB, "k1"),
			func(t *testing.T, h *harness, r Result) {
				wantErr(t, r, nil)
				if r.Tx != nil || r.Bound.GetTxId() != idA {
					t.Errorf("Tx %v Bound %v, want nil and %s", r.Tx, r.Bound, idA)
				}
				if _, ok := h.f.Get(idB); ok || h.f.Len() != 1 {
					t.Error("a record was created for a bound key")
				}
			}},
		{"minted at or below the gc floor", collectedAt(20), beginCmd(txid(20, 9), ""),
			func(t *testing.T, h *harness, r Result) {
				wantErr(t, r, ErrTxTooOld)
				if h.f.Len() != 0 {
					t.Error("record created")
				}
			}},
	})
}

// collectedAt is a setup that leaves the gc floor at mint index floor.
func collectedAt(floor uint64) []proto.Message {
	id := txid(floor, 0)
	return []proto.Message{decideCmd(id, abort, ""), collectCmd(1 << 40)}
}

func TestApplyEnlist(t *testing.T) {
	b3 := br("b3", "bank-c", "p3", 0)
	runFSMCases(t, []fsmCase{
		{"appends an ENLISTED branch", []proto.Message{beginCmd(idA, "", twoBranches(0, 0)...)}, enlistCmd(idA, br("b3", "bank-c", "p3", bPrepared)),
			func(t *testing.T, h *harness, r Result) {
				wantErr(t, r, nil)
				if got := r.Tx.GetBranches(); len(got) != 3 || got[2].GetBranchId() != "b3" || got[2].GetState() != bEnlisted {
					t.Errorf("branches %v", got)
				}
			}},
		{"identical retry changes nothing", []proto.Message{beginCmd(idA, ""), enlistCmd(idA, b3)}, enlistCmd(idA, b3),
			func(t *testing.T, h *harness, r Result) {
				wantErr(t, r, nil)
				if len(r.Tx.GetBranches()) != 1 {
					t.Errorf("branches %v", r.Tx.GetBranches())
				}
			}},
		{"same id, other payload", []proto.Message{beginCmd(idA, ""), enlistCmd(idA, b3)}, enlistCmd(idA, br("b3", "bank-c", "other", 0)),
			func(t *testing.T, h *harness, r Result) {
				wantErr(t, r, ErrDuplicateBranch)
				if string(h.get(idA).GetBranches()[0].GetPayload()) != "p3" {
					t.Error("branch changed")
				}
			}},
		{"same id, other participant", []proto.Message{beginCmd(idA, ""), enlistCmd(idA, b3)}, enlistCmd(idA, br("b3", "bank-x", "p3", 0)),
			func(t *testing.T, h *harness, r Result) { wantErr(t, r, ErrDuplicateBranch) }},
		{"frozen", []proto.Message{beginCmd(idA, ""), prepareCmd(idA)}, enlistCmd(idA, b3),
			func(t *testing.T, h *harness, r Result) {
				wantErr(t, r, ErrNotActive)
				if r.Tx.GetTxId() != idA || len(h.get(idA).GetBranches()) != 0 {
					t.Errorf("Tx %v", r.Tx)
				}
			}},
		{"decided", []proto.Message{beginCmd(idA, ""), decideCmd(idA, abort, "")}, enlistCmd(idA, b3),
			func(t *testing.T, h *harness, r Result) { wantErr(t, r, ErrNotActive) }},
		{"absent", nil, enlistCmd(idA, b3),
			func(t *testing.T, h *harness, r Result) { wantErr(t, r, ErrTxNotFound) }},
		{"absent below the gc floor", collectedAt(20), enlistCmd(txid(19, 0), b3),
			func(t *testing.T, h *harness, r Result) { wantErr(t, r, ErrTxTooOld) }},
		{"absent above the gc floor", collectedAt(20), enlistCmd(txid(21, 0), b3),
			func(t *testing.T, h *harness, r Result) { wantErr(t, r, ErrTxNotFound) }},
	})
}

func TestApplyPrepare(t *testing.T) {
	runFSMCases(t, []fsmCase{
		{"ACTIVE becomes PREPARING", []proto.Message{beginCmd(idA, "", twoBranches(0, 0)...)}, prepareCmd(idA),
			func(t *testing.T, h *harness, r Result) {
				wantErr(t, r, nil)
				wantState(t, r.Tx, preparing)
				wantState(t, h.get(idA), preparing)
			}},
		{"PREPARING stays", []proto.Message{beginCmd(idA, ""), prepareCmd(idA)}, prepareCmd(idA),
			func(t *testing.T, h *harness, r Result) { wantErr(t, r, nil); wantState(t, r.Tx, preparing) }},
		{"decided stays", []proto.Message{beginCmd(idA, ""), decideCmd(idA, abort, "")}, prepareCmd(idA),
			func(t *testing.T, h *harness, r Result) { wantErr(t, r, nil); wantState(t, r.Tx, aborted) }},
		{"absent", nil, prepareCmd(idA),
			func(t *testing.T, h *harness, r Result) { wantErr(t, r, ErrTxNotFound) }},
		{"absent below the gc floor", collectedAt(20), prepareCmd(txid(20, 5)),
			func(t *testing.T, h *harness, r Result) { wantErr(t, r, ErrTxTooOld) }},
	})
}

func TestApplyDecideBasics(t *testing.T) {
	runFSMCases(t, []fsmCase{
		{"one-shot COMMIT", nil, decideCmd(idA, commit, "k", twoBranches(bPrepared, bReadOnly)...),
			func(t *testing.T, h *harness, r Result) {
				wantErr(t, r, nil)
				wantState(t, r.Tx, committed)
				if !r.Decided || r.Tx.GetDecisionIndex() != h.index || r.Tx.GetDecisionTerm() != 1 ||
					r.Tx.GetDecideTime().AsTime().UnixNano() != 2_000 || r.Tx.GetCompleted() {
					t.Errorf("decision fields: %v", r)
				}
				if got := branchStates(r.Tx); got[0] != bPrepared || got[1] != bReadOnly {
					t.Errorf("votes %v", got)
				}
				if r.Bound.GetTxId() != idA {
					t.Errorf("Bound %v", r.Bound)
				}
			}},
		{"one-shot COMMIT of read-only branches is completed", nil, decideCmd(idA, commit, "", twoBranches(bReadOnly, bReadOnly)...),
			func(t *testing.T, h *harness, r Result) { wantState(t, r.Tx, committed); checkCompleted(t, r.Tx, true) }},
		{"one-shot COMMIT without branches", nil, decideCmd(idA, commit, ""),
			func(t *testing.T, h *harness, r Result) { wantState(t, r.Tx, committed); checkCompleted(t, r.Tx, true) }},
		{"one-shot ABORT after a NO vote", nil, decideCmd(idA, abort, "", twoBranches(bVotedNo, bPrepared)...),
			func(t *testing.T, h *harness, r Result) {
				wantState(t, r.Tx, aborted)
				checkCompleted(t, r.Tx, false)
			}},
		{"one-shot ABORT with nothing prepared is completed", nil, decideCmd(idA, abort, "", twoBranches(bVotedNo, bReadOnly)...),
			func(t *testing.T, h *harness, r Result) { checkCompleted(t, r.Tx, true) }},
		{"non-vote states are stored as ENLISTED", nil, decideCmd(idA, abort, "", twoBranches(bCommitted, 0)...),
			func(t *testing.T, h *harness, r Result) {
				if got := branchStates(r.Tx); got[0] != bEnlisted || got[1] != bEnlisted {
					t.Errorf("states %v", got)
				}
				checkCompleted(t, r.Tx, false)
			}},
		{"ABORT of an ACTIVE record", []proto.Message{beginCmd(idA, "", twoBranches(0, 0)...)}, decideCmd(idA, abort, ""),
			func(t *testing.T, h *harness, r Result) {
				wantState(t, r.Tx, aborted)
				if !r.Decided || r.Tx.GetCreateTime().AsTime().UnixNano() != 1_000 {
					t.Errorf("result %v", r)
				}
			}},
		{"COMMIT of a PREPARING record with all YES", []proto.Message{beginCmd(idA, "", twoBranches(0, 0)...), prepareCmd(idA)},
			decideCmd(idA, commit, "", twoBranches(bPrepared, bReadOnly)...),
			func(t *testing.T, h *harness, r Result) {
				wantState(t, r.Tx, committed)
				if got := branchStates(r.Tx); got[0] != bPrepared || got[1] != bReadOnly {
					t.Errorf("votes not copied: %v", got)
				}
			}},
		{"ABORT of a PREPARING record copies known votes", []proto.Message{beginCmd(idA, "", twoBranches(0, 0)...), prepareCmd(idA)},
			decideCmd(idA, abort, "", &tmv1.Branch{BranchId: "b2", Participant: "bank-b", State: bVotedNo, Reason: "NSF"}),
			func(t *testing.T, h *harness, r Result) {
				got := r.Tx.GetBranches()
				if got[0].GetState() != bEnlisted || got[1].GetState() != bVotedNo || got[1].GetReason() != "NSF" {
					t.Errorf("branches %v", got)
				}
			}},
		{"ABORT does not copy a vote from another participant", []proto.Message{beginCmd(idA, "", twoBranches(0, 0)...), prepareCmd(idA)},
			decideCmd(idA, abort, "", &tmv1.Branch{BranchId: "b2", Participant: "bank-x", State: bVotedNo}),
			func(t *testing.T, h *harness, r Result) {
				if got := branchStates(r.Tx); got[1] != bEnlisted {
					t.Errorf("states %v", got)
				}
			}},
	})
}

func checkCompleted(t *testing.T, tx *tmv1.Transaction, want bool) {
	t.Helper()
	if tx.GetCompleted() != want {
		t.Errorf("completed = %v, want %v (branches %v)", tx.GetCompleted(), want, branchStates(tx))
	}
}

func TestApplyAck(t *testing.T) {
	committedTx := []proto.Message{decideCmd(idA, commit, "", twoBranches(bPrepared, bPrepared)...)}
	abortedTx := []proto.Message{decideCmd(idA, abort, "", twoBranches(bPrepared, bVotedNo)...)}
	runFSMCases(t, []fsmCase{
		{"COMMITTED acks complete a committed tx", committedTx, ackCmd(ack(idA, "b1", bCommitted), ack(idA, "b2", bCommitted)),
			func(t *testing.T, h *harness, r Result) {
				wantErr(t, r, nil)
				if r.Tx != nil {
					t.Error("ACK result names a transaction")
				}
				tx := h.get(idA)
				checkCompleted(t, tx, true)
				if got := branchStates(tx); got[0] != bCommitted || got[1] != bCommitted {
					t.Errorf("states %v", got)
				}
			}},
		{"one ack is not completion", committedTx, ackCmd(ack(idA, "b1", bCommitted)),
			func(t *testing.T, h *harness, r Result) { checkCompleted(t, h.get(idA), false) }},
		{"ABORTED ack on a committed tx is ignored", committedTx, ackCmd(ack(idA, "b1", bAborted)),
			func(t *testing.T, h *harness, r Result) {
				if got := branchStates(h.get(idA)); got[0] != bPrepared {
					t.Errorf("states %v", got)
				}
			}},
		{"COMMITTED ack on an aborted tx is ignored, ABORTED completes", abortedTx,
			ackCmd(ack(idA, "b1", bCommitted), ack(idA, "b1", bAborted), ack(idA, "b2", bAborted)),
			func(t *testing.T, h *harness, r Result) {
				tx := h.get(idA)
				if got := branchStates(tx); got[0] != bAborted || got[1] != bVotedNo {
					t.Errorf("states %v (VOTED_NO must stay)", got)
				}
				checkCompleted(t, tx, true)
			}},
		{"hazard on either outcome, end states kept", committedTx,
			ackCmd(ack(idA, "b1", bHazard), ack(idA, "b1", bCommitted), ack(idA, "b2", bCommitted), ack(idA, "b2", bHazard)),
			func(t *testing.T, h *harness, r Result) {
				tx := h.get(idA)
				if got := branchStates(tx); got[0] != bHazard || got[1] != bCommitted {
					t.Errorf("states %v", got)
				}
				checkCompleted(t, tx, true)
			}},
		{"undecided, unknown tx and unknown branch are ignored", []proto.Message{beginCmd(idB, "", twoBranches(0, 0)...)},
			ackCmd(ack(idB, "b1", bAborted), ack(idA, "b1", bCommitted), ack(idB, "zz", bHazard), ack(idB, "b1", bPrepared)),
			func(t *testing.T, h *harness, r Result) {
				wantErr(t, r, nil)
				if got := branchStates(h.get(idB)); got[0] != bEnlisted {
					t.Errorf("states %v", got)
				}
			}},
		{"a vote state is not an ack", committedTx, ackCmd(ack(idA, "b1", bReadOnly)),
			func(t *testing.T, h *harness, r Result) {
				if got := branchStates(h.get(idA)); got[0] != bPrepared {
					t.Errorf("states %v", got)
				}
			}},
	})
}

func TestApplyCollect(t *testing.T) {
	old := func(c *tmlogv1.DecideCommand) *tmlogv1.DecideCommand { c.DecideTimeUnixNano = 100; return c }
	idC, idD, idE, idF := txid(12, 0), txid(13, 0), txid(14, 0), txid(15, 0)
	setup := []proto.Message{
		old(decideCmd(idA, abort, "kA", twoBranches(bPrepared, bPrepared)...)),  // aborted, incomplete: goes
		old(decideCmd(idB, commit, "kB", twoBranches(bPrepared, bPrepared)...)), // committed, incomplete: stays
		old(decideCmd(idC, commit, "kC", twoBranches(bReadOnly, bReadOnly)...)), // committed, completed: goes
		old(decideCmd(idD, commit, "", twoBranches(bPrepared, bReadOnly)...)),   // hazard: stays
		ackCmd(ack(idD, "b1", bHazard)),
		beginCmd(idE, "kE"),         // active: stays
		decideCmd(idF, abort, "kF"), // decided after the cutoff: stays
		registerCmd("gone", "t", 1), &tmlogv1.RemoveParticipantCommand{Name: "gone", TimeUnixNano: 100},
		registerCmd("late", "t", 1), &tmlogv1.RemoveParticipantCommand{Name: "late", TimeUnixNano: 5_000},
	}
	runFSMCases(t, []fsmCase{
		{"retention rule", setup, collectCmd(1_000),
			func(t *testing.T, h *harness, r Result) {
				wantErr(t, r, nil)
				for id, want := range map[string]bool{idA: false, idB: true, idC: false, idD: true, idE: true, idF: true} {
					if _, ok := h.f.Get(id); ok != want {
						t.Errorf("%s kept = %v, want %v", id, ok, want)
					}
				}
				for key, want := range map[string]bool{"kA": false, "kB": true, "kC": false, "kE": true, "kF": true} {
					if _, _, ok := h.f.Binding(key); ok != want {
						t.Errorf("binding %s kept = %v, want %v", key, ok, want)
					}
				}
				if h.f.GCFloor() != 12 {
					t.Errorf("gc floor %d, want 12", h.f.GCFloor())
				}
				if _, ok := h.f.RemovedParticipant("gone"); ok {
					t.Error("old removal not forgotten")
				}
				if _, ok := h.f.RemovedParticipant("late"); !ok {
					t.Error("recent removal forgotten")
				}
			}},
		{"gc floor never goes down", append(collectedAt(30), old(decideCmd(txid(5, 0), abort, ""))), collectCmd(1_000),
			func(t *testing.T, h *harness, r Result) {
				if h.f.GCFloor() != 30 || h.f.Len() != 0 {
					t.Errorf("gc floor %d len %d", h.f.GCFloor(), h.f.Len())
				}
			}},
	})
}

func TestApplyParticipantsAndNodes(t *testing.T) {
	busy := []proto.Message{registerCmd("bank-a", "t1", 10), decideCmd(idA, commit, "", twoBranches(bPrepared, bReadOnly)...)}
	runFSMCases(t, []fsmCase{
		{"register", nil, registerCmd("bank-a", "127.0.0.1:9101", 10),
			func(t *testing.T, h *harness, r Result) {
				p, ok := h.f.Participant("bank-a")
				if !ok || p.GetTarget() != "127.0.0.1:9101" || p.GetRegisterTime().AsTime().UnixNano() != 10 {
					t.Errorf("participant %v", p)
				}
			}},
		{"re-target keeps the first register time", []proto.Message{registerCmd("bank-a", "t1", 10)}, registerCmd("bank-a", "t2", 20),
			func(t *testing.T, h *harness, r Result) {
				p, _ := h.f.Participant("bank-a")
				if p.GetTarget() != "t2" || p.GetRegisterTime().AsTime().UnixNano() != 10 {
					t.Errorf("participant %v", p)
				}
			}},
		{"register clears a removal", []proto.Message{registerCmd("bank-a", "t1", 10), &tmlogv1.RemoveParticipantCommand{Name: "bank-a", TimeUnixNano: 15}},
			registerCmd("bank-a", "t2", 20),
			func(t *testing.T, h *harness, r Result) {
				p, ok := h.f.Participant("bank-a")
				if _, removed := h.f.RemovedParticipant("bank-a"); removed || !ok || p.GetRegisterTime().AsTime().UnixNano() != 20 {
					t.Errorf("participant %v, removed %v", p, removed)
				}
			}},
		{"remove unknown", nil, &tmlogv1.RemoveParticipantCommand{Name: "bank-a"},
			func(t *testing.T, h *harness, r Result) { wantErr(t, r, ErrUnknownParticipant) }},
		{"remove busy", busy, &tmlogv1.RemoveParticipantCommand{Name: "bank-a", TimeUnixNano: 30},
			func(t *testing.T, h *harness, r Result) {
				wantErr(t, r, ErrParticipantBusy)
				if _, ok := h.f.Participant("bank-a"); !ok {
					t.Error("busy participant removed")
				}
			}},
		{"remove busy with an ACTIVE branch", []proto.Message{registerCmd("bank-a", "t1", 10), beginCmd(idA, "", twoBranches(0, 0)...)},
			&tmlogv1.RemoveParticipantCommand{Name: "bank-a"},
			func(t *testing.T, h *harness, r Result) { wantErr(t, r, ErrParticipantBusy) }},
		{"remove once its branch acknowledged", append(busy, ackCmd(ack(idA, "b1", bCommitted))),
			&tmlogv1.RemoveParticipantCommand{Name: "bank-a", TimeUnixNano: 30},
			func(t *testing.T, h *harness, r Result) {
				wantErr(t, r, nil)
				at, ok := h.f.RemovedParticipant("bank-a")
				if _, still := h.f.Participant("bank-a"); still || !ok || !at.Equal(time.Unix(0, 30)) {
					t.Errorf("removed %v at %v, still registered %v", ok, at, still)
				}
			}},
		{"set node", []proto.Message{&tmlogv1.SetNodeCommand{Id: "n2", GrpcAddress: "g2"}},
			&tmlogv1.SetNodeCommand{Id: "n1", GrpcAddress: "g1", RaftAddress: "r1"},
			func(t *testing.T, h *harness, r Result) {
				n, ok := h.f.Node("n1")
				if !ok || n.GetGrpcAddress() != "g1" || n.GetRaftAddress() != "r1" {
					t.Errorf("node %v", n)
				}
				if ns := h.f.Nodes(); len(ns) != 2 || ns[0].GetId() != "n1" || ns[1].GetId() != "n2" {
					t.Errorf("nodes %v, want n1, n2", ns)
				}
			}},
		{"remove node", []proto.Message{&tmlogv1.SetNodeCommand{Id: "n1"}}, &tmlogv1.RemoveNodeCommand{Id: "n1"},
			func(t *testing.T, h *harness, r Result) {
				if _, ok := h.f.Node("n1"); ok {
					t.Error("node still there")
				}
			}},
	})
}
