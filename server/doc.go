// Package server is a tmcluster node's gRPC face and its leader's duties:
// TransactionService, ClusterService, health and reflection; the 2PC driver;
// phase two with retries and batched acknowledgements; recovery when a node
// gains leadership; the deadline reaper; garbage collection; and forwarding
// from followers to the leader.
//
// Every safety property rests on the decision register in raftlog: the
// driver acts only on what Apply returned, never on what it proposed, and an
// Apply that fails leaves the outcome unknown (UNAVAILABLE OUTCOME_UNKNOWN,
// nothing sent to participants). server never writes replicated state except
// through a Raft proposal, and never reads a clock inside the FSM: times and
// ids are chosen here, on the leader, and travel inside the commands.
package server
