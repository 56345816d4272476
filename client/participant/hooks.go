package participant

import (
	"fmt"

	"go.etcd.io/bbolt"
)

// Branch is one 2PC branch as the service's hooks see it.
type Branch struct {
	TxID     string
	BranchID string
	// Payload is the branch's payload exactly as the client gave it. Commit
	// and Abort receive the payload that was prepared.
	Payload []byte
}

// Vote is a Prepare hook's answer.
type Vote uint8

// The votes a Prepare hook may return. VoteUnspecified is invalid: the kit
// treats it like an error (the branch votes NO).
const (
	VoteUnspecified Vote = iota
	// VoteYes: the effects are staged in tx and will be applied by Commit or
	// released by Abort.
	VoteYes
	// VoteNo: the branch cannot commit; the reason is shown to operators.
	VoteNo
	// VoteReadOnly: nothing to commit; neither Commit nor Abort will be
	// called for the branch.
	VoteReadOnly
)

// String returns the vote's name.
func (v Vote) String() string {
	switch v {
	case VoteYes:
		return "YES"
	case VoteNo:
		return "NO"
	case VoteReadOnly:
		return "READ_ONLY"
	}
	return fmt.Sprintf("Vote(%d)", uint8(v))
}

// Hooks is what a service implements to become a participant. The kit calls
// the hooks from gRPC handler goroutines and from its resolver, always inside
// a bbolt write transaction (tx) of the kit's database that also records the
// vote or end state, so the hook's writes and the kit's record commit
// together or not at all. Hooks for different branches may run one after the
// other inside one transaction (the kit batches writers with bbolt's
// DB.Batch), so a hook must be a pure function of tx and b:
//
//   - it reads and writes only through tx (the service's own buckets; never
//     the kit's, whose names start with "tmkit/");
//   - it may be called more than once for one branch when a batch is retried,
//     but only one of those calls' transactions ever commits. Side effects
//     outside tx (metrics, caches, counters) belong in tx.OnCommit;
//   - it must not call Commit or Rollback on tx, nor keep tx after returning.
//
// The kit never runs two hooks for the same branch at once.
type Hooks interface {
	// Prepare stages the branch's effects in tx and votes. The kit commits
	// tx (with fsync) together with its record of a YES vote before the vote
	// is sent. For VoteNo and VoteReadOnly the kit rolls back tx, so nothing
	// the hook wrote persists, and records only the vote; neither Commit nor
	// Abort is ever called for such a branch. A non-nil error (or an invalid
	// vote) also rolls back tx and votes NO with the error as the reason.
	Prepare(tx *bbolt.Tx, b Branch) (vote Vote, reason string, err error)
	// Commit applies a branch that voted YES. Its effects commit exactly once
	// per branch. An error rolls back tx: the branch stays prepared, the
	// Commit RPC fails with INTERNAL and the coordinator (or the resolver)
	// retries.
	Commit(tx *bbolt.Tx, b Branch) error
	// Abort releases a branch that voted YES. Its effects commit exactly
	// once per branch. An error rolls back tx and the branch stays prepared,
	// as for Commit.
	Abort(tx *bbolt.Tx, b Branch) error
}
