package raftlog

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/hashicorp/raft"
)

// Membership: the Raft configuration. Changes must be made on the leader;
// elsewhere they fail with an error wrapping ErrNotLeader.

// Servers returns the current Raft configuration sorted by id.
func (n *Node) Servers() ([]Server, error) {
	f := n.raft.GetConfiguration()
	if err := n.await(f); err != nil {
		return nil, fmt.Errorf("raftlog: read configuration: %w", err)
	}
	conf := f.Configuration()
	out := make([]Server, 0, len(conf.Servers))
	for _, s := range conf.Servers {
		out = append(out, Server{
			ID:          string(s.ID),
			RaftAddress: string(s.Address),
			Voter:       s.Suffrage == raft.Voter,
		})
	}
	slices.SortFunc(out, func(a, b Server) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// AddVoter adds a voting member, or updates the address of an existing one,
// and waits until the configuration change is committed.
func (n *Node) AddVoter(id, raftAddr string) error {
	return n.membershipChange("add voter "+id, n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(raftAddr), 0, 0))
}

// AddNonvoter adds a member that receives the log but does not vote, and
// waits until the change is committed.
func (n *Node) AddNonvoter(id, raftAddr string) error {
	return n.membershipChange("add nonvoter "+id, n.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(raftAddr), 0, 0))
}

// RemoveServer removes a member and waits until the change is committed. A
// leader that removes itself steps down once it is committed.
func (n *Node) RemoveServer(id string) error {
	return n.membershipChange("remove server "+id, n.raft.RemoveServer(raft.ServerID(id), 0, 0))
}

// TransferLeadership hands leadership to the voter id at raftAddr (looked up
// in the configuration when empty), or to the most up-to-date voter when id
// is empty, and waits for the handover to be started and acknowledged.
func (n *Node) TransferLeadership(id, raftAddr string) error {
	if id == "" {
		return n.membershipChange("transfer leadership", n.raft.LeadershipTransfer())
	}
	if raftAddr == "" {
		servers, err := n.Servers()
		if err != nil {
			return err
		}
		i := slices.IndexFunc(servers, func(s Server) bool { return s.ID == id })
		if i < 0 {
			return fmt.Errorf("raftlog: transfer leadership: %q is not a member", id)
		}
		raftAddr = servers[i].RaftAddress
	}
	return n.membershipChange("transfer leadership to "+id,
		n.raft.LeadershipTransferToServer(raft.ServerID(id), raft.ServerAddress(raftAddr)))
}

// membershipChange waits for a configuration future and classifies its error.
func (n *Node) membershipChange(what string, f raft.Future) error {
	err := n.await(f)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader):
		return fmt.Errorf("raftlog: %s: %w: %w", what, ErrNotLeader, err)
	default:
		return fmt.Errorf("raftlog: %s: %w", what, err)
	}
}
