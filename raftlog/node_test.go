package raftlog

import (
	"bytes"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
)

// syncBuffer collects Raft's logs, printed only when a test fails.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testCluster starts nodes on loopback with short timeouts, each in its own
// temporary data dir, and shuts them all down at the end.
type testCluster struct {
	t     *testing.T
	logs  *syncBuffer
	nodes map[string]*Node
	addrs map[string]string
	dirs  map[string]string
}

func newTestCluster(t *testing.T) *testCluster {
	c := &testCluster{t: t, logs: &syncBuffer{}, nodes: map[string]*Node{}, addrs: map[string]string{}, dirs: map[string]string{}}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			if err := n.Shutdown(); err != nil {
				t.Errorf("shutdown %s: %v", n.ID(), err)
			}
		}
		if t.Failed() {
			t.Logf("raft logs:\n%s", c.logs.String())
		}
	})
	return c
}

func (c *testCluster) config(id, addr string, bootstrap bool) Config {
	return Config{
		ID: id, RaftAddr: addr, DataDir: c.dirs[id], Bootstrap: bootstrap,
		HeartbeatTimeout: 500 * time.Millisecond, ElectionTimeout: 500 * time.Millisecond,
		LeaderLeaseTimeout: 250 * time.Millisecond, CommitTimeout: 5 * time.Millisecond,
		TrailingLogs: 4, LogOutput: c.logs, LogLevel: "info",
	}
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start opens node id: on a fresh free port the first time (retrying if the
// port is taken in between), on its old address and data dir afterwards.
func (c *testCluster) start(id string, bootstrap bool) *Node {
	c.t.Helper()
	if c.dirs[id] == "" {
		c.dirs[id] = c.t.TempDir()
	}
	for attempt := 0; ; attempt++ {
		addr := c.addrs[id]
		if addr == "" {
			addr = freeAddr(c.t)
		}
		n, err := Open(c.config(id, addr, bootstrap))
		if err == nil {
			c.nodes[id], c.addrs[id] = n, addr
			return n
		}
		if !errors.Is(err, syscall.EADDRINUSE) || attempt == 20 {
			c.t.Fatalf("open %s: %v", id, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// leader waits until exactly one of the running nodes leads and returns it.
func (c *testCluster) leader(except ...string) *Node {
	c.t.Helper()
	var found *Node
	eventually(c.t, "a leader", func() bool {
		found = nil
		for id, n := range c.nodes {
			if n.IsLeader() && !strings.Contains(strings.Join(except, ","), id) {
				found = n
			}
		}
		return found != nil
	})
	return found
}

func (c *testCluster) waitRecord(n *Node, id string) {
	c.t.Helper()
	eventually(c.t, n.ID()+" to apply "+id, func() bool { _, ok := n.FSM().Get(id); return ok })
}

func TestClusterReplicatesAndSurvivesLeaderLoss(t *testing.T) {
	c := newTestCluster(t)
	n1 := c.start("n1", true)
	eventually(t, "n1 to lead", n1.IsLeader)
	select {
	case v := <-n1.LeadershipChanges():
		if !v {
			t.Fatal("LeadershipChanges delivered false on the leader")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("LeadershipChanges delivered nothing")
	}
	term, index, err := n1.Barrier()
	if err != nil || term == 0 || index == 0 || term != n1.Term() {
		t.Fatalf("barrier: %d/%d, %v (term %d)", term, index, err, n1.Term())
	}

	// Decisions applied before the followers join, then a snapshot that
	// truncates the log: the followers must catch up by InstallSnapshot.
	first := FormatTxID(Mint{Term: term, Index: index, Seq: 1})
	res, err := n1.Propose(decideCmdAt(first, index, commit))
	if err != nil || !res.Decided || res.Tx.GetState() != committed || res.Index <= index {
		t.Fatalf("propose: %v, %v", res, err)
	}
	for i := range 10 {
		if _, err := n1.Propose(&tmlogv1.SetNodeCommand{Id: "n1", GrpcAddress: string(rune('a' + i))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := n1.Raft().Snapshot().Error(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}

	n2, n3 := c.start("n2", false), c.start("n3", false)
	for _, n := range []*Node{n2, n3} {
		if err := n1.AddVoter(n.ID(), c.addrs[n.ID()]); err != nil {
			t.Fatalf("add voter %s: %v", n.ID(), err)
		}
	}
	servers, err := n1.Servers()
	if err != nil || len(servers) != 3 || !servers[0].Voter || servers[2].ID != "n3" || servers[2].RaftAddress != c.addrs["n3"] {
		t.Fatalf("servers: %v, %v", servers, err)
	}
	for _, n := range []*Node{n1, n2, n3} {
		c.waitRecord(n, first)
	}

	// A follower refuses proposals and leadership checks, and knows the leader.
	if _, err := n2.Propose(&tmlogv1.BarrierCommand{}); !errors.Is(err, ErrNotLeader) {
		t.Errorf("propose on a follower: %v, want ErrNotLeader", err)
	}
	if err := n2.VerifyLeader(); !errors.Is(err, ErrNotLeader) {
		t.Errorf("VerifyLeader on a follower: %v", err)
	}
	if err := n1.VerifyLeader(); err != nil {
		t.Errorf("VerifyLeader on the leader: %v", err)
	}
	if id, addr := n2.Leader(); id != "n1" || addr != c.addrs["n1"] {
		t.Errorf("n2 sees leader %q at %q", id, addr)
	}
	// A follower learns the commit index with the next AppendEntries, which
	// may come after it applied the entry from an installed snapshot.
	eventually(t, "n2 to apply and learn the commit index", func() bool {
		return n2.FSM().AppliedIndex() >= res.Index && n2.CommitIndex() >= res.Index
	})

	// Every node must hold the configuration that names all three before
	// the leader goes: a node whose log still lacks "AddVoter n3" refuses
	// n3's (pre-)vote, and the two survivors could not elect anyone. A
	// barrier applied everywhere proves the earlier entries are there.
	_, bIndex, err := n1.Barrier()
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "every node to apply the barrier", func() bool {
		return n2.FSM().AppliedIndex() >= bIndex && n3.FSM().AppliedIndex() >= bIndex
	})

	// The leader goes: another is elected and still has the decision.
	if err := n1.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if _, err := n1.Propose(&tmlogv1.BarrierCommand{}); err == nil {
		t.Error("propose on a shut-down node succeeded")
	}
	delete(c.nodes, "n1")
	leader := c.leader()
	if rec, ok := leader.FSM().Get(first); !ok || rec.Tx.GetState() != committed {
		t.Fatalf("decision lost on new leader %s: %v", leader.ID(), rec)
	}

	// n1 restarts on its data dir at once (so that the leader's backoff for
	// it stays short), Bootstrap ignored, and catches up with a decision made
	// after it left.
	n1 = c.start("n1", true)
	if !n1.HadState() {
		t.Error("restarted node reports no previous state")
	}
	var second string
	eventually(t, "a decision on the new leader", func() bool {
		leader = c.leader()
		term2, index2, err := leader.Barrier()
		if err == nil && term2 > term {
			second = FormatTxID(Mint{Term: term2, Index: index2, Seq: 1})
			_, err = leader.Propose(decideCmdAt(second, index2, abort))
		}
		if err != nil && !errors.Is(err, ErrNotLeader) {
			t.Fatalf("propose on new leader: %v", err)
		}
		return err == nil
	})
	c.waitRecord(n1, second)
	if rec, _ := n1.FSM().Get(first); rec.Tx.GetState() != committed {
		t.Errorf("restarted n1 has %v", rec.Tx)
	}
	eventually(t, "replicas to agree", func() bool {
		d := n1.FSM().Digest()
		return d == n2.FSM().Digest() && d == n3.FSM().Digest()
	})
}

func decideCmdAt(id string, mintIndex uint64, out tmlogv1.Outcome) *tmlogv1.DecideCommand {
	return &tmlogv1.DecideCommand{
		TxId: id, MintIndex: mintIndex, Outcome: out, DecideTimeUnixNano: 1,
		Branches: twoBranches(bPrepared, bReadOnly),
	}
}

// A single node restores its snapshot at restart: the state and the applied
// index come back.
func TestNodeRestartRestoresSnapshot(t *testing.T) {
	c := newTestCluster(t)
	n := c.start("solo", true)
	eventually(t, "leadership", n.IsLeader)
	var last Result
	for i := range 20 {
		r, err := n.Propose(decideCmdAt(txid(uint64(100+i), 0), uint64(100+i), commit))
		if err != nil {
			t.Fatal(err)
		}
		last = r
	}
	if err := n.Raft().Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	digest := n.FSM().Digest()
	if err := n.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := n.Shutdown(); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	n = c.start("solo", false)
	if !n.HadState() {
		t.Error("HadState false after restart")
	}
	if n.FSM().Len() != 20 || n.FSM().Digest() != digest || n.FSM().AppliedIndex() < last.Index {
		t.Errorf("restored: len %d applied %d (want >= %d), digest match %v",
			n.FSM().Len(), n.FSM().AppliedIndex(), last.Index, n.FSM().Digest() == digest)
	}
	eventually(t, "leadership after restart", n.IsLeader)
}

func TestOpenErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	c := newTestCluster(t)
	held := c.start("held", false)
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no id", Config{RaftAddr: "127.0.0.1:1", DataDir: t.TempDir()}, "ID is empty"},
		{"bad log level", Config{ID: "x", RaftAddr: "127.0.0.1:1", DataDir: t.TempDir(), LogLevel: "loud"}, "LogLevel"},
		{"data dir is a file", Config{ID: "x", RaftAddr: freeAddr(t), DataDir: filepath.Join(file, "sub")}, "create data dir"},
		{"port in use", Config{ID: "x", RaftAddr: busy.Addr().String(), DataDir: t.TempDir()}, "listen on raft address"},
		{"data dir in use", Config{ID: "x", RaftAddr: freeAddr(t), DataDir: c.dirs["held"]}, "in use by another process"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.LogOutput = c.logs
			n, err := Open(tc.cfg)
			if err == nil {
				n.Shutdown()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
	_ = held
}

func TestPublishLatestKeepsTheLatestValue(t *testing.T) {
	ch := make(chan bool, 1)
	publishLatest(ch, true)
	publishLatest(ch, false)
	publishLatest(ch, true)
	if v := <-ch; !v {
		t.Error("got a stale value")
	}
	select {
	case v := <-ch:
		t.Errorf("extra value %v", v)
	default:
	}
}

func TestMembershipChanges(t *testing.T) {
	c := newTestCluster(t)
	n1 := c.start("n1", true)
	eventually(t, "n1 to lead", n1.IsLeader)
	n2, n3 := c.start("n2", false), c.start("n3", false)
	if err := n1.AddVoter("n2", c.addrs["n2"]); err != nil {
		t.Fatal(err)
	}
	if err := n1.AddNonvoter("n3", c.addrs["n3"]); err != nil {
		t.Fatal(err)
	}
	servers, err := n1.Servers()
	if err != nil || len(servers) != 3 || !servers[1].Voter || servers[2].Voter {
		t.Fatalf("servers %v, %v (want n3 a non-voter)", servers, err)
	}
	if err := n2.AddVoter("x", "127.0.0.1:1"); !errors.Is(err, ErrNotLeader) {
		t.Errorf("AddVoter on a follower: %v, want ErrNotLeader", err)
	}

	eventually(t, "n2 to catch up", func() bool { return n2.FSM().AppliedIndex() >= n1.FSM().AppliedIndex() })
	if err := n1.TransferLeadership("n2", ""); err != nil {
		t.Fatalf("transfer: %v", err)
	}
	eventually(t, "n2 to lead", n2.IsLeader)
	eventually(t, "n1 to report losing leadership", func() bool {
		select {
		case v := <-n1.LeadershipChanges():
			return !v
		default:
			return false
		}
	})
	if err := n2.RemoveServer("n3"); err != nil {
		t.Fatal(err)
	}
	if servers, _ := n2.Servers(); len(servers) != 2 {
		t.Errorf("servers after removal: %v", servers)
	}
	_ = n3
}

func TestProposalErrors(t *testing.T) {
	tests := []struct {
		raftErr error
		want    error
	}{
		{raft.ErrNotLeader, ErrNotLeader},
		{raft.ErrLeadershipTransferInProgress, ErrNotLeader},
		{raft.ErrLeadershipLost, ErrOutcomeUnknown},
		{raft.ErrRaftShutdown, ErrOutcomeUnknown},
		{raft.ErrAbortedByRestore, ErrOutcomeUnknown},
	}
	for _, tc := range tests {
		err := proposalError(tc.raftErr)
		if !errors.Is(err, tc.want) || !errors.Is(err, tc.raftErr) {
			t.Errorf("proposalError(%v) = %v, want it to wrap %v and the original", tc.raftErr, err, tc.want)
		}
	}
}
