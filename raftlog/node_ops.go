package raftlog

import (
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
)

// ID returns the node's Raft server id.
func (n *Node) ID() string { return n.id }

// FSM returns the node's state machine, for reads. Writes go through Propose.
func (n *Node) FSM() *FSM { return n.fsm }

// HadState reports whether the data dir held Raft state at Open, in which
// case Bootstrap was ignored and the node resumed from it.
func (n *Node) HadState() bool { return n.hadState }

// Raft returns the underlying hashicorp/raft instance, for tests and
// benchmarks. Production code uses the Node's methods.
func (n *Node) Raft() *raft.Raft { return n.raft }

// Propose encodes a command body, appends it to the Raft log and waits for
// its Apply result, however long that takes: there is no timeout and no
// context, because once an entry is proposed its outcome must be learnt, not
// guessed (design.md rule 3). The Result is the register's value after the
// entry; act only on it.
//
// Errors: one wrapping ErrNotLeader means nothing was appended (this node is
// not the leader, or is handing leadership over); retry on the leader. Any
// other Raft failure (leadership lost, shutdown) wraps ErrOutcomeUnknown and
// the original error: the entry may or may not be committed, and the caller
// must not act as if it knew. An encoding error means nothing was proposed.
func (n *Node) Propose(body proto.Message) (Result, error) {
	data, err := EncodeCommand(body)
	if err != nil {
		return Result{}, err
	}
	f := n.raft.Apply(data, 0)
	if err := n.await(f); err != nil {
		return Result{}, proposalError(err)
	}
	res, ok := f.Response().(Result)
	if !ok {
		return Result{}, fmt.Errorf("%w: unexpected apply response %T", ErrOutcomeUnknown, f.Response())
	}
	return res, nil
}

// proposalError classifies a failed Apply future.
func proposalError(err error) error {
	if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipTransferInProgress) {
		return fmt.Errorf("%w: %w", ErrNotLeader, err)
	}
	return fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
}

// await waits for a Raft future, or for Raft to have shut down: hashicorp/raft
// drops futures queued at shutdown (in its buffered apply channel, or
// between commit and the FSM) without answering them. In that case the
// goroutine left waiting on the future stays blocked until exit, one per
// such proposal.
func (n *Node) await(f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-n.stopped:
		select {
		case err := <-done:
			return err
		default:
			return raft.ErrRaftShutdown
		}
	}
}

// Barrier proposes a BarrierCommand and returns the term and index of its
// entry: the leader's post-election barrier, whose position mints tx ids
// (rule 4). Errors as for Propose.
func (n *Node) Barrier() (term, index uint64, err error) {
	res, err := n.Propose(&tmlogv1.BarrierCommand{})
	if err != nil {
		return 0, 0, err
	}
	return res.Term, res.Index, nil
}

// VerifyLeader checks with a quorum that this node is still the leader. An
// error wraps ErrNotLeader.
func (n *Node) VerifyLeader() error {
	if err := n.await(n.raft.VerifyLeader()); err != nil {
		return fmt.Errorf("%w: %w", ErrNotLeader, err)
	}
	return nil
}

// IsLeader reports whether this node believes it is the leader (no quorum
// check: see VerifyLeader).
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Leader returns the id and Raft address of the leader this node knows of,
// both empty when it knows none.
func (n *Node) Leader() (id, raftAddr string) {
	addr, sid := n.raft.LeaderWithID()
	return string(sid), string(addr)
}

// Term returns the node's current Raft term.
func (n *Node) Term() uint64 { return n.raft.CurrentTerm() }

// CommitIndex returns the highest log index this node knows to be committed.
func (n *Node) CommitIndex() uint64 { return n.raft.CommitIndex() }

// AppliedIndex returns Raft's last applied index: the last entry handed to
// the FSM, counting Raft's own no-op and configuration entries. The FSM may
// still be applying it; FSM().AppliedIndex() is the index of the state reads
// see.
func (n *Node) AppliedIndex() uint64 { return n.raft.AppliedIndex() }

// LeadershipChanges delivers true when this node becomes leader and false
// when it stops being leader. The channel holds one value: a consumer that
// lags misses intermediate changes but always finds the latest state. It is
// never closed. Raft is never blocked by it.
func (n *Node) LeadershipChanges() <-chan bool { return n.leadership }
