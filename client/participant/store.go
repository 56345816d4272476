package participant

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/bbolt"
)

// The kit's buckets. Services must not touch them.
var (
	bucketBranches = []byte("tmkit/branches") // branch key → record (JSON)
	bucketPrepared = []byte("tmkit/prepared") // branch key of every Prepared branch → nil
	bucketPurge    = []byte("tmkit/purge")    // purge time (8 bytes) + branch key → nil
	bucketTerms    = []byte("tmkit/terms")    // cluster id → highest term (8 bytes)
	bucketStats    = []byte("tmkit/stats")    // counter name → int64 (8 bytes)
)

// Counter names in bucketStats.
var (
	statPending   = []byte("pending")
	statCommitted = []byte("committed")
	statAborted   = []byte("aborted")
)

// record is the kit's durable state of one branch.
type record struct {
	TxID          string        `json:"tx"`
	BranchID      string        `json:"br"`
	Participant   string        `json:"pn,omitempty"`
	Payload       []byte        `json:"pl,omitempty"`
	ClusterID     string        `json:"cl,omitempty"`
	Term          uint64        `json:"te,omitempty"`
	Endpoints     []string      `json:"ep,omitempty"`
	ResolveAfter  time.Duration `json:"ra,omitempty"`
	State         State         `json:"st"`
	Reason        string        `json:"re,omitempty"`
	DecisionIndex uint64        `json:"di,omitempty"`
	DecisionTerm  uint64        `json:"dt,omitempty"`
	VoteTime      int64         `json:"vt,omitempty"` // wall clock, unix ns
	EndTime       int64         `json:"et,omitempty"` // wall clock, unix ns
	PurgeAt       int64         `json:"pu,omitempty"` // wall clock, unix ns; 0 = never
}

// branchKey orders records by (tx_id, branch_id): ids never contain NUL.
func branchKey(txID, branchID string) []byte {
	return []byte(txID + "\x00" + branchID)
}

// validID reports whether s can be a tx or branch id.
func validID(s string) bool {
	return s != "" && !strings.ContainsRune(s, 0)
}

func createBuckets(tx *bbolt.Tx) error {
	for _, name := range [][]byte{bucketBranches, bucketPrepared, bucketPurge, bucketTerms, bucketStats} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("participant: create bucket %s: %w", name, err)
		}
	}
	return nil
}

// getRecord returns the branch's record, nil if there is none.
func getRecord(tx *bbolt.Tx, key []byte) (*record, error) {
	v := tx.Bucket(bucketBranches).Get(key)
	if v == nil {
		return nil, nil
	}
	return decodeRecord(key, v)
}

func decodeRecord(key, v []byte) (*record, error) {
	rec := new(record)
	if err := json.Unmarshal(v, rec); err != nil {
		return nil, fmt.Errorf("participant: decode branch %q: %w", key, err)
	}
	return rec, nil
}

// putRecord stores rec and keeps the prepared and purge indexes in step with
// it; old is the record it replaces (nil for a new one).
func putRecord(tx *bbolt.Tx, old, rec *record) error {
	key := branchKey(rec.TxID, rec.BranchID)
	v, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("participant: encode branch: %w", err)
	}
	if err := tx.Bucket(bucketBranches).Put(key, v); err != nil {
		return err
	}
	prepared := tx.Bucket(bucketPrepared)
	if rec.State == StatePrepared {
		err = prepared.Put(key, nil)
	} else if old != nil && old.State == StatePrepared {
		err = prepared.Delete(key)
	}
	if err != nil {
		return err
	}
	if old != nil && old.PurgeAt != 0 && old.PurgeAt != rec.PurgeAt {
		if err := tx.Bucket(bucketPurge).Delete(purgeKey(old.PurgeAt, key)); err != nil {
			return err
		}
	}
	if rec.PurgeAt != 0 {
		return tx.Bucket(bucketPurge).Put(purgeKey(rec.PurgeAt, key), nil)
	}
	return nil
}

func purgeKey(at int64, key []byte) []byte {
	k := make([]byte, 8, 8+len(key))
	binary.BigEndian.PutUint64(k, uint64(at))
	return append(k, key...)
}

func getUint(b *bbolt.Bucket, key []byte) uint64 {
	v := b.Get(key)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func putUint(b *bbolt.Bucket, key []byte, n uint64) error {
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], n)
	return b.Put(key, v[:])
}

// addStat adds delta to a branch counter.
func addStat(tx *bbolt.Tx, name []byte, delta int64) error {
	b := tx.Bucket(bucketStats)
	return putUint(b, name, uint64(int64(getUint(b, name))+delta))
}

// countTransition keeps the branch counters in step with a state change.
func countTransition(tx *bbolt.Tx, from, to State) error {
	if from == StatePrepared {
		if err := addStat(tx, statPending, -1); err != nil {
			return err
		}
	}
	switch to {
	case StatePrepared:
		return addStat(tx, statPending, 1)
	case StateCommitted:
		return addStat(tx, statCommitted, 1)
	case StateAborted, StateVotedNo:
		return addStat(tx, statAborted, 1)
	}
	return nil
}

// termOf returns the highest term seen from clusterID.
func termOf(tx *bbolt.Tx, clusterID string) uint64 {
	return getUint(tx.Bucket(bucketTerms), []byte(clusterID))
}

// raiseTerm stores term for clusterID if it is higher than the stored one.
func raiseTerm(tx *bbolt.Tx, clusterID string, term uint64) error {
	if term <= termOf(tx, clusterID) {
		return nil
	}
	return putUint(tx.Bucket(bucketTerms), []byte(clusterID), term)
}
