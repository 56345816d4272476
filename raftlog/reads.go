package raftlog

import (
	"bytes"
	"cmp"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
)

// Reads of the applied state. Every method is safe from any goroutine, sees
// the state after the last applied entry, and returns deep copies.

func recordOf(r *tmlogv1.TxRecord) Record {
	return Record{
		Tx:        proto.Clone(r.GetTx()).(*tmv1.Transaction),
		MintTerm:  r.GetMintTerm(),
		MintIndex: r.GetMintIndex(),
	}
}

// Get returns the record of txID, if any.
func (f *FSM) Get(txID string) (Record, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	r, ok := f.st.txs[txID]
	if !ok {
		return Record{}, false
	}
	return recordOf(r), true
}

// List returns the records that pass the filter, sorted by tx id: only
// State (unless UNSPECIFIED), carrying every label of Labels, with a tx id
// greater than After, at most Limit of them (0: no limit).
func (f *FSM) List(filter ListFilter) []Record {
	return f.collect(filter.Limit, func(r *tmlogv1.TxRecord) bool {
		tx := r.GetTx()
		if filter.After != "" && tx.GetTxId() <= filter.After {
			return false
		}
		if filter.State != tmv1.TransactionState_TRANSACTION_STATE_UNSPECIFIED && tx.GetState() != filter.State {
			return false
		}
		for k, v := range filter.Labels {
			if got, ok := tx.GetLabels()[k]; !ok || got != v {
				return false
			}
		}
		return true
	})
}

// Unfinished returns every record not completed (ACTIVE, PREPARING, or
// decided with completed false), sorted by tx id: the work a new leader must
// recover.
func (f *FSM) Unfinished() []Record {
	return f.collect(0, func(r *tmlogv1.TxRecord) bool { return !r.GetTx().GetCompleted() })
}

// collect returns deep copies of the matching records, sorted by tx id, at
// most limit of them (0: all).
func (f *FSM) collect(limit int, match func(*tmlogv1.TxRecord) bool) []Record {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var hits []*tmlogv1.TxRecord
	for _, r := range f.st.txs {
		if match(r) {
			hits = append(hits, r)
		}
	}
	slices.SortFunc(hits, func(a, b *tmlogv1.TxRecord) int { return cmp.Compare(a.GetTx().GetTxId(), b.GetTx().GetTxId()) })
	if limit > 0 && len(hits) > limit {
		hits = hits[:limit]
	}
	out := make([]Record, 0, len(hits))
	for _, r := range hits {
		out = append(out, recordOf(r))
	}
	return out
}

// Binding returns the transaction an idempotency key is bound to and the
// fingerprint of the request that bound it.
func (f *FSM) Binding(key string) (txID string, fingerprint []byte, ok bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	b, ok := f.st.keys[key]
	if !ok {
		return "", nil, false
	}
	return b.GetTxId(), bytes.Clone(b.GetFingerprint()), true
}

// Participant returns a registered participant.
func (f *FSM) Participant(name string) (*tmv1.Participant, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	p, ok := f.st.participants[name]
	if !ok {
		return nil, false
	}
	return proto.Clone(p).(*tmv1.Participant), true
}

// Participants returns the registered participants sorted by name.
func (f *FSM) Participants() []*tmv1.Participant {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return sortedClones(f.st.participants)
}

// RemovedParticipant reports when a participant was removed, if it was
// removed and not yet forgotten (COLLECT forgets removals older than the
// retention window; registering the name again forgets it too).
func (f *FSM) RemovedParticipant(name string) (removedAt time.Time, ok bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	rp, ok := f.st.removed[name]
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(0, rp.GetRemoveTimeUnixNano()).UTC(), true
}

// Nodes returns the node address book sorted by Raft server id.
func (f *FSM) Nodes() []*tmlogv1.NodeAddress {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return sortedClones(f.st.nodes)
}

// Node returns the address book entry of a Raft server id.
func (f *FSM) Node(id string) (*tmlogv1.NodeAddress, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	n, ok := f.st.nodes[id]
	if !ok {
		return nil, false
	}
	return proto.Clone(n).(*tmlogv1.NodeAddress), true
}

// GCFloor returns the highest mint index among collected records (0 before
// any collection). A decision for an absent transaction minted at or below it
// is ErrTxTooOld.
func (f *FSM) GCFloor() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.gcFloor
}

// AppliedIndex returns the index of the last entry applied, or of the
// snapshot restored since, when its index is known (a snapshot restored by a
// Node; a bare Restore keeps the previous value). Entries
// hashicorp/raft does not hand to the FSM (its no-op and configuration
// entries) do not count.
func (f *FSM) AppliedIndex() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.applied
}

// Len returns the number of transaction records.
func (f *FSM) Len() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.st.txs)
}

// KeyCount returns the number of idempotency key bindings.
func (f *FSM) KeyCount() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.st.keys)
}

// sortedClones returns deep copies of a map's values sorted by key.
func sortedClones[M proto.Message](m map[string]M) []M {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]M, 0, len(keys))
	for _, k := range keys {
		out = append(out, proto.Clone(m[k]).(M))
	}
	return out
}
