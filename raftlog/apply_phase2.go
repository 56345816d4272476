package raftlog

import (
	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
)

// After the decision: phase-two acknowledgements (ACK) and garbage
// collection by the retention rule (COLLECT, design.md rule 6).

// applyAck records a batch of phase-two acknowledgements. An ack applies only
// to an existing branch of a decided record, with a state that fits the
// decision (COMMITTED for COMMITTED, ABORTED for ABORTED, HEURISTIC_HAZARD for
// either), on a branch not already in an end state. Any other ack is stale
// and ignored silently: it is the same on every replica. completed is
// recomputed for every record an ack changed. The Result names no transaction.
func applyAck(s *state, e entry, c *tmlogv1.AckCommand) Result {
	for _, a := range c.GetAcks() {
		s.ackOne(a)
	}
	return s.result(e, "")
}

func (s *state) ackOne(a *tmlogv1.Ack) {
	rec, ok := s.txs[a.GetTxId()]
	if !ok || !isDecided(rec.GetTx()) || !ackFits(rec.GetTx().GetState(), a.GetState()) {
		return
	}
	i := branchIndex(rec.GetTx().GetBranches(), a.GetBranchId())
	if i < 0 || isEnded(rec.GetTx().GetBranches()[i].GetState()) {
		return
	}
	rec = s.mutableTx(a.GetTxId())
	b := rec.Tx.Branches[i]
	b.State, b.Reason = a.GetState(), a.GetReason()
	rec.Tx.Completed = allEnded(rec.Tx.Branches)
}

// ackFits reports whether a branch of a transaction in state tx may be
// acknowledged with branch state st.
func ackFits(tx tmv1.TransactionState, st tmv1.BranchState) bool {
	switch st {
	case tmv1.BranchState_BRANCH_STATE_COMMITTED:
		return tx == tmv1.TransactionState_TRANSACTION_STATE_COMMITTED
	case tmv1.BranchState_BRANCH_STATE_ABORTED:
		return tx == tmv1.TransactionState_TRANSACTION_STATE_ABORTED
	case tmv1.BranchState_BRANCH_STATE_HEURISTIC_HAZARD:
		return true
	}
	return false
}

// applyCollect forgets what the retention window no longer covers: every
// collectable record decided before the cutoff, the key bindings that point
// to them, and the participants removed before the cutoff. gc_floor rises to
// the highest mint index among the removed records, so a late decision for
// one of them is ErrTxTooOld instead of a fresh record. Each record's fate
// depends only on itself and the cutoff, so map order does not matter.
func applyCollect(s *state, e entry, c *tmlogv1.CollectCommand) Result {
	cutoff := c.GetCutoffUnixNano()
	gone := make(map[string]bool)
	for id, rec := range s.txs {
		if collectable(rec.GetTx(), cutoff) {
			gone[id] = true
			s.gcFloor = max(s.gcFloor, rec.GetMintIndex())
			delete(s.txs, id)
		}
	}
	for key, b := range s.keys {
		if gone[b.GetTxId()] {
			delete(s.keys, key)
		}
	}
	for name, rp := range s.removed {
		if rp.GetRemoveTimeUnixNano() < cutoff {
			delete(s.removed, name)
		}
	}
	return s.result(e, "")
}

// collectable reports whether a record may go at cutoff: decided before it,
// without a heuristic hazard (an operator must see those, whatever the
// outcome), and ABORTED, or COMMITTED and completed. ACTIVE and PREPARING
// records always stay.
func collectable(tx *tmv1.Transaction, cutoff int64) bool {
	if !isDecided(tx) || unixNano(tx.GetDecideTime()) >= cutoff {
		return false
	}
	for _, b := range tx.GetBranches() {
		if b.GetState() == tmv1.BranchState_BRANCH_STATE_HEURISTIC_HAZARD {
			return false
		}
	}
	return tx.GetState() == tmv1.TransactionState_TRANSACTION_STATE_ABORTED || tx.GetCompleted()
}
