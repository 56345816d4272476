package raftlog

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
)

// FSM is tmcluster's replicated state machine: the transaction records with
// their write-once decisions, the write-once idempotency key bindings, the
// participant registry, the node address book, the gc floor and the cluster
// id. It implements raft.FSM.
//
// Apply, Snapshot and Restore are called by hashicorp/raft from its FSM
// goroutine, one at a time (ApplyCommand is the same apply path for tests
// without Raft). FSMSnapshot.Persist runs concurrently with Apply. The read
// methods (Get, List, ...) are safe from any goroutine, see the state as of
// the last applied entry, and return deep copies the caller may keep and
// modify.
//
// Apply is deterministic: it reads no clock, random source, environment or
// Raft state, does no I/O and starts no goroutine, and never lets Go's map
// iteration order reach the state or a result. Two FSMs fed the same log hold
// byte-identical MarshalState.
type FSM struct {
	mu      sync.RWMutex
	st      *state
	applied uint64
	dir     atomic.Pointer[directory] // derived from st, read without mu
	watch   watchers
	// restoreIndex is the index of the snapshot the next Restore reads, when
	// the Node knows it (see indexingSnapshotStore); 0 when unknown.
	restoreIndex uint64
}

// state is the replicated state. Every message stored in its maps is
// immutable once the apply that stored it has returned (copy-on-write):
// Snapshot shares them with Persist without copying, and an apply that
// changes a record stores a modified clone (see state.mutableTx).
type state struct {
	txs          map[string]*tmlogv1.TxRecord           // by tx id
	keys         map[string]*tmlogv1.KeyBinding         // by idempotency key
	participants map[string]*tmv1.Participant           // by name
	removed      map[string]*tmlogv1.RemovedParticipant // by name
	nodes        map[string]*tmlogv1.NodeAddress        // by Raft server id
	gcFloor      uint64
	clusterID    string

	// touched lists the records the entry being applied created or
	// changed, for watchers, and cloned those it has copied (see
	// mutableTx); neither is state (never snapshotted), both are reset by
	// every apply.
	touched []string
	cloned  map[string]bool
}

// touch notes that the current entry created or changed record id.
func (s *state) touch(id string) { s.touched = append(s.touched, id) }

func newState() *state {
	return &state{
		txs:          make(map[string]*tmlogv1.TxRecord),
		keys:         make(map[string]*tmlogv1.KeyBinding),
		participants: make(map[string]*tmv1.Participant),
		removed:      make(map[string]*tmlogv1.RemovedParticipant),
		nodes:        make(map[string]*tmlogv1.NodeAddress),
		cloned:       make(map[string]bool),
	}
}

// entry is the log position of the command being applied.
type entry struct{ term, index uint64 }

// applyFunc applies one decoded command body to the state.
type applyFunc func(s *state, e entry, body proto.Message) Result

// typed adapts an apply function of one body type to applyFunc.
func typed[T proto.Message](fn func(*state, entry, T) Result) applyFunc {
	return func(s *state, e entry, body proto.Message) Result { return fn(s, e, body.(T)) }
}

// appliers is the FSM's dispatch table, one entry per command type of
// commandKinds. It is read-only after package initialization.
var appliers = map[tmlogv1.CommandType]applyFunc{
	tmlogv1.CommandType_COMMAND_TYPE_BARRIER:              typed(applyBarrier),
	tmlogv1.CommandType_COMMAND_TYPE_BEGIN:                typed(applyBegin),
	tmlogv1.CommandType_COMMAND_TYPE_ENLIST:               typed(applyEnlist),
	tmlogv1.CommandType_COMMAND_TYPE_PREPARE:              typed(applyPrepare),
	tmlogv1.CommandType_COMMAND_TYPE_DECIDE:               typed(applyDecide),
	tmlogv1.CommandType_COMMAND_TYPE_ACK:                  typed(applyAck),
	tmlogv1.CommandType_COMMAND_TYPE_COLLECT:              typed(applyCollect),
	tmlogv1.CommandType_COMMAND_TYPE_REGISTER_PARTICIPANT: typed(applyRegisterParticipant),
	tmlogv1.CommandType_COMMAND_TYPE_REMOVE_PARTICIPANT:   typed(applyRemoveParticipant),
	tmlogv1.CommandType_COMMAND_TYPE_SET_NODE:             typed(applySetNode),
	tmlogv1.CommandType_COMMAND_TYPE_REMOVE_NODE:          typed(applyRemoveNode),
	tmlogv1.CommandType_COMMAND_TYPE_INIT_CLUSTER:         typed(applyInitCluster),
}

// NewFSM returns an empty FSM: no records, no participants, gc floor 0.
func NewFSM() *FSM {
	f := &FSM{st: newState()}
	f.refreshDirectory()
	return f
}

// Apply implements raft.FSM. hashicorp/raft calls it from its FSM goroutine
// once an entry is committed. For a LogCommand entry it returns a Result
// (a value, not a pointer), which reaches the proposer as the ApplyFuture's
// Response; other entry types change nothing and return nil. It panics, with
// an error wrapping ErrCorruptCommand, on an entry it cannot decode.
func (f *FSM) Apply(l *raft.Log) interface{} {
	if l.Type != raft.LogCommand {
		f.mu.Lock()
		f.applied = l.Index
		f.mu.Unlock()
		return nil
	}
	return f.ApplyCommand(l.Term, l.Index, l.Data)
}

// ApplyCommand is the pure core of Apply: it applies the encoded command data
// as the entry at term and index and returns the register's value after it.
// Business rejections are in Result.Err and leave the state unchanged. An
// ignorable command of an unknown type changes nothing. Data that does not
// decode, or an unknown non-ignorable type, panics with an error wrapping
// ErrCorruptCommand: continuing would let this replica diverge. Callers must
// not call it concurrently with Apply, Snapshot or Restore; reads may run
// concurrently.
func (f *FSM) ApplyCommand(term, index uint64, data []byte) Result {
	cmd, body, err := DecodeCommand(data)
	if err != nil {
		panic(fmt.Errorf("raftlog: apply entry %d (term %d): %w", index, term, err))
	}
	e := entry{term: term, index: index}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = index
	if body == nil { // an ignorable command of a newer version
		return Result{Term: term, Index: index}
	}
	apply, ok := appliers[cmd.GetType()]
	if !ok { // unreachable while appliers and commandKinds agree (tested)
		panic(fmt.Errorf("raftlog: apply entry %d: %w: no applier for %v", index, ErrCorruptCommand, cmd.GetType()))
	}
	f.st.touched = f.st.touched[:0]
	clear(f.st.cloned)
	res := apply(f.st, e, body)
	if directoryChanges[cmd.GetType()] {
		f.refreshDirectory()
	}
	f.watch.publish(f.st)
	return res
}
