package raftlog

import (
	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
)

// The decision register (design.md, rules 2, 5 and 6).

// Abort reasons written by the FSM when it turns a proposed COMMIT into an
// ABORT. They are data in the transaction, identical on every replica.
const (
	// ReasonCommitOfActive: a COMMIT for a transaction whose branch list was
	// never frozen (it was still ACTIVE).
	ReasonCommitOfActive = "COMMIT_OF_ACTIVE"
	// ReasonCommitWithoutAllYes: a COMMIT whose branch list holds a vote other
	// than YES (PREPARED) or READ_ONLY, and no abort reason of its own.
	ReasonCommitWithoutAllYes = "COMMIT_WITHOUT_ALL_YES"
	// ReasonBranchListMismatch: a COMMIT for a PREPARING transaction whose
	// branch list differs from the frozen one.
	ReasonBranchListMismatch = "BRANCH_LIST_MISMATCH"
)

// applyDecide applies a proposed decision. First decision wins:
//   - no record, minted at or below the gc floor: ErrTxTooOld; decides
//     nothing, binds no key.
//   - no record: a record is created directly in its decided state (the
//     one-shot path).
//   - ACTIVE or PREPARING: the entry decides, COMMIT only if it passes
//     commitVeto, else ABORT.
//   - already decided: the decision stays (an ABORTED record without
//     branches learns them from the entry: learnsBranches).
//
// In every case but ErrTxTooOld, a key the command carries binds to the tx id
// if it is unbound, even when the entry loses (rule 5). Result.Tx is the record
// after the entry, Result.Decided whether this entry wrote its decision, and
// Result.Bound the key's binding after the entry.
func applyDecide(s *state, e entry, c *tmlogv1.DecideCommand) Result {
	id, key := c.GetTxId(), c.GetIdempotencyKey()
	rec, recorded := s.txs[id]
	decided := false
	switch {
	case !recorded && c.GetMintIndex() <= s.gcFloor:
		return s.rejected(e, key, ErrTxTooOld)
	case !recorded:
		s.txs[id] = s.decideAbsent(e, c)
		s.touch(id)
		decided = true
	case !isDecided(rec.GetTx()):
		rec = s.mutableTx(id)
		s.decideOpen(e, rec.Tx, c)
		decided = true
	case learnsBranches(rec.GetTx(), c):
		s.learnBranches(id, c)
	}
	s.noteDecisionKey(id, key, c.GetFingerprint())
	r := s.txResult(e, s.txs[id], key)
	r.Decided = decided
	return r
}

// decideAbsent builds the decided record of a transaction without a record:
// its branches and votes come from the command. A COMMIT stands only if its
// key is not bound and every branch voted YES or READ_ONLY (an empty list
// may commit).
func (s *state) decideAbsent(e entry, c *tmlogv1.DecideCommand) *tmlogv1.TxRecord {
	commit, reason := c.GetOutcome() == tmlogv1.Outcome_OUTCOME_COMMIT, c.GetAbortReason()
	if commit {
		switch {
		case s.boundElsewhere(c.GetIdempotencyKey(), c.GetTxId()):
			commit, reason = false, tmv1.ReasonIdempotencyKeyBound
		case !allYes(c.GetBranches()):
			commit, reason = false, orDefault(reason, ReasonCommitWithoutAllYes)
		}
	}
	tx := &tmv1.Transaction{
		TxId:           c.GetTxId(),
		Branches:       withVotes(c.GetBranches()),
		IdempotencyKey: c.GetIdempotencyKey(),
		CreateTime:     timestamp(c.GetCreateTimeUnixNano()),
		Deadline:       timestamp(c.GetDeadlineUnixNano()),
		Labels:         copyLabels(c.GetLabels()),
	}
	setDecision(tx, e, commit, reason, c.GetDecideTimeUnixNano())
	return &tmlogv1.TxRecord{Tx: tx, MintTerm: c.GetMintTerm(), MintIndex: c.GetMintIndex()}
}

