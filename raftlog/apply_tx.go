package raftlog

import (
	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
)

// The commands of a transaction before its decision: BEGIN, ENLIST, PREPARE.

// applyBegin creates an ACTIVE record and binds its key.
//   - tx id already recorded: no change, Result.Tx is the record (a retried
//     proposal of the same entry).
//   - key already bound: no record is created; Result.Tx is nil and
//     Result.Bound is the bound transaction (a retried Begin returns it).
//   - minted at or below the gc floor: ErrTxTooOld.
func applyBegin(s *state, e entry, c *tmlogv1.BeginCommand) Result {
	id, key := c.GetTxId(), c.GetIdempotencyKey()
	if rec, ok := s.txs[id]; ok {
		return s.txResult(e, rec, key)
	}
	if _, bound := s.keys[key]; key != "" && bound {
		return s.result(e, key)
	}
	if c.GetMintIndex() <= s.gcFloor {
		return s.rejected(e, key, ErrTxTooOld)
	}
	rec := &tmlogv1.TxRecord{
		Tx: &tmv1.Transaction{
			TxId:           id,
			State:          tmv1.TransactionState_TRANSACTION_STATE_ACTIVE,
			Branches:       enlisted(c.GetBranches()),
			IdempotencyKey: key,
			CreateTime:     timestamp(c.GetCreateTimeUnixNano()),
			Deadline:       timestamp(c.GetDeadlineUnixNano()),
			Labels:         copyLabels(c.GetLabels()),
		},
		MintTerm:  c.GetMintTerm(),
		MintIndex: c.GetMintIndex(),
	}
	s.txs[id] = rec
	s.touch(id)
	s.bindIfUnbound(key, id, c.GetFingerprint())
	return s.txResult(e, rec, key)
}

// applyEnlist appends a branch to an ACTIVE record.
//   - no record: ErrTxNotFound, or ErrTxTooOld if minted at or below the gc
//     floor.
//   - not ACTIVE: ErrNotActive, with Result.Tx.
//   - the branch id is present with the same participant and payload: no
//     change (a retry); with another participant or payload:
//     ErrDuplicateBranch, with Result.Tx.
func applyEnlist(s *state, e entry, c *tmlogv1.EnlistCommand) Result {
	id, b := c.GetTxId(), c.GetBranch()
	rec, ok := s.txs[id]
	if !ok {
		return s.rejected(e, "", s.absentErr(id))
	}
	if rec.GetTx().GetState() != tmv1.TransactionState_TRANSACTION_STATE_ACTIVE {
		r := s.txResult(e, rec, "")
		r.Err = ErrNotActive
		return r
	}
	if i := branchIndex(rec.GetTx().GetBranches(), b.GetBranchId()); i >= 0 {
		r := s.txResult(e, rec, "")
		if !sameRequest(rec.GetTx().GetBranches()[i], b) {
			r.Err = ErrDuplicateBranch
		}
		return r
	}
	rec = s.mutableTx(id)
	rec.Tx.Branches = append(rec.Tx.Branches, newBranch(b))
	return s.txResult(e, rec, "")
}

// applyPrepare freezes an ACTIVE record's branch list: ACTIVE to PREPARING.
// A PREPARING or decided record is left as it is. No record: ErrTxNotFound or
// ErrTxTooOld. Result.Tx is the record after the entry.
func applyPrepare(s *state, e entry, c *tmlogv1.PrepareCommand) Result {
	id := c.GetTxId()
	rec, ok := s.txs[id]
	if !ok {
		return s.rejected(e, "", s.absentErr(id))
	}
	if rec.GetTx().GetState() == tmv1.TransactionState_TRANSACTION_STATE_ACTIVE {
		rec = s.mutableTx(id)
		rec.Tx.State = tmv1.TransactionState_TRANSACTION_STATE_PREPARING
	}
	return s.txResult(e, rec, "")
}
