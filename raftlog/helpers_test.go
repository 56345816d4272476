package raftlog

import (
	"testing"

	"google.golang.org/protobuf/proto"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
)

// Short names for the enums the tests use most.
const (
	active    = tmv1.TransactionState_TRANSACTION_STATE_ACTIVE
	preparing = tmv1.TransactionState_TRANSACTION_STATE_PREPARING
	committed = tmv1.TransactionState_TRANSACTION_STATE_COMMITTED
	aborted   = tmv1.TransactionState_TRANSACTION_STATE_ABORTED

	bEnlisted  = tmv1.BranchState_BRANCH_STATE_ENLISTED
	bPrepared  = tmv1.BranchState_BRANCH_STATE_PREPARED
	bVotedNo   = tmv1.BranchState_BRANCH_STATE_VOTED_NO
	bReadOnly  = tmv1.BranchState_BRANCH_STATE_READ_ONLY
	bCommitted = tmv1.BranchState_BRANCH_STATE_COMMITTED
	bAborted   = tmv1.BranchState_BRANCH_STATE_ABORTED
	bHazard    = tmv1.BranchState_BRANCH_STATE_HEURISTIC_HAZARD

	commit = tmlogv1.Outcome_OUTCOME_COMMIT
	abort  = tmlogv1.Outcome_OUTCOME_ABORT
)

// harness applies commands to one FSM at increasing indexes, in term 1.
type harness struct {
	t     testing.TB
	f     *FSM
	index uint64
}

func newHarness(t testing.TB) *harness {
	return &harness{t: t, f: NewFSM()}
}

// apply encodes body and applies it as the next entry.
func (h *harness) apply(body proto.Message) Result {
	h.t.Helper()
	data, err := EncodeCommand(body)
	if err != nil {
		h.t.Fatalf("encode %T: %v", body, err)
	}
	h.index++
	return h.f.ApplyCommand(1, h.index, data)
}

// applyAll applies bodies in order and returns the last result.
func (h *harness) applyAll(bodies ...proto.Message) Result {
	h.t.Helper()
	var r Result
	for _, b := range bodies {
		r = h.apply(b)
	}
	return r
}

// get returns the record of id or fails.
func (h *harness) get(id string) *tmv1.Transaction {
	h.t.Helper()
	rec, ok := h.f.Get(id)
	if !ok {
		h.t.Fatalf("no record of %s", id)
	}
	return rec.Tx
}

// txid is the id minted at index in term 1, sequence seq.
func txid(index, seq uint64) string {
	return FormatTxID(Mint{Term: 1, Index: index, Seq: seq})
}

func mintOf(id string) Mint {
	m, err := ParseTxID(id)
	if err != nil {
		panic(err)
	}
	return m
}

func br(id, participant, payload string, st tmv1.BranchState) *tmv1.Branch {
	return &tmv1.Branch{BranchId: id, Participant: participant, Payload: []byte(payload), State: st}
}

// twoBranches are the requests of most tests, with the given votes.
func twoBranches(v1, v2 tmv1.BranchState) []*tmv1.Branch {
	return []*tmv1.Branch{br("b1", "bank-a", `{"amount":-5}`, v1), br("b2", "bank-b", `{"amount":5}`, v2)}
}

func beginCmd(id, key string, bs ...*tmv1.Branch) *tmlogv1.BeginCommand {
	m := mintOf(id)
	return &tmlogv1.BeginCommand{
		TxId: id, MintTerm: m.Term, MintIndex: m.Index, Branches: bs,
		IdempotencyKey: key, Fingerprint: fp(key, bs),
		CreateTimeUnixNano: 1_000, DeadlineUnixNano: 60_000,
		Labels: map[string]string{"app": "test"},
	}
}

func decideCmd(id string, out tmlogv1.Outcome, key string, bs ...*tmv1.Branch) *tmlogv1.DecideCommand {
	m := mintOf(id)
	return &tmlogv1.DecideCommand{
		TxId: id, MintTerm: m.Term, MintIndex: m.Index, Outcome: out,
		Kind: tmlogv1.DecideKind_DECIDE_KIND_DRIVER, Branches: bs,
		IdempotencyKey: key, Fingerprint: fp(key, bs),
		CreateTimeUnixNano: 1_000, DeadlineUnixNano: 60_000, DecideTimeUnixNano: 2_000,
	}
}

// resolveAbort is a Resolve-abort of an unrecorded id: no key, no branches.
func resolveAbort(id string) *tmlogv1.DecideCommand {
	c := decideCmd(id, abort, "")
	c.Kind, c.AbortReason = tmlogv1.DecideKind_DECIDE_KIND_RESOLVE, "RESOLVE_UNRECORDED"
	return c
}

func fp(key string, bs []*tmv1.Branch) []byte {
	if key == "" {
		return nil
	}
	return Fingerprint("execute", bs, nil)
}

func enlistCmd(id string, b *tmv1.Branch) *tmlogv1.EnlistCommand {
	return &tmlogv1.EnlistCommand{TxId: id, Branch: b}
}

func prepareCmd(id string) *tmlogv1.PrepareCommand { return &tmlogv1.PrepareCommand{TxId: id} }

func ackCmd(acks ...*tmlogv1.Ack) *tmlogv1.AckCommand { return &tmlogv1.AckCommand{Acks: acks} }

func ack(id, branch string, st tmv1.BranchState) *tmlogv1.Ack {
	return &tmlogv1.Ack{TxId: id, BranchId: branch, State: st}
}

func collectCmd(cutoff int64) *tmlogv1.CollectCommand {
	return &tmlogv1.CollectCommand{CutoffUnixNano: cutoff}
}

func registerCmd(name, target string, at int64) *tmlogv1.RegisterParticipantCommand {
	return &tmlogv1.RegisterParticipantCommand{Name: name, Target: target, TimeUnixNano: at}
}

func branchStates(tx *tmv1.Transaction) []tmv1.BranchState {
	var out []tmv1.BranchState
	for _, b := range tx.GetBranches() {
		out = append(out, b.GetState())
	}
	return out
}