// decideOpen decides an ACTIVE or PREPARING transaction, tx being a mutable
// copy of its record. A winning COMMIT copies the votes onto the branches; an
// ABORT copies the votes it knows of (mergeVotes).
func (s *state) decideOpen(e entry, tx *tmv1.Transaction, c *tmlogv1.DecideCommand) {
	commit, reason := c.GetOutcome() == tmlogv1.Outcome_OUTCOME_COMMIT, c.GetAbortReason()
	if commit {
		if veto := s.commitVeto(tx, c); veto != "" {
			commit, reason = false, veto
		}
	}
	if commit {
		for i, b := range c.GetBranches() { // same list as tx's: commitVeto checked
			tx.Branches[i].State, tx.Branches[i].Reason = b.GetState(), b.GetReason()
		}
	} else {
		mergeVotes(tx.GetBranches(), c.GetBranches())
	}
	setDecision(tx, e, commit, reason, c.GetDecideTimeUnixNano())
}

// learnsBranches reports whether a losing decision tells an ABORTED record
// the branches it never knew: a Resolve-abort records an unrecorded one-shot
// transaction without branches, and the driver's decision that loses to it
// carries them. The decision stays; knowing the branches lets phase two
// release the prepared ones now instead of at their deadline.
func learnsBranches(tx *tmv1.Transaction, c *tmlogv1.DecideCommand) bool {
	return tx.GetState() == tmv1.TransactionState_TRANSACTION_STATE_ABORTED &&
		len(tx.GetBranches()) == 0 && len(c.GetBranches()) > 0
}

func (s *state) learnBranches(id string, c *tmlogv1.DecideCommand) {
	tx := s.mutableTx(id).Tx
	tx.Branches = withVotes(c.GetBranches())
	tx.Completed = allEnded(tx.GetBranches())
}

// commitVeto is the reason a COMMIT for a recorded, undecided transaction
// must decide ABORT instead, or "" when it may commit.
func (s *state) commitVeto(tx *tmv1.Transaction, c *tmlogv1.DecideCommand) string {
	switch {
	case tx.GetState() == tmv1.TransactionState_TRANSACTION_STATE_ACTIVE:
		return ReasonCommitOfActive
	case s.boundElsewhere(c.GetIdempotencyKey(), tx.GetTxId()):
		return tmv1.ReasonIdempotencyKeyBound
	case !sameBranchList(tx.GetBranches(), c.GetBranches()):
		return ReasonBranchListMismatch
	case !allYes(c.GetBranches()):
		return orDefault(c.GetAbortReason(), ReasonCommitWithoutAllYes)
	}
	return ""
}

// setDecision writes the decision fields. completed is set at once when no
// branch needs phase two (all READ_ONLY for a COMMIT; all VOTED_NO, READ_ONLY
// or ABORTED for an ABORT).
func setDecision(tx *tmv1.Transaction, e entry, commit bool, reason string, decideNanos int64) {
	if commit {
		tx.State, tx.AbortReason = tmv1.TransactionState_TRANSACTION_STATE_COMMITTED, ""
	} else {
		tx.State, tx.AbortReason = tmv1.TransactionState_TRANSACTION_STATE_ABORTED, reason
	}
	tx.DecideTime = timestamp(decideNanos)
	tx.DecisionIndex, tx.DecisionTerm = e.index, e.term
	tx.Completed = allEnded(tx.GetBranches())
}

// noteDecisionKey binds an unbound key to txID (rule 5, whatever the entry
// decided) and fills the record's idempotency_key if it has none.
func (s *state) noteDecisionKey(txID, key string, fingerprint []byte) {
	if key == "" {
		return
	}
	s.bindIfUnbound(key, txID, fingerprint)
	if s.txs[txID].GetTx().GetIdempotencyKey() == "" {
		s.mutableTx(txID).Tx.IdempotencyKey = key
	}
}

// withVotes copies a one-shot command's branches with their votes. A state
// that is not a vote (unset, or an end state the leader cannot know before
// phase two) is stored as ENLISTED: the branch still gets phase two.
func withVotes(bs []*tmv1.Branch) []*tmv1.Branch {
	out := enlisted(bs)
	for i, b := range bs {
		if isVote(b.GetState()) {
			out[i].State = b.GetState()
		}
		out[i].Reason = b.GetReason()
	}
	return out
}

// mergeVotes copies onto dst the votes and reasons that src gives for the
// same branch (same branch id and participant); branches src does not
// mention, or mentions without a vote, keep their state.
func mergeVotes(dst, src []*tmv1.Branch) {
	for _, b := range src {
		i := branchIndex(dst, b.GetBranchId())
		if i < 0 || dst[i].GetParticipant() != b.GetParticipant() {
			continue
		}
		if isVote(b.GetState()) {
			dst[i].State = b.GetState()
		}
		if b.GetReason() != "" {
			dst[i].Reason = b.GetReason()
		}
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
