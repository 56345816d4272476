package raftlog

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
)

// memSink is a raft.SnapshotSink in memory.
type memSink struct {
	bytes.Buffer
	closed, cancelled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }
func (s *memSink) Close() error  { s.closed = true; return nil }
func (s *memSink) reader() io.ReadCloser {
	return io.NopCloser(bytes.NewReader(s.Bytes()))
}

var _ raft.SnapshotSink = (*memSink)(nil)

// populated returns a harness whose FSM holds some of everything.
func populated(t *testing.T) *harness {
	h := newHarness(t)
	h.applyAll(
		&tmlogv1.InitClusterCommand{ClusterId: "c1"},
		registerCmd("bank-a", "t1", 1), registerCmd("bank-b", "t2", 2), registerCmd("old", "t3", 3),
		&tmlogv1.SetNodeCommand{Id: "n1", GrpcAddress: "g1", RaftAddress: "r1"},
		decideCmd(txid(3, 0), abort, "k-old"), collectCmd(1<<40),
		&tmlogv1.RemoveParticipantCommand{Name: "old", TimeUnixNano: 4},
		beginCmd(idA, "kA", twoBranches(0, 0)...),
		decideCmd(idB, commit, "kB", twoBranches(bPrepared, bPrepared)...),
		ackCmd(ack(idB, "b1", bCommitted)),
	)
	return h
}

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	h := populated(t)
	g := snapshotRestore(t, h.f)
	assertSameState(t, h.f, g)
	if g.ClusterID() != "c1" || g.GCFloor() != 3 || g.Len() != 2 || g.KeyCount() != 2 ||
		len(g.Participants()) != 2 || len(g.Nodes()) != 1 {
		t.Errorf("restored: cluster %q floor %d len %d keys %d participants %d nodes %d",
			g.ClusterID(), g.GCFloor(), g.Len(), g.KeyCount(), len(g.Participants()), len(g.Nodes()))
	}
	if _, ok := g.RemovedParticipant("old"); !ok {
		t.Error("removed participant lost")
	}
	want, _ := h.f.Get(idB)
	if got, ok := g.Get(idB); !ok || !proto.Equal(got.Tx, want.Tx) || got.MintIndex != want.MintIndex {
		t.Errorf("record %v, want %v", got, want)
	}
	// The restored FSM keeps applying like the original.
	hr := &harness{t: t, f: g, index: h.index}
	c := decideCmd(idA, abort, "")
	if !sameResult(h.apply(c), hr.apply(c)) {
		t.Error("restored FSM applies differently")
	}
}

func TestPersistWritesMarshalState(t *testing.T) {
	h := populated(t)
	snap, _ := h.f.Snapshot()
	// Entries applied after Snapshot do not reach the persisted state.
	want, _ := h.f.MarshalState()
	h.apply(decideCmd(txid(99, 0), commit, "late"))
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil || !sink.closed || sink.cancelled {
		t.Fatalf("persist: %v closed %v cancelled %v", err, sink.closed, sink.cancelled)
	}
	if !bytes.Equal(sink.Bytes(), want) {
		t.Error("persisted bytes differ from MarshalState at Snapshot time")
	}
}

func TestRestoreReplacesState(t *testing.T) {
	empty := NewFSM()
	emptyBytes, _ := empty.MarshalState()
	h := populated(t)
	if err := h.f.Restore(io.NopCloser(bytes.NewReader(emptyBytes))); err != nil {
		t.Fatal(err)
	}
	assertSameState(t, h.f, empty)
	if h.f.Len() != 0 || h.f.ClusterID() != "" || len(h.f.Participants()) != 0 {
		t.Error("restore merged instead of replacing")
	}
}

func TestRestoreRejectsBadSnapshots(t *testing.T) {
	dup, _ := proto.Marshal(&tmlogv1.Snapshot{Nodes: []*tmlogv1.NodeAddress{{Id: "n1"}, {Id: "n1"}}})
	noTx, _ := proto.Marshal(&tmlogv1.Snapshot{Transactions: []*tmlogv1.TxRecord{{MintIndex: 1}}})
	for name, data := range map[string][]byte{"garbage": {0xff, 0x01}, "duplicate": dup, "record without tx": noTx} {
		t.Run(name, func(t *testing.T) {
			h := populated(t)
			before := h.f.Digest()
			if err := h.f.Restore(io.NopCloser(bytes.NewReader(data))); err == nil {
				t.Fatal("bad snapshot accepted")
			}
			if h.f.Digest() != before {
				t.Error("failed restore changed the state")
			}
		})
	}
}

type failingSink struct{ memSink }

func (s *failingSink) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestPersistCancelsOnError(t *testing.T) {
	snap, _ := populated(t).f.Snapshot()
	sink := &failingSink{}
	if err := snap.Persist(sink); err == nil || !sink.cancelled || sink.closed {
		t.Errorf("err %v cancelled %v closed %v", err, sink.cancelled, sink.closed)
	}
}

// Persist and reads run concurrently with Apply (run with -race).
func TestSnapshotConcurrentWithApply(t *testing.T) {
	h := populated(t)
	snap, _ := h.f.Snapshot()
	want, _ := h.f.MarshalState()
	var wg sync.WaitGroup
	var got []byte
	wg.Add(2)
	go func() {
		defer wg.Done()
		sink := &memSink{}
		_ = snap.Persist(sink)
		got = sink.Bytes()
	}()
	go func() {
		defer wg.Done()
		for range 200 {
			h.f.Get(idA)
			h.f.List(ListFilter{})
			h.f.Unfinished()
		}
	}()
	for i := range 200 {
		id := txid(uint64(100+i), 0)
		h.apply(decideCmd(id, commit, "", twoBranches(bPrepared, bPrepared)...))
		h.apply(ackCmd(ack(idB, "b2", bCommitted), ack(id, "b1", bCommitted)))
		h.apply(enlistCmd(idA, br("x", "bank-a", "p", 0)))
	}
	wg.Wait()
	if !bytes.Equal(got, want) {
		t.Error("concurrent applies leaked into the persisted snapshot")
	}
}
