package raftlog

import (
	"fmt"
	"testing"

	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
)

// Invariant 8: memory and snapshot size track open work, not history. A
// burst of keyed one-shot payments, all acknowledged, then collected past
// the retention window, leaves the state at its floor; what is still open
// survives collection.
func TestStateReturnsToFloorAfterBurst(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	h := newHarness(t)
	h.applyAll(registerCmd("bank-a", "127.0.0.1:1", 1), registerCmd("bank-b", "127.0.0.1:2", 1))
	floor, err := h.f.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	// One transaction stays open throughout: collection must keep it.
	open := txid(1, 0)
	h.apply(beginCmd(open, "", twoBranches(0, 0)...))
	const batch = 500
	acks := make([]*tmlogv1.Ack, 0, 2*batch)
	for i := 1; i <= n; i++ {
		id := txid(uint64(2+i/1000), uint64(i))
		h.apply(decideCmd(id, commit, fmt.Sprintf("key-%d", i), twoBranches(bPrepared, bPrepared)...))
		acks = append(acks, ack(id, "b1", bCommitted), ack(id, "b2", bCommitted))
		if len(acks) == cap(acks) {
			h.apply(ackCmd(acks...))
			acks = acks[:0]
		}
	}
	h.apply(ackCmd(acks...))
	if h.f.Len() != n+1 || h.f.KeyCount() != n {
		t.Fatalf("before collection: %d records, %d keys", h.f.Len(), h.f.KeyCount())
	}
	peak, _ := h.f.MarshalState()
	h.apply(collectCmd(2_001)) // every decision (decide time 2,000) is older
	if h.f.Len() != 1 || h.f.KeyCount() != 0 {
		t.Fatalf("after collection: %d records, %d keys; want only the open one", h.f.Len(), h.f.KeyCount())
	}
	if _, ok := h.f.Get(open); !ok {
		t.Fatal("the open transaction was collected")
	}
	h.apply(decideCmd(open, abort, ""))
	h.apply(ackCmd(ack(open, "b1", bAborted), ack(open, "b2", bAborted)))
	h.apply(collectCmd(2_001))
	after, _ := h.f.MarshalState()
	// The floor differs only by the gc_floor watermark (a few bytes).
	if len(after) > len(floor)+16 {
		t.Fatalf("state is %d bytes after collection, floor %d (peak %d)", len(after), len(floor), len(peak))
	}
	t.Logf("state bytes: floor %d, peak %d with %d records, after collection %d", len(floor), len(peak), n, len(after))
}
