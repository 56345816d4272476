package participant

import (
	"bytes"
	"context"
	"encoding/binary"
	"time"

	"go.etcd.io/bbolt"
)

// Purging: how many records one write transaction drops at most, and the
// bounds of the interval between purges (a tenth of the retention window).
const (
	purgeBatch       = 1000
	minPurgeInterval = 10 * time.Millisecond
	maxPurgeInterval = time.Minute
)

// purgeLoop drops ended records whose time is up, until ctx is done.
// Retention is measured on the local wall clock, the only clock that
// survives a restart; records are kept at least that long.
func (k *Kit) purgeLoop(ctx context.Context) {
	ticker := time.NewTicker(min(max(k.cfg.Retention/10, minPurgeInterval), maxPurgeInterval))
	defer ticker.Stop()
	for {
		for {
			n, err := k.purgeOnce(time.Now())
			if err != nil {
				k.log.Error("participant: purge failed", "err", err)
			}
			if err != nil || n < purgeBatch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// purgeOnce drops up to purgeBatch ended records due at or before now and
// returns how many purge entries it consumed.
func (k *Kit) purgeOnce(now time.Time) (int, error) {
	var n int
	err := k.db.Update(func(tx *bbolt.Tx) error {
		n = 0
		due := duePurgeKeys(tx, now.UnixNano())
		for _, pk := range due {
			if err := purgeRecord(tx, pk); err != nil {
				return err
			}
		}
		n = len(due)
		return nil
	})
	return n, err
}

// duePurgeKeys returns up to purgeBatch purge entries due at or before now.
func duePurgeKeys(tx *bbolt.Tx, now int64) [][]byte {
	var due [][]byte
	c := tx.Bucket(bucketPurge).Cursor()
	for pk, _ := c.First(); pk != nil && len(due) < purgeBatch; pk, _ = c.Next() {
		if len(pk) < 8 || int64(binary.BigEndian.Uint64(pk[:8])) > now {
			break
		}
		due = append(due, bytes.Clone(pk))
	}
	return due
}

// purgeRecord drops a purge entry and its record, if the record still ends
// at that time and is not prepared.
func purgeRecord(tx *bbolt.Tx, pk []byte) error {
	at, key := int64(binary.BigEndian.Uint64(pk[:8])), pk[8:]
	rec, err := getRecord(tx, key)
	if err != nil {
		return err
	}
	if rec != nil && rec.PurgeAt == at && rec.State != StatePrepared {
		if err := tx.Bucket(bucketBranches).Delete(key); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketPurge).Delete(pk)
}
