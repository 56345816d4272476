package raftlog

import (
	"bytes"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
)

// Helpers shared by the apply functions: copy-on-write access to records,
// key bindings, results, and the branch and transaction state predicates.

// mutableTx replaces the stored record of id by a clone and returns the
// clone, which the current apply may change freely: nobody else has seen it.
// A record is cloned once per apply, so an entry acknowledging both branches
// of a transaction copies it once. The record must exist.
func (s *state) mutableTx(id string) *tmlogv1.TxRecord {
	if s.cloned[id] {
		return s.txs[id]
	}
	rec := proto.Clone(s.txs[id]).(*tmlogv1.TxRecord)
	s.txs[id] = rec
	s.cloned[id] = true
	s.touch(id)
	return rec
}

// absentErr is the rejection for a command naming a transaction without a
// record: ErrTxTooOld when its id says it was minted at or below the gc
// floor (it may have been collected), else ErrTxNotFound.
func (s *state) absentErr(txID string) error {
	if m, err := ParseTxID(txID); err == nil && m.Index <= s.gcFloor {
		return ErrTxTooOld
	}
	return ErrTxNotFound
}

// boundElsewhere reports whether key is bound to a transaction other than
// txID.
func (s *state) boundElsewhere(key, txID string) bool {
	b, ok := s.keys[key]
	return key != "" && ok && b.GetTxId() != txID
}

// bindIfUnbound binds a non-empty, unbound key to txID (write-once).
func (s *state) bindIfUnbound(key, txID string, fingerprint []byte) {
	if _, ok := s.keys[key]; key == "" || ok {
		return
	}
	s.keys[key] = &tmlogv1.KeyBinding{Key: key, TxId: txID, Fingerprint: bytes.Clone(fingerprint)}
}

// result is the Result of entry e with no transaction, reporting key's
// binding after the entry when key is non-empty.
func (s *state) result(e entry, key string) Result {
	r := Result{Term: e.term, Index: e.index}
	if b, ok := s.keys[key]; key != "" && ok {
		if rec, ok := s.txs[b.GetTxId()]; ok {
			r.Bound = rec.GetTx()
		}
		r.BoundFingerprint = b.GetFingerprint()
	}
	return r
}

// txResult is result with rec's transaction. It is the stored message,
// not a copy: stored messages never change once their apply returned
// (copy-on-write), and every replica applies every entry although only the
// leader's proposer reads the result, so a copy here would be paid three
// times for nothing.
func (s *state) txResult(e entry, rec *tmlogv1.TxRecord, key string) Result {
	r := s.result(e, key)
	r.Tx = rec.GetTx()
	return r
}

// rejected is the Result of a business rejection, with the binding of key.
func (s *state) rejected(e entry, key string, err error) Result {
	r := s.result(e, key)
	r.Err = err
	return r
}

func isDecided(tx *tmv1.Transaction) bool {
	st := tx.GetState()
	return st == tmv1.TransactionState_TRANSACTION_STATE_COMMITTED ||
		st == tmv1.TransactionState_TRANSACTION_STATE_ABORTED
}

// isVote reports whether st is a branch's answer to Prepare.
func isVote(st tmv1.BranchState) bool {
	switch st {
	case tmv1.BranchState_BRANCH_STATE_PREPARED, tmv1.BranchState_BRANCH_STATE_VOTED_NO,
		tmv1.BranchState_BRANCH_STATE_READ_ONLY:
		return true
	}
	return false
}

// isYes reports whether st lets a COMMIT stand.
func isYes(st tmv1.BranchState) bool {
	return st == tmv1.BranchState_BRANCH_STATE_PREPARED || st == tmv1.BranchState_BRANCH_STATE_READ_ONLY
}

// isEnded reports whether a branch in st needs no (more) phase two.
func isEnded(st tmv1.BranchState) bool {
	switch st {
	case tmv1.BranchState_BRANCH_STATE_COMMITTED, tmv1.BranchState_BRANCH_STATE_ABORTED,
		tmv1.BranchState_BRANCH_STATE_READ_ONLY, tmv1.BranchState_BRANCH_STATE_VOTED_NO,
		tmv1.BranchState_BRANCH_STATE_HEURISTIC_HAZARD:
		return true
	}
	return false
}

func allYes(bs []*tmv1.Branch) bool {
	for _, b := range bs {
		if !isYes(b.GetState()) {
			return false
		}
	}
	return true
}

func allEnded(bs []*tmv1.Branch) bool {
	for _, b := range bs {
		if !isEnded(b.GetState()) {
			return false
		}
	}
	return true
}

// sameRequest reports whether two branches are the same request: branch id,
// participant and payload (states and reasons are not compared).
func sameRequest(a, b *tmv1.Branch) bool {
	return a.GetBranchId() == b.GetBranchId() && a.GetParticipant() == b.GetParticipant() &&
		bytes.Equal(a.GetPayload(), b.GetPayload())
}

// sameBranchList reports whether two branch lists are the same requests in
// the same order.
func sameBranchList(a, b []*tmv1.Branch) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !sameRequest(a[i], b[i]) {
			return false
		}
	}
	return true
}

// branchIndex is the position of the first branch with id, or -1.
func branchIndex(bs []*tmv1.Branch, id string) int {
	for i, b := range bs {
		if b.GetBranchId() == id {
			return i
		}
	}
	return -1
}

// newBranch copies a branch's request fields into a fresh ENLISTED branch.
func newBranch(b *tmv1.Branch) *tmv1.Branch {
	return &tmv1.Branch{
		BranchId:    b.GetBranchId(),
		Participant: b.GetParticipant(),
		Payload:     bytes.Clone(b.GetPayload()),
		State:       tmv1.BranchState_BRANCH_STATE_ENLISTED,
	}
}

func enlisted(bs []*tmv1.Branch) []*tmv1.Branch {
	out := make([]*tmv1.Branch, 0, len(bs))
	for _, b := range bs {
		out = append(out, newBranch(b))
	}
	return out
}

// timestamp converts unix nanoseconds from a command; 0 means unset.
func timestamp(unixNano int64) *timestamppb.Timestamp {
	if unixNano == 0 {
		return nil
	}
	return timestamppb.New(time.Unix(0, unixNano))
}

// unixNano converts a stored timestamp back; unset is 0.
func unixNano(ts *timestamppb.Timestamp) int64 {
	if ts == nil {
		return 0
	}
	return ts.AsTime().UnixNano()
}

func copyLabels(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
