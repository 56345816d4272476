package raftlog

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
)

// logGen generates a random but reproducible log of mixed commands. It reads
// the state of the FSM the log is applied to, so that some COMMITs match a
// frozen branch list and some acks are not stale.
type logGen struct {
	rng   *rand.Rand
	f     *FSM // the reference FSM, for choosing plausible commands
	index uint64
	ids   []string // every tx id generated so far
}

const genRetention = 300_000 // logical nanoseconds: 300 entries

func (g *logGen) now() int64 { return int64(g.index) * 1000 }

func (g *logGen) pick(n int) int { return g.rng.IntN(n) }

func (g *logGen) key() string {
	if g.pick(3) == 0 {
		return ""
	}
	return fmt.Sprintf("k%d", g.pick(12))
}

func (g *logGen) participant() string { return fmt.Sprintf("p%d", g.pick(4)) }

// txID mints a fresh id at the next index, or now and then reuses an old
// id or an id minted long ago (below the gc floor, once there is one).
func (g *logGen) txID() string {
	switch r := g.pick(10); {
	case r < 5 || len(g.ids) == 0:
		id := FormatTxID(Mint{Term: 1, Index: g.index + 1, Seq: uint64(g.pick(3))})
		g.ids = append(g.ids, id)
		return id
	case r < 9:
		return g.ids[len(g.ids)-1-g.pick(min(len(g.ids), 40))]
	default:
		return g.ids[g.pick(len(g.ids))]
	}
}

func (g *logGen) vote() tmv1.BranchState {
	return []tmv1.BranchState{bPrepared, bPrepared, bPrepared, bReadOnly, bVotedNo, bEnlisted}[g.pick(6)]
}

func (g *logGen) branches(n int) []*tmv1.Branch {
	out := make([]*tmv1.Branch, n)
	for i := range out {
		out[i] = br(fmt.Sprintf("b%d", i), g.participant(), fmt.Sprintf("pay%d", g.pick(3)), g.vote())
	}
	return out
}

// decide proposes a decision; for a recorded tx it usually carries the
// record's own list with random votes.
func (g *logGen) decide() *tmlogv1.DecideCommand {
	id := g.txID()
	c := decideCmd(id, []tmlogv1.Outcome{commit, commit, abort, 0}[g.pick(4)], g.key(), g.branches(g.pick(3))...)
	c.DecideTimeUnixNano = g.now()
	if rec, ok := g.f.Get(id); ok && g.pick(4) != 0 {
		c.Branches = rec.Tx.GetBranches()
		for _, b := range c.Branches {
			b.State = g.vote()
		}
	}
	if g.pick(10) == 0 {
		c = resolveAbort(id)
	}
	return c
}

func (g *logGen) ack() *tmlogv1.AckCommand {
	c := &tmlogv1.AckCommand{}
	for range 1 + g.pick(4) {
		id := g.txID()
		b := fmt.Sprintf("b%d", g.pick(3))
		st := []tmv1.BranchState{bCommitted, bAborted, bHazard, bReadOnly}[g.pick(4)]
		if rec, ok := g.f.Get(id); ok && g.pick(3) != 0 {
			st = map[tmv1.TransactionState]tmv1.BranchState{committed: bCommitted, aborted: bAborted}[rec.Tx.GetState()]
		}
		c.Acks = append(c.Acks, ack(id, b, st))
	}
	return c
}

// next returns the next command of the log.
func (g *logGen) next() proto.Message {
	switch r := g.pick(100); {
	case r < 14:
		c := beginCmd(g.txID(), g.key(), g.branches(g.pick(3))...)
		c.CreateTimeUnixNano = g.now()
		return c
	case r < 22:
		return enlistCmd(g.txID(), br(fmt.Sprintf("b%d", g.pick(4)), g.participant(), "pay0", 0))
	case r < 32:
		return prepareCmd(g.txID())
	case r < 60:
		return g.decide()
	case r < 78:
		return g.ack()
	case r < 82:
		return collectCmd(g.now() - genRetention)
	case r < 88:
		c := registerCmd(g.participant(), fmt.Sprintf("t%d", g.pick(3)), g.now())
		c.Identity = fmt.Sprintf("id%d", g.pick(3)) // "id0" stands for none
		if c.Identity == "id0" {
			c.Identity = ""
		}
		return c
	case r < 92:
		return &tmlogv1.RemoveParticipantCommand{Name: g.participant(), TimeUnixNano: g.now()}
	case r < 95:
		return &tmlogv1.SetNodeCommand{Id: fmt.Sprintf("n%d", g.pick(3)), GrpcAddress: fmt.Sprintf("g%d", g.pick(9))}
	case r < 96:
		return &tmlogv1.RemoveNodeCommand{Id: fmt.Sprintf("n%d", g.pick(3))}
	case r < 97:
		return &tmlogv1.InitClusterCommand{ClusterId: fmt.Sprintf("c%d", g.pick(3))}
	default:
		return &tmlogv1.BarrierCommand{}
	}
}

// shadow remembers every first decision and key binding, to check that they
// are write-once.
type shadow struct {
	decision map[string]tmv1.TransactionState
	index    map[string]uint64
	binding  map[string]string
}

