package raftlog

import (
	"testing"

	"google.golang.org/protobuf/proto"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
)

// One test per rule of the decision register (design.md rules 2, 5, 6).

func wantReason(t *testing.T, tx *tmv1.Transaction, want string) {
	t.Helper()
	if tx.GetAbortReason() != want {
		t.Errorf("abort_reason = %q, want %q", tx.GetAbortReason(), want)
	}
}

func wantBinding(t *testing.T, f *FSM, key, wantTx string) {
	t.Helper()
	got, _, ok := f.Binding(key)
	if wantTx == "" && ok {
		t.Errorf("key %q bound to %s, want unbound", key, got)
	}
	if wantTx != "" && got != wantTx {
		t.Errorf("key %q bound to %q (ok %v), want %s", key, got, ok, wantTx)
	}
}

// Rule 2: a decision is write-once, whichever comes first.
func TestRuleDecisionIsWriteOnce(t *testing.T) {
	tests := []struct {
		name         string
		first, later tmlogv1.Outcome
		want         tmv1.TransactionState
	}{
		{"COMMIT then ABORT", commit, abort, committed},
		{"ABORT then COMMIT", abort, commit, aborted},
		{"COMMIT then COMMIT", commit, commit, committed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			first := h.apply(decideCmd(idA, tc.first, "", twoBranches(bPrepared, bPrepared)...))
			again := decideCmd(idA, tc.later, "", twoBranches(bPrepared, bPrepared)...)
			again.DecideTimeUnixNano, again.AbortReason = 9_999, "LATE"
			r := h.apply(again)
			if r.Decided || !first.Decided {
				t.Errorf("Decided first %v later %v, want true, false", first.Decided, r.Decided)
			}
			wantState(t, r.Tx, tc.want)
			if !proto.Equal(r.Tx, first.Tx) || !proto.Equal(h.get(idA), first.Tx) {
				t.Errorf("record changed:\n got %v\nwant %v", r.Tx, first.Tx)
			}
		})
	}
}

// Rule 5: a key bound by an ABORT stays bound to it; a COMMIT of another tx
// carrying it decides ABORT (IDEMPOTENCY_KEY_BOUND), and a Begin with it
// creates nothing.
func TestRuleKeyBoundByAbortStaysBound(t *testing.T) {
	h := newHarness(t)
	h.apply(decideCmd(idA, abort, "k", twoBranches(bVotedNo, bPrepared)...))
	wantBinding(t, h.f, "k", idA)

	r := h.apply(decideCmd(idB, commit, "k", twoBranches(bPrepared, bPrepared)...))
	wantState(t, r.Tx, aborted)
	wantReason(t, r.Tx, tmv1.ReasonIdempotencyKeyBound)
	if r.Bound.GetTxId() != idA || r.Bound.GetState() != aborted {
		t.Errorf("Bound = %v, want %s ABORTED", r.Bound, idA)
	}
	wantBinding(t, h.f, "k", idA)

	r = h.apply(beginCmd(txid(11, 0), "k"))
	if r.Tx != nil || r.Bound.GetTxId() != idA || h.f.Len() != 2 {
		t.Errorf("Begin with a bound key: Tx %v Bound %v len %d", r.Tx, r.Bound, h.f.Len())
	}
}

// Rule 5: a COMMIT for another tx whose key is bound decides ABORT and does
// not rebind, on the one-shot and on the PREPARING path.
func TestRuleCommitWithKeyBoundElsewhereAborts(t *testing.T) {
	for _, path := range []string{"one-shot", "preparing"} {
		t.Run(path, func(t *testing.T) {
			h := newHarness(t)
			h.apply(decideCmd(idA, commit, "k", twoBranches(bPrepared, bPrepared)...))
			if path == "preparing" {
				h.applyAll(beginCmd(idB, "", twoBranches(0, 0)...), prepareCmd(idB))
			}
			r := h.apply(decideCmd(idB, commit, "k", twoBranches(bPrepared, bPrepared)...))
			wantState(t, r.Tx, aborted)
			wantReason(t, r.Tx, tmv1.ReasonIdempotencyKeyBound)
			if !r.Decided || r.Bound.GetTxId() != idA || r.Bound.GetState() != committed {
				t.Errorf("Decided %v Bound %v", r.Decided, r.Bound)
			}
			wantBinding(t, h.f, "k", idA)
			wantState(t, h.get(idA), committed)
		})
	}
}

