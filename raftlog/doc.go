// Package raftlog owns tmcluster's replicated state: the command encoding,
// the FSM (the transaction records, the write-once decision register, the
// idempotency key bindings, the participant registry and the node address
// book), its snapshots, and the hashicorp/raft node that replicates it
// (raft-boltdb log and stable store with fsync on, a file snapshot store, the
// TCP transport).
//
// The FSM is a pure state machine. Apply reads no clock, random source,
// environment or Raft state, does no I/O and starts no goroutine: every id,
// time and deadline arrives inside the command, chosen by the leader. Business
// rejections (a decision for a forgotten transaction, an enlist on a frozen
// one) are values in the Result, identical on every replica.
//
// raftlog never imports its callers (server, cmd); it imports only the
// generated protobuf code.
package raftlog
