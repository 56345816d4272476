package participant

import "fmt"

// State is what the kit knows about a branch.
type State uint8

// Branch states. Prepared is the only state that is not final; VotedNo,
// Aborted and Tombstone are all "aborted" for Commit and Abort.
const (
	StateUnknown State = iota
	// StatePrepared: voted YES, no decision heard yet (in doubt once its
	// resolve_after plus grace has passed).
	StatePrepared
	// StateCommitted: voted YES, then committed.
	StateCommitted
	// StateAborted: voted YES, then aborted.
	StateAborted
	// StateVotedNo: voted NO; the branch is aborted.
	StateVotedNo
	// StateReadOnly: voted READ_ONLY; the branch has left phase two.
	StateReadOnly
	// StateTombstone: aborted before any Prepare arrived; a late Prepare
	// votes NO.
	StateTombstone
)

// String returns the state's name.
func (s State) String() string {
	switch s {
	case StatePrepared:
		return "Prepared"
	case StateCommitted:
		return "Committed"
	case StateAborted:
		return "Aborted"
	case StateVotedNo:
		return "VotedNo"
	case StateReadOnly:
		return "ReadOnly"
	case StateTombstone:
		return "Tombstone"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// vote is the vote a branch in state s gave, VoteUnspecified for a tombstone.
func (s State) vote() Vote {
	switch s {
	case StatePrepared, StateCommitted, StateAborted:
		return VoteYes
	case StateVotedNo:
		return VoteNo
	case StateReadOnly:
		return VoteReadOnly
	}
	return VoteUnspecified
}

// aborted reports whether a branch in state s counts as aborted.
func (s State) aborted() bool {
	return s == StateAborted || s == StateVotedNo || s == StateTombstone
}

// BranchInfo describes one branch record, as ListBranches returns it.
type BranchInfo struct {
	TxID        string
	BranchID    string
	Participant string
	Payload     []byte
	State       State
	// Reason is why the branch voted NO, if it did.
	Reason string
}