// Rule 5: a keyed COMMIT that loses to a Resolve-abort (which carries no key)
// binds its key to that ABORTED tx, so a retry learns ABORTED.
func TestRuleLosingKeyedCommitBindsItsKey(t *testing.T) {
	h := newHarness(t)
	if r := h.apply(resolveAbort(idA)); !r.Decided || r.Bound != nil {
		t.Fatalf("resolve-abort: %v", r)
	}
	wantBinding(t, h.f, "k", "")
	c := decideCmd(idA, commit, "k", twoBranches(bPrepared, bPrepared)...)
	r := h.apply(c)
	wantState(t, r.Tx, aborted)
	if r.Decided {
		t.Error("the losing COMMIT reports Decided")
	}
	if r.Bound.GetTxId() != idA || r.Bound.GetState() != aborted || string(r.BoundFingerprint) != string(c.GetFingerprint()) {
		t.Errorf("Bound = %v, fingerprint %x", r.Bound, r.BoundFingerprint)
	}
	wantBinding(t, h.f, "k", idA)
	if h.get(idA).GetIdempotencyKey() != "k" {
		t.Errorf("record key %q, want k", h.get(idA).GetIdempotencyKey())
	}
	// A retry with the same key is now answered by the binding.
	if r := h.apply(beginCmd(txid(11, 0), "k")); r.Bound.GetState() != aborted {
		t.Errorf("retry sees %v", r.Bound)
	}
}

// Rule 2: a COMMIT after a Resolve-abort stays ABORTED.
func TestRuleCommitAfterResolveAbortStaysAborted(t *testing.T) {
	h := newHarness(t)
	h.apply(resolveAbort(idA))
	r := h.apply(decideCmd(idA, commit, "", twoBranches(bPrepared, bPrepared)...))
	wantState(t, r.Tx, aborted)
	wantReason(t, r.Tx, "RESOLVE_UNRECORDED")
	if r.Decided || r.Tx.GetDecisionIndex() != 1 {
		t.Errorf("decision changed: %v", r.Tx)
	}
	// The losing entry tells the branch-less record its branches, so phase
	// two can release the prepared ones; a second loser changes nothing.
	if len(r.Tx.GetBranches()) != 2 || r.Tx.GetBranches()[0].GetState() != bPrepared || r.Tx.GetCompleted() {
		t.Errorf("branches not learned: %v", r.Tx)
	}
	r2 := h.apply(decideCmd(idA, abort, "", twoBranches(bVotedNo, bVotedNo)...))
	if r2.Tx.GetBranches()[0].GetState() != bPrepared {
		t.Errorf("known branches overwritten: %v", r2.Tx)
	}
}

// Rule 2: a COMMIT whose list holds a vote other than YES or READ_ONLY
// decides ABORT, on both paths.
func TestRuleCommitWithoutAllYesAborts(t *testing.T) {
	votes := []struct {
		name   string
		v1, v2 tmv1.BranchState
	}{
		{"NO vote", bPrepared, bVotedNo},
		{"ENLISTED branch", bEnlisted, bPrepared},
		{"unset vote", bReadOnly, 0},
		{"end state claimed", bCommitted, bPrepared},
	}
	for _, path := range []string{"one-shot", "preparing"} {
		for _, v := range votes {
			t.Run(path+"/"+v.name, func(t *testing.T) {
				h := newHarness(t)
				if path == "preparing" {
					h.applyAll(beginCmd(idA, "", twoBranches(0, 0)...), prepareCmd(idA))
				}
				r := h.apply(decideCmd(idA, commit, "", twoBranches(v.v1, v.v2)...))
				wantState(t, r.Tx, aborted)
				wantReason(t, r.Tx, ReasonCommitWithoutAllYes)
				if !r.Decided {
					t.Error("not Decided")
				}
			})
		}
	}
	t.Run("the proposer's reason is kept", func(t *testing.T) {
		h := newHarness(t)
		c := decideCmd(idA, commit, "", twoBranches(bPrepared, bVotedNo)...)
		c.AbortReason = "VOTED_NO:b2"
		wantReason(t, h.apply(c).Tx, "VOTED_NO:b2")
	})
}

// Rule 2: a COMMIT for an ACTIVE record decides ABORT.
func TestRuleCommitOfActiveAborts(t *testing.T) {
	h := newHarness(t)
	h.apply(beginCmd(idA, "k", twoBranches(0, 0)...))
	r := h.apply(decideCmd(idA, commit, "k", twoBranches(bPrepared, bPrepared)...))
	wantState(t, r.Tx, aborted)
	wantReason(t, r.Tx, ReasonCommitOfActive)
	if !r.Decided || r.Bound.GetTxId() != idA {
		t.Errorf("Decided %v Bound %v", r.Decided, r.Bound)
	}
}

