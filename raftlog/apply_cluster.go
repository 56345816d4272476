package raftlog

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
)

// Cluster bookkeeping: the barrier, the cluster id, the participant registry
// and the node address book.

// applyBarrier changes nothing: its Result carries the entry's term and
// index, which a new leader uses to mint tx ids (rule 4).
func applyBarrier(s *state, e entry, _ *tmlogv1.BarrierCommand) Result {
	return s.result(e, "")
}

// applyInitCluster fixes the cluster id; later ones change nothing.
func applyInitCluster(s *state, e entry, c *tmlogv1.InitClusterCommand) Result {
	if s.clusterID == "" {
		s.clusterID = c.GetClusterId()
	}
	return s.result(e, "")
}

// applyRegisterParticipant adds a participant or re-targets an existing name
// (register_time stays that of the first registration; target and identity
// are replaced, so an empty identity clears one), and forgets any removal of
// that name.
func applyRegisterParticipant(s *state, e entry, c *tmlogv1.RegisterParticipantCommand) Result {
	p := &tmv1.Participant{
		Name:         c.GetName(),
		Target:       c.GetTarget(),
		RegisterTime: timestamp(c.GetTimeUnixNano()),
		Identity:     c.GetIdentity(),
	}
	if old, ok := s.participants[c.GetName()]; ok && old.GetRegisterTime() != nil {
		p.RegisterTime = proto.Clone(old.GetRegisterTime()).(*timestamppb.Timestamp)
	}
	s.participants[c.GetName()] = p
	delete(s.removed, c.GetName())
	return s.result(e, "")
}

// applyRemoveParticipant removes a participant and remembers when, so it may
// still resolve its branches for the retention window.
//   - not registered: ErrUnknownParticipant.
//   - a branch of an unfinished record (ACTIVE, PREPARING, or decided and not
//     completed) names it and is not in an end state: ErrParticipantBusy.
func applyRemoveParticipant(s *state, e entry, c *tmlogv1.RemoveParticipantCommand) Result {
	name := c.GetName()
	p, ok := s.participants[name]
	if !ok {
		return s.rejected(e, "", ErrUnknownParticipant)
	}
	if s.participantBusy(name) {
		return s.rejected(e, "", ErrParticipantBusy)
	}
	delete(s.participants, name)
	s.removed[name] = &tmlogv1.RemovedParticipant{Participant: p, RemoveTimeUnixNano: c.GetTimeUnixNano()}
	return s.result(e, "")
}

// participantBusy reports whether any unfinished record has a branch of the
// participant that still needs it. The answer does not depend on map order.
func (s *state) participantBusy(name string) bool {
	for _, rec := range s.txs {
		if rec.GetTx().GetCompleted() {
			continue
		}
		for _, b := range rec.GetTx().GetBranches() {
			if b.GetParticipant() == name && !isEnded(b.GetState()) {
				return true
			}
		}
	}
	return false
}

// applySetNode sets the address book entry of a Raft server.
func applySetNode(s *state, e entry, c *tmlogv1.SetNodeCommand) Result {
	s.nodes[c.GetId()] = &tmlogv1.NodeAddress{
		Id:          c.GetId(),
		GrpcAddress: c.GetGrpcAddress(),
		RaftAddress: c.GetRaftAddress(),
	}
	return s.result(e, "")
}

// applyRemoveNode removes the address book entry of a Raft server, if any.
func applyRemoveNode(s *state, e entry, c *tmlogv1.RemoveNodeCommand) Result {
	delete(s.nodes, c.GetId())
	return s.result(e, "")
}