// observeKeys checks that a key bound to a tx stays bound to it for as long
// as that tx has a record.
func (s *shadow) observeKeys(t *testing.T, f *FSM) {
	t.Helper()
	for i := range 12 {
		key := fmt.Sprintf("k%d", i)
		now, _, ok := f.Binding(key)
		if was, seen := s.binding[key]; seen && was != now {
			if _, recorded := f.Get(was); recorded {
				t.Fatalf("key %s moved from %s (still recorded) to %q", key, was, now)
			}
		}
		if ok {
			s.binding[key] = now
		} else {
			delete(s.binding, key)
		}
	}
}

func (s *shadow) observe(t *testing.T, i uint64, r Result) {
	t.Helper()
	for j, tx := range []*tmv1.Transaction{r.Tx, r.Bound} {
		if !isDecided(tx) {
			continue
		}
		first, seen := s.decision[tx.GetTxId()]
		if r.Decided && j == 0 && seen { // r.Tx; r.Bound may be the same record
			t.Fatalf("entry %d decided %s a second time", i, tx.GetTxId())
		}
		if !seen {
			s.decision[tx.GetTxId()], s.index[tx.GetTxId()] = tx.GetState(), tx.GetDecisionIndex()
		} else if first != tx.GetState() || s.index[tx.GetTxId()] != tx.GetDecisionIndex() {
			t.Fatalf("entry %d: %s was %v at %d, now %v at %d", i, tx.GetTxId(), first, s.index[tx.GetTxId()], tx.GetState(), tx.GetDecisionIndex())
		}
	}
}

func sameResult(a, b Result) bool {
	return a.Term == b.Term && a.Index == b.Index && a.Decided == b.Decided &&
		proto.Equal(a.Tx, b.Tx) && proto.Equal(a.Bound, b.Bound) &&
		bytes.Equal(a.BoundFingerprint, b.BoundFingerprint) && errors.Is(a.Err, b.Err) && errors.Is(b.Err, a.Err)
}

// snapshotRestore copies f through Snapshot, Persist and Restore into a new
// FSM.
func snapshotRestore(t testing.TB, f *FSM) *FSM {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	g := NewFSM()
	if err := g.Restore(sink.reader()); err != nil {
		t.Fatal(err)
	}
	return g
}

// Invariant 7 (and rule 7): the same log applied to two FSMs, one of them
// snapshotted and restored midway, gives identical results and identical
// state bytes; along the way no decision changes, and the final state holds
// the register's invariants.
func TestDeterminismRandomLog(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			const n = 3000
			a, b := NewFSM(), NewFSM()
			g := &logGen{rng: rand.New(rand.NewPCG(seed, 42)), f: a}
			sh := &shadow{decision: map[string]tmv1.TransactionState{}, index: map[string]uint64{}, binding: map[string]string{}}
			decidedCount := 0
			for i := 1; i <= n; i++ {
				data, err := EncodeCommand(g.next())
				if err != nil {
					t.Fatal(err)
				}
				g.index = uint64(i)
				ra, rb := a.ApplyCommand(1, g.index, data), b.ApplyCommand(1, g.index, data)
				if !sameResult(ra, rb) {
					t.Fatalf("entry %d: results differ:\n%v\n%v", i, ra, rb)
				}
				sh.observe(t, g.index, ra)
				sh.observeKeys(t, a)
				if ra.Decided {
					decidedCount++
				}
				if i == n/2 {
					b = snapshotRestore(t, b)
					assertSameState(t, a, b)
				}
			}
			assertSameState(t, a, b)
			checkInvariants(t, a, sh)
			if decidedCount < 100 || a.GCFloor() == 0 || a.Len() == 0 || a.KeyCount() == 0 {
				t.Errorf("weak log: %d decisions, gc floor %d, %d records, %d keys", decidedCount, a.GCFloor(), a.Len(), a.KeyCount())
			}
		})
	}
}

func assertSameState(t *testing.T, a, b *FSM) {
	t.Helper()
	sa, err := a.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sa, sb) || a.Digest() != b.Digest() {
		t.Fatalf("states differ (%d vs %d bytes)", len(sa), len(sb))
	}
}

// checkInvariants checks the final state: bindings point to records,
// decisions match their first value, completed is consistent, and no
// transaction mixes committed and aborted branches.
func checkInvariants(t *testing.T, f *FSM, sh *shadow) {
	t.Helper()
	data, _ := f.MarshalState()
	snap := new(tmlogv1.Snapshot)
	if err := proto.Unmarshal(data, snap); err != nil {
		t.Fatal(err)
	}
	for _, k := range snap.GetKeys() {
		if _, ok := f.Get(k.GetTxId()); !ok {
			t.Errorf("key %s bound to absent %s", k.GetKey(), k.GetTxId())
		}
	}
	for _, rec := range snap.GetTransactions() {
		tx := rec.GetTx()
		if isDecided(tx) {
			if sh.decision[tx.GetTxId()] != tx.GetState() {
				t.Errorf("%s is %v, first decided %v", tx.GetTxId(), tx.GetState(), sh.decision[tx.GetTxId()])
			}
			if tx.GetCompleted() != allEnded(tx.GetBranches()) {
				t.Errorf("%s completed %v with branches %v", tx.GetTxId(), tx.GetCompleted(), branchStates(tx))
			}
		}
		for _, b := range tx.GetBranches() {
			if (b.GetState() == bCommitted && tx.GetState() != committed) || (b.GetState() == bAborted && tx.GetState() != aborted) {
				t.Errorf("atomicity: %s %v has a branch %v", tx.GetTxId(), tx.GetState(), b.GetState())
			}
		}
	}
}