// Rule 2: a COMMIT for a PREPARING record needs the frozen branch list.
func TestRuleCommitWithOtherBranchListAborts(t *testing.T) {
	yes := func(id, p, payload string) *tmv1.Branch { return br(id, p, payload, bPrepared) }
	frozen := twoBranches(0, 0)
	tests := []struct {
		name string
		list []*tmv1.Branch
	}{
		{"fewer", []*tmv1.Branch{yes("b1", "bank-a", `{"amount":-5}`)}},
		{"more", append(twoBranches(bPrepared, bPrepared), yes("b3", "bank-c", "x"))},
		{"reordered", []*tmv1.Branch{yes("b2", "bank-b", `{"amount":5}`), yes("b1", "bank-a", `{"amount":-5}`)}},
		{"other payload", []*tmv1.Branch{yes("b1", "bank-a", `{"amount":-500}`), yes("b2", "bank-b", `{"amount":5}`)}},
		{"other participant", []*tmv1.Branch{yes("b1", "bank-z", `{"amount":-5}`), yes("b2", "bank-b", `{"amount":5}`)}},
		{"empty", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.applyAll(beginCmd(idA, "", frozen...), prepareCmd(idA))
			r := h.apply(decideCmd(idA, commit, "", tc.list...))
			wantState(t, r.Tx, aborted)
			wantReason(t, r.Tx, ReasonBranchListMismatch)
			if len(r.Tx.GetBranches()) != 2 || !sameBranchList(r.Tx.GetBranches(), frozen) {
				t.Errorf("frozen list changed: %v", r.Tx.GetBranches())
			}
		})
	}
}

// Rule 6: after COLLECT removes a record minted at M, a decision for an absent
// tx minted at or below M decides nothing and binds no key; above M it
// decides.
func TestRuleGCFloor(t *testing.T) {
	h := newHarness(t)
	old := decideCmd(txid(50, 0), abort, "k-old")
	old.DecideTimeUnixNano = 10
	h.applyAll(old, collectCmd(100))
	if h.f.GCFloor() != 50 || h.f.Len() != 0 || h.f.KeyCount() != 0 {
		t.Fatalf("after collect: floor %d len %d keys %d", h.f.GCFloor(), h.f.Len(), h.f.KeyCount())
	}
	for _, id := range []string{txid(50, 0), txid(50, 7), txid(3, 0)} {
		r := h.apply(decideCmd(id, commit, "k-new", twoBranches(bPrepared, bPrepared)...))
		wantErr(t, r, ErrTxTooOld)
		if r.Tx != nil || r.Decided || h.f.Len() != 0 {
			t.Errorf("%s: decided something: %v", id, r)
		}
		wantBinding(t, h.f, "k-new", "")
	}
	r := h.apply(decideCmd(txid(51, 0), commit, "k-new", twoBranches(bPrepared, bPrepared)...))
	wantErr(t, r, nil)
	wantState(t, r.Tx, committed)
	wantBinding(t, h.f, "k-new", txid(51, 0))
}

// Rule 6: COLLECT removes only what may go, and bindings with their record
// (the full table is TestApplyCollect).
func TestRuleCollectKeepsOpenWork(t *testing.T) {
	h := newHarness(t)
	at := func(c *tmlogv1.DecideCommand) *tmlogv1.DecideCommand { c.DecideTimeUnixNano = 10; return c }
	incomplete, hazard, gone := txid(20, 0), txid(21, 0), txid(22, 0)
	h.applyAll(
		at(decideCmd(incomplete, commit, "k1", twoBranches(bPrepared, bPrepared)...)),
		at(decideCmd(hazard, abort, "k2", twoBranches(bPrepared, bVotedNo)...)),
		ackCmd(ack(hazard, "b1", bHazard)),
		at(decideCmd(gone, commit, "k3", twoBranches(bPrepared, bPrepared)...)),
		ackCmd(ack(gone, "b1", bCommitted), ack(gone, "b2", bCommitted)),
		beginCmd(idA, "k4"), beginCmd(idB, ""), prepareCmd(idB),
		collectCmd(1<<40),
	)
	for _, id := range []string{incomplete, hazard, idA, idB} {
		if _, ok := h.f.Get(id); !ok {
			t.Errorf("%s collected", id)
		}
	}
	if _, ok := h.f.Get(gone); ok {
		t.Errorf("%s kept", gone)
	}
	wantBinding(t, h.f, "k3", "")
	for _, k := range []string{"k1", "k2", "k4"} {
		if _, _, ok := h.f.Binding(k); !ok {
			t.Errorf("binding %s removed", k)
		}
	}
}
