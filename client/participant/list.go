package participant

import (
	"bytes"
	"encoding/base64"
	"fmt"

	"go.etcd.io/bbolt"
)

// Page sizes of ListBranches.
const (
	defaultPageSize = 1000
	maxPageSize     = 10000
)

// ListBranches returns up to limit branch records in (tx_id, branch_id)
// order, starting after the page token after ("" for the first page), and
// the token of the next page ("" after the last). limit ≤ 0 means 1000; it
// is capped at 10000. An unknown token is ErrBadPageToken. Records purged
// after the retention window are not listed.
func (k *Kit) ListBranches(after string, limit int) ([]BranchInfo, string, error) {
	start, err := base64.RawURLEncoding.DecodeString(after)
	if err != nil {
		return nil, "", ErrBadPageToken
	}
	if limit <= 0 {
		limit = defaultPageSize
	}
	limit = min(limit, maxPageSize)
	var out []BranchInfo
	var next string
	err = k.db.View(func(tx *bbolt.Tx) (err error) {
		out, next, err = listPage(tx, start, limit)
		return err
	})
	return out, next, err
}

// listPage reads up to limit records after the key start.
func listPage(tx *bbolt.Tx, start []byte, limit int) ([]BranchInfo, string, error) {
	var out []BranchInfo
	c := tx.Bucket(bucketBranches).Cursor()
	key, v := c.Seek(start)
	if key != nil && len(start) > 0 && bytes.Equal(key, start) {
		key, v = c.Next()
	}
	for ; key != nil; key, v = c.Next() {
		if len(out) == limit {
			return out, base64.RawURLEncoding.EncodeToString(out[len(out)-1].key()), nil
		}
		rec, err := decodeRecord(key, v)
		if err != nil {
			return nil, "", err
		}
		out = append(out, rec.info())
	}
	return out, "", nil
}

func (b BranchInfo) key() []byte { return branchKey(b.TxID, b.BranchID) }

func (r *record) info() BranchInfo {
	return BranchInfo{TxID: r.TxID, BranchID: r.BranchID, Participant: r.Participant,
		Payload: r.Payload, State: r.State, Reason: r.Reason}
}

// MaxBranchesOf is how many tx ids one BranchesOf call takes.
const MaxBranchesOf = 1000

// BranchesOf returns the branch records of the given transactions, grouped
// by tx id in the order given and, within one, in branch id order, read in
// one bbolt transaction. An id the kit does not know (or has purged) adds
// nothing; an id repeated is listed once. At most MaxBranchesOf ids.
func (k *Kit) BranchesOf(txIDs []string) ([]BranchInfo, error) {
	if len(txIDs) > MaxBranchesOf {
		return nil, fmt.Errorf("participant: BranchesOf: %d tx ids, at most %d", len(txIDs), MaxBranchesOf)
	}
	var out []BranchInfo
	err := k.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketBranches).Cursor()
		seen := make(map[string]bool, len(txIDs))
		for _, id := range txIDs {
			if seen[id] || !validID(id) {
				continue
			}
			seen[id] = true
			prefix := branchKey(id, "")
			for key, v := c.Seek(prefix); key != nil && bytes.HasPrefix(key, prefix); key, v = c.Next() {
				rec, err := decodeRecord(key, v)
				if err != nil {
					return err
				}
				out = append(out, rec.info())
			}
		}
		return nil
	})
	return out, err
}
