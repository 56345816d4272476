package raftlog

// This file fixes the API that server/ codes against. The bodies are filled
// in by the implementation files; signatures here change only by agreement.

import (
	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// Result is what Apply returns for every command: the register's value after
// the entry, which may differ from what was proposed. Callers act only on it.
type Result struct {
	// Term and Index of the log entry.
	Term, Index uint64
	// Tx is the command's transaction record after the entry; nil when the
	// command names no transaction or none is recorded.
	Tx *tmv1.Transaction
	// Decided is true when this very entry wrote Tx's decision.
	Decided bool
	// Bound is the transaction the command's idempotency key is bound to
	// after the entry, nil when the command carries no key or the key is
	// unbound. BoundFingerprint is the binding's request fingerprint.
	//
	// Tx, Bound and BoundFingerprint are the FSM's stored messages, shared,
	// not copies: they never change (a later entry that changes the record
	// stores a new one), and the caller must not change them either. Clone
	// before modifying.
	Bound            *tmv1.Transaction
	BoundFingerprint []byte
	// Err is a business rejection (ErrTxTooOld, ErrNotActive, ...); state was
	// not changed by the entry when it is set.
	Err error
}

// Mint is where a transaction id was minted: the term and index of the
// leader's barrier entry, and a sequence number within it.
type Mint struct {
	Term, Index, Seq uint64
}

// Record is a read-only view of one transaction record.
type Record struct {
	Tx        *tmv1.Transaction // deep copy
	MintTerm  uint64
	MintIndex uint64
}

// ListFilter selects transactions for List.
type ListFilter struct {
	State  tmv1.TransactionState // UNSPECIFIED: any
	Labels map[string]string     // all must match
	After  string                // tx ids strictly greater
	Limit  int                   // at most this many
}

// Server is one member of the Raft configuration.
type Server struct {
	ID          string
	RaftAddress string
	Voter       bool
}
