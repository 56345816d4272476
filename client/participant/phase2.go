package participant

import (
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// endKind is the end a Commit or Abort asks for.
type endKind uint8

const (
	endCommit endKind = iota + 1
	endAbort
)

func (e endKind) String() string {
	if e == endCommit {
		return "commit"
	}
	return "abort"
}

// decision is what a Commit or Abort (or a Resolve answer) says.
type decision struct {
	kind         endKind
	index, term  uint64
	tombstoneTTL time.Duration
}

// endRequest is one Commit or Abort for one branch, as it arrived.
type endRequest struct {
	decision
	txID, branchID string
	key            []byte
	arrival        time.Time
}

// end runs obligations 3, 4 and 5 for one Commit or Abort; the RPCs and the
// resolver share it, so hooks run once whoever brings the decision. It
// returns nil once the end state is durable, or a gRPC error.
func (k *Kit) end(txID, branchID string, d decision) error {
	if err := checkIDs(txID, branchID); err != nil {
		return err
	}
	r := endRequest{decision: d, txID: txID, branchID: branchID,
		key: branchKey(txID, branchID), arrival: time.Now()}
	unlock := k.locks.lock(string(r.key))
	defer unlock()

	write, answer, err := k.endRead(r)
	if err == nil && write {
		write, answer, err = k.endWrite(r)
	}
	if err != nil {
		k.log.Error("participant: cannot end branch", "tx_id", txID, "branch_id", branchID, "end", d.kind, "err", err)
		return storeError(err)
	}
	if write {
		k.resolver.forget(string(r.key))
	}
	return answer
}

// endRead plans r from a read-only view: most repeats need no write.
func (k *Kit) endRead(r endRequest) (write bool, answer, err error) {
	err = k.db.View(func(tx *bbolt.Tx) error {
		rec, err := getRecord(tx, r.key)
		if err == nil {
			write, answer = k.planEnd(rec, r)
		}
		return err
	})
	return write, answer, err
}

// endWrite plans r again inside a write transaction and applies the plan.
func (k *Kit) endWrite(r endRequest) (write bool, answer, err error) {
	err = k.db.Batch(func(tx *bbolt.Tx) error {
		rec, err := getRecord(tx, r.key)
		if err != nil {
			return err
		}
		if write, answer = k.planEnd(rec, r); !write {
			return nil
		}
		return k.applyEnd(tx, rec, r)
	})
	return write, answer, err
}

// planEnd decides, from the branch's record (nil if none), whether r needs
// a write and what to answer.
func (k *Kit) planEnd(rec *record, r endRequest) (write bool, answer error) {
	if rec == nil {
		if r.kind == endCommit {
			return false, branchError(tmv1.ReasonUnknownBranch, "commit for a branch never prepared", r.txID, r.branchID, StateUnknown)
		}
		return true, nil
	}
	switch {
	case rec.State == StatePrepared:
		return true, nil
	case rec.State == StateReadOnly:
		return false, nil
	case rec.State == StateCommitted && r.kind == endAbort:
		return false, branchError(tmv1.ReasonBranchCommitted, "abort for a committed branch", r.txID, r.branchID, rec.State)
	case rec.State.aborted() && r.kind == endCommit:
		return false, branchError(tmv1.ReasonBranchAborted, "commit for an aborted branch", r.txID, r.branchID, rec.State)
	case rec.State == StateTombstone:
		return k.tombstonePurgeAt(r) > rec.PurgeAt, nil
	}
	return false, nil
}

// tombstonePurgeAt is when a tombstone left by r may go: tombstone_ttl plus
// grace after the Abort arrived, and never before the retention window.
func (k *Kit) tombstonePurgeAt(r endRequest) int64 {
	keep := max(r.tombstoneTTL+k.cfg.TombstoneGrace, k.cfg.Retention)
	return r.arrival.Add(keep).UnixNano()
}

// applyEnd writes what planEnd decided: a new or longer-lived tombstone, or
// a prepared branch's end state together with its hook's effects.
func (k *Kit) applyEnd(tx *bbolt.Tx, old *record, r endRequest) error {
	if old == nil || old.State == StateTombstone {
		rec := &record{TxID: r.txID, BranchID: r.branchID, State: StateTombstone,
			DecisionIndex: r.index, DecisionTerm: r.term, EndTime: r.arrival.UnixNano(),
			PurgeAt: k.tombstonePurgeAt(r)}
		return putRecord(tx, old, rec)
	}
	if err := k.callEnd(tx, old, r.kind); err != nil {
		return err
	}
	rec := *old
	rec.State = StateCommitted
	if r.kind == endAbort {
		rec.State = StateAborted
	}
	rec.DecisionIndex, rec.DecisionTerm = r.index, r.term
	rec.EndTime = r.arrival.UnixNano()
	rec.PurgeAt = r.arrival.Add(k.cfg.Retention).UnixNano()
	if err := putRecord(tx, old, &rec); err != nil {
		return err
	}
	return countTransition(tx, old.State, rec.State)
}

// callEnd runs the Commit or Abort hook, turning a panic into an error.
func (k *Kit) callEnd(tx *bbolt.Tx, rec *record, kind endKind) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("participant: %v hook panicked: %v", kind, p)
		}
	}()
	b := Branch{TxID: rec.TxID, BranchID: rec.BranchID, Payload: rec.Payload}
	if kind == endCommit {
		err = k.cfg.Hooks.Commit(tx, b)
	} else {
		err = k.cfg.Hooks.Abort(tx, b)
	}
	if err != nil {
		return fmt.Errorf("participant: %v hook: %w", kind, err)
	}
	return nil
}
