package raftlog

import "errors"

// Business rejections returned in Result.Err by Apply. They are identical on
// every replica and never change state.
var (
	// ErrTxNotFound is returned when a command names a transaction that has
	// no record (and was not minted at or below the gc floor).
	ErrTxNotFound = errors.New("raftlog: transaction not found")
	// ErrTxTooOld is returned for a command on an absent transaction minted at
	// or below the gc floor: it may have been collected, so the entry decides
	// nothing and binds no key.
	ErrTxTooOld = errors.New("raftlog: transaction too old")
	// ErrNotActive is returned when EnlistBranch targets a transaction that is
	// no longer ACTIVE (its branch list is frozen or it is decided).
	ErrNotActive = errors.New("raftlog: transaction not active")
	// ErrDuplicateBranch is returned when EnlistBranch adds a branch id that
	// the transaction already has with a different participant or payload.
	ErrDuplicateBranch = errors.New("raftlog: duplicate branch id")
	// ErrParticipantBusy is returned when RemoveParticipant names a
	// participant that still has branches of incomplete transactions.
	ErrParticipantBusy = errors.New("raftlog: participant has incomplete branches")
	// ErrUnknownParticipant is returned when RemoveParticipant names a
	// participant that is not registered.
	ErrUnknownParticipant = errors.New("raftlog: unknown participant")
)

// Errors returned by the codec.
var (
	// ErrInvalidTxID is returned by ParseTxID for a string that is not a
	// canonical tx id ("tx-<term>-<index>-<seq>", lower-case hex, no leading
	// zeros). It never appears in a Result.
	ErrInvalidTxID = errors.New("raftlog: invalid transaction id")
	// ErrNotCommand is returned by EncodeCommand for a message that is not
	// one of the command bodies of tmlog.v1. Nothing was encoded.
	ErrNotCommand = errors.New("raftlog: not a command body")
)

// Errors returned by the Node.
var (
	// ErrNotLeader is returned when a proposal is made on a node that is not
	// the leader. Nothing was appended.
	ErrNotLeader = errors.New("raftlog: not the leader")
	// ErrOutcomeUnknown is returned when a proposal was handed to Raft but its
	// Apply result never came back (leadership lost, shutdown): the entry may
	// or may not be committed.
	ErrOutcomeUnknown = errors.New("raftlog: outcome of the proposal unknown")
	// ErrCorruptCommand is the panic value when a log entry cannot be decoded
	// or has an unknown, non-ignorable type: continuing would corrupt state.
	ErrCorruptCommand = errors.New("raftlog: corrupt or unknown command")
)
