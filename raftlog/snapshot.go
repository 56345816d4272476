package raftlog

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
)

// Snapshots. The encoding is tmlogv1.Snapshot with every repeated field
// sorted by its key, marshalled deterministically: the same state always
// gives the same bytes, on every replica and every version of Go.

// freeze captures the state for encoding. It copies only the maps' values
// (pointers): the stored messages are immutable (copy-on-write), so the
// result stays valid while later entries apply. The caller holds f.mu.
func (s *state) freeze() *tmlogv1.Snapshot {
	snap := &tmlogv1.Snapshot{
		Transactions:        make([]*tmlogv1.TxRecord, 0, len(s.txs)),
		Keys:                make([]*tmlogv1.KeyBinding, 0, len(s.keys)),
		Participants:        make([]*tmv1.Participant, 0, len(s.participants)),
		RemovedParticipants: make([]*tmlogv1.RemovedParticipant, 0, len(s.removed)),
		Nodes:               make([]*tmlogv1.NodeAddress, 0, len(s.nodes)),
		GcFloor:             s.gcFloor,
		ClusterId:           s.clusterID,
	}
	for _, v := range s.txs {
		snap.Transactions = append(snap.Transactions, v)
	}
	for _, v := range s.keys {
		snap.Keys = append(snap.Keys, v)
	}
	for _, v := range s.participants {
		snap.Participants = append(snap.Participants, v)
	}
	for _, v := range s.removed {
		snap.RemovedParticipants = append(snap.RemovedParticipants, v)
	}
	for _, v := range s.nodes {
		snap.Nodes = append(snap.Nodes, v)
	}
	return snap
}

// encodeSnapshot sorts a frozen snapshot's lists (which it owns) by key and
// marshals it deterministically.
func encodeSnapshot(snap *tmlogv1.Snapshot) ([]byte, error) {
	slices.SortFunc(snap.Transactions, func(a, b *tmlogv1.TxRecord) int { return cmp.Compare(a.GetTx().GetTxId(), b.GetTx().GetTxId()) })
	slices.SortFunc(snap.Keys, func(a, b *tmlogv1.KeyBinding) int { return cmp.Compare(a.GetKey(), b.GetKey()) })
	slices.SortFunc(snap.Participants, func(a, b *tmv1.Participant) int { return cmp.Compare(a.GetName(), b.GetName()) })
	slices.SortFunc(snap.RemovedParticipants, func(a, b *tmlogv1.RemovedParticipant) int {
		return cmp.Compare(a.GetParticipant().GetName(), b.GetParticipant().GetName())
	})
	slices.SortFunc(snap.Nodes, func(a, b *tmlogv1.NodeAddress) int { return cmp.Compare(a.GetId(), b.GetId()) })
	data, err := marshalDeterministic.Marshal(snap)
	if err != nil {
		return nil, fmt.Errorf("raftlog: encode snapshot: %w", err)
	}
	return data, nil
}

// MarshalState returns the deterministic encoding of the whole state (a
// tmlogv1.Snapshot): the bytes Persist writes and Restore reads. Two FSMs with
// the same state return identical bytes. Safe from any goroutine.
func (f *FSM) MarshalState() ([]byte, error) {
	f.mu.RLock()
	snap := f.st.freeze()
	f.mu.RUnlock()
	return encodeSnapshot(snap)
}

// Digest returns the hex SHA-256 of MarshalState, for comparing replicas: two
// nodes at the same applied index must report the same digest. It returns ""
// if the state cannot be encoded, which state built by Apply never is (every
// string was validated when its command was decoded). Safe from any
// goroutine.
func (f *FSM) Digest() string {
	_, d := f.DigestAt()
	return d
}

// DigestAt returns Digest together with the applied index of the same
// state, read under one lock, so that replicas can be compared at equal
// indexes while entries keep applying.
func (f *FSM) DigestAt() (applied uint64, digest string) {
	f.mu.RLock()
	snap, applied := f.st.freeze(), f.applied
	f.mu.RUnlock()
	data, err := encodeSnapshot(snap)
	if err != nil {
		return applied, ""
	}
	sum := sha256.Sum256(data)
	return applied, hex.EncodeToString(sum[:])
}

// Snapshot implements raft.FSM. hashicorp/raft calls it from its FSM
// goroutine, between applies; it only captures the state (no copy of the
// records, no I/O). The returned snapshot's Persist encodes and writes.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return &fsmSnapshot{snap: f.st.freeze()}, nil
}

// fsmSnapshot is a frozen state, see state.freeze.
type fsmSnapshot struct {
	snap *tmlogv1.Snapshot
}

// Persist implements raft.FSMSnapshot: it writes exactly the MarshalState
// bytes of the captured state to sink and closes it, or cancels it on error.
// hashicorp/raft calls it from its snapshot goroutine, concurrently with
// Apply.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	data, err := encodeSnapshot(s.snap)
	if err == nil {
		_, err = sink.Write(data)
	}
	if err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("raftlog: persist snapshot: %w", err)
	}
	return sink.Close()
}

// Release implements raft.FSMSnapshot. Nothing is held.
func (s *fsmSnapshot) Release() {}

// Restore implements raft.FSM: it decodes a snapshot written by Persist into
// fresh state and swaps it in, discarding all previous state. hashicorp/raft
// calls it from its FSM goroutine, never concurrently with Apply. On error the
// previous state is kept.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("raftlog: read snapshot: %w", err)
	}
	st, err := decodeState(data)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st = st
	f.refreshDirectory()
	if f.restoreIndex != 0 {
		f.applied, f.restoreIndex = f.restoreIndex, 0
	}
	return nil
}

// setRestoreIndex tells the FSM the index of the snapshot the next Restore
// will read (see indexingSnapshotStore).
func (f *FSM) setRestoreIndex(index uint64) {
	f.mu.Lock()
	f.restoreIndex = index
	f.mu.Unlock()
}

// decodeState builds state from snapshot bytes, rejecting a snapshot that
// names a key twice or holds a record without a transaction.
func decodeState(data []byte) (*state, error) {
	snap := new(tmlogv1.Snapshot)
	if err := proto.Unmarshal(data, snap); err != nil {
		return nil, fmt.Errorf("raftlog: decode snapshot: %w", err)
	}
	st := newState()
	st.gcFloor, st.clusterID = snap.GetGcFloor(), snap.GetClusterId()
	var errs []error
	for _, r := range snap.GetTransactions() {
		if r.GetTx() == nil {
			errs = append(errs, fmt.Errorf("record without transaction"))
			continue
		}
		errs = append(errs, put(st.txs, r.GetTx().GetTxId(), r))
	}
	for _, b := range snap.GetKeys() {
		errs = append(errs, put(st.keys, b.GetKey(), b))
	}
	for _, p := range snap.GetParticipants() {
		errs = append(errs, put(st.participants, p.GetName(), p))
	}
	for _, rp := range snap.GetRemovedParticipants() {
		errs = append(errs, put(st.removed, rp.GetParticipant().GetName(), rp))
	}
	for _, n := range snap.GetNodes() {
		errs = append(errs, put(st.nodes, n.GetId(), n))
	}
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("raftlog: invalid snapshot: %w", err)
		}
	}
	return st, nil
}

// put adds v under k, refusing a duplicate key.
func put[V any](m map[string]V, k string, v V) error {
	if _, dup := m[k]; dup {
		return fmt.Errorf("duplicate entry %q", k)
	}
	m[k] = v
	return nil
}
