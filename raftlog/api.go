package raftlog

// This file fixes the API that server/ codes against. The bodies are filled
// in by the implementation files; signatures here change only by agreement.

import (
	"time"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
)

// Result is what Apply returns for every command: the register's value after
// the entry, which may differ from what was proposed. Callers act only on it.
type Result struct {
	// Term and Index of the log entry.
	Term, Index uint64
	// Tx is a deep copy of the command's transaction record after the entry;
	// nil when the command names no transaction or none is recorded.
	Tx *tmv1.Transaction
	// Decided is true when this very entry wrote Tx's decision.
	Decided bool
	// Bound is a deep copy of the transaction the command's idempotency key is
	// bound to after the entry, nil when the command carries no key or the key
	// is unbound. BoundFingerprint is the binding's request fingerprint.
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

// Compile-time reminders of the command types the FSM must dispatch.
var _ = []tmlogv1.CommandType{
	tmlogv1.CommandType_COMMAND_TYPE_BARRIER,
	tmlogv1.CommandType_COMMAND_TYPE_BEGIN,
	tmlogv1.CommandType_COMMAND_TYPE_ENLIST,
	tmlogv1.CommandType_COMMAND_TYPE_PREPARE,
	tmlogv1.CommandType_COMMAND_TYPE_DECIDE,
	tmlogv1.CommandType_COMMAND_TYPE_ACK,
	tmlogv1.CommandType_COMMAND_TYPE_COLLECT,
	tmlogv1.CommandType_COMMAND_TYPE_REGISTER_PARTICIPANT,
	tmlogv1.CommandType_COMMAND_TYPE_REMOVE_PARTICIPANT,
	tmlogv1.CommandType_COMMAND_TYPE_SET_NODE,
	tmlogv1.CommandType_COMMAND_TYPE_REMOVE_NODE,
	tmlogv1.CommandType_COMMAND_TYPE_INIT_CLUSTER,
}

var _ = time.Duration(0)
