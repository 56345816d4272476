package server

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/tmcluster/tmcluster/client/participant"
	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
	"github.com/tmcluster/tmcluster/raftlog"
)

// The in-process cluster: real Raft over TCP on 127.0.0.1 with raft-boltdb
// (fsync on), real gRPC between nodes and to participants built on the
// participant kit. Only the Raft handle the server sees is wrapped, so a
// test can lose an Apply result or run something just before a decision.

type testNode struct {
	id, dir            string
	grpcAddr, raftAddr string
	node               *raftlog.Node
	raft               *faultRaft
	srv                *Server
	gs                 *grpc.Server
	conn               *grpc.ClientConn
	mu                 sync.Mutex
	down               bool
}

type testCluster struct {
	t     *testing.T
	mu    sync.Mutex // guards nodes: workers read it while a test adds nodes
	nodes []*testNode
	cfg   func(*Config)
}

// node returns node i; all returns the nodes so far. Safe from any goroutine.
func (c *testCluster) node(i int) *testNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i]
}

func (c *testCluster) all() []*testNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*testNode(nil), c.nodes...)
}

func (c *testCluster) add(tn *testNode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nodes = append(c.nodes, tn)
}

// faultRaft lets a test intercept decision proposals on one node.
type faultRaft struct {
	*raftlog.Node
	mu sync.Mutex
	// beforeDecide runs before a DecideCommand is proposed.
	beforeDecide func(*tmlogv1.DecideCommand)
	// loseDecide, when it returns true, proposes the entry and then reports
	// the Apply result lost (ErrOutcomeUnknown), as when leadership is lost
	// between append and apply.
	loseDecide func(*tmlogv1.DecideCommand) bool
}

func (f *faultRaft) Propose(body proto.Message) (raftlog.Result, error) {
	cmd, ok := body.(*tmlogv1.DecideCommand)
	if !ok {
		return f.Node.Propose(body)
	}
	f.mu.Lock()
	before, lose := f.beforeDecide, f.loseDecide
	f.mu.Unlock()
	if before != nil {
		before(cmd)
	}
	res, err := f.Node.Propose(body)
	if err == nil && lose != nil && lose(cmd) {
		return raftlog.Result{}, fmt.Errorf("%w: injected by test", raftlog.ErrOutcomeUnknown)
	}
	return res, err
}

func (f *faultRaft) set(fn func(f *faultRaft)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func testRaftConfig(id, addr, dir string, bootstrap bool) raftlog.Config {
	return raftlog.Config{
		ID: id, RaftAddr: addr, DataDir: dir, Bootstrap: bootstrap,
		HeartbeatTimeout: 500 * time.Millisecond, ElectionTimeout: 500 * time.Millisecond,
		LeaderLeaseTimeout: 250 * time.Millisecond, LogLevel: "error",
	}
}

// newCluster starts n nodes: n1 bootstraps, the others join through n1's
// AddMember.
func newCluster(t *testing.T, n int, cfg func(*Config)) *testCluster {
	t.Helper()
	c := &testCluster{t: t, cfg: cfg}
	for i := 1; i <= n; i++ {
		tn := &testNode{id: fmt.Sprintf("n%d", i), dir: t.TempDir(), raftAddr: freeAddr(t)}
		c.add(tn)
		c.start(tn, i == 1)
		if i == 1 {
			c.waitLeader()
			continue
		}
		c.addMember(tn)
	}
	t.Cleanup(c.stopAll)
	c.waitApplied()
	return c
}

// addMember adds tn through n1, retrying while a loaded machine makes
// leadership flap (UNAVAILABLE).
func (c *testCluster) addMember(tn *testNode) {
	c.t.Helper()
	var err error
	eventually(c.t, 30*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err = c.cluster(0).AddMember(ctx, &tmv1.AddMemberRequest{Id: tn.id, RaftAddress: tn.raftAddr, GrpcAddress: tn.grpcAddr})
		return err == nil || status.Code(err) != codes.Unavailable
	}, "n1 to add "+tn.id)
	if err != nil {
		c.t.Fatalf("add %s: %v", tn.id, err)
	}
}

func (c *testCluster) start(tn *testNode, bootstrap bool) {
	t := c.t
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if tn.grpcAddr != "" {
		lis, err = net.Listen("tcp", tn.grpcAddr)
	}
	if err != nil {
		t.Fatal(err)
	}
	tn.grpcAddr = lis.Addr().String()
	node, err := raftlog.Open(testRaftConfig(tn.id, tn.raftAddr, tn.dir, bootstrap))
	if err != nil {
		t.Fatalf("open %s: %v", tn.id, err)
	}
	tn.node, tn.raft = node, &faultRaft{Node: node}
	cfg := Config{NodeID: tn.id, GRPCAddr: tn.grpcAddr, RaftAddr: tn.raftAddr, Raft: tn.raft,
		ReaperInterval: 100 * time.Millisecond, ResolveGrace: 200 * time.Millisecond,
		RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond}
	if c.cfg != nil {
		c.cfg(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tn.srv, tn.gs = srv, grpc.NewServer()
	srv.Register(tn.gs)
	srv.Start()
	go tn.gs.Serve(lis)
	conn, err := grpc.NewClient(tn.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	tn.mu.Lock()
	tn.conn, tn.down = conn, false
	tn.mu.Unlock()
}

// kill stops a node without grace: the gRPC server drops its connections,
// the leader's duties stop and Raft shuts down, as in a crash (the data dir
// keeps whatever was fsynced).
func (c *testCluster) kill(i int) {
	tn := c.nodes[i]
	c.crash(i)
	tn.srv.Close() // idempotent; srv stays set for readers that raced the kill
}

// crash stops a node's gRPC server and Raft but not its Server, so it can
// be called from inside the Server's own goroutines (a faultRaft hook); kill
// or the cleanup closes the Server afterwards.
func (c *testCluster) crash(i int) {
	tn := c.nodes[i]
	tn.mu.Lock()
	defer tn.mu.Unlock()
	if tn.down {
		return
	}
	tn.down = true
	tn.gs.Stop()
	tn.conn.Close()
	tn.node.Shutdown()
}

// restart brings a killed node back on its data dir.
func (c *testCluster) restart(i int) {
	c.start(c.nodes[i], false)
}

func (c *testCluster) stopAll() {
	for i := range c.nodes {
		c.kill(i)
	}
}

func (c *testCluster) tx(i int) tmv1.TransactionServiceClient {
	return tmv1.NewTransactionServiceClient(c.node(i).conn)
}

func (c *testCluster) cluster(i int) tmv1.ClusterServiceClient {
	return tmv1.NewClusterServiceClient(c.node(i).conn)
}

// waitLeader waits until a live node leads and is ready, and returns its index.
func (c *testCluster) waitLeader() int {
	c.t.Helper()
	var idx int
	eventually(c.t, 15*time.Second, func() bool {
		for i, tn := range c.all() {
			if tn.isDown() {
				continue
			}
			if l, _ := tn.srv.current(); l != nil {
				select {
				case <-l.ready:
					idx = i
					return true
				default:
				}
			}
		}
		return false
	}, "a ready leader")
	return idx
}

func (tn *testNode) isDown() bool {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	return tn.down
}

// follower returns the index of a live node that does not lead.
func (c *testCluster) follower() int {
	lead := c.waitLeader()
	for i, tn := range c.all() {
		if i != lead && !tn.isDown() {
			return i
		}
	}
	c.t.Fatal("no live follower")
	return -1
}

// waitApplied waits until every live node applied the leader's last index.
func (c *testCluster) waitApplied() {
	c.t.Helper()
	lead := c.node(c.waitLeader())
	target := lead.node.FSM().AppliedIndex()
	eventually(c.t, 10*time.Second, func() bool {
		for _, tn := range c.all() {
			if !tn.isDown() && tn.node.FSM().AppliedIndex() < target {
				return false
			}
		}
		return true
	}, "all nodes applied")
}

func eventually(t *testing.T, within time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// testParticipant is a real participant: the kit over bbolt with fsync,
// served on 127.0.0.1 by a real gRPC server. Payload "no" votes NO, "ro"
// votes READ_ONLY, anything else YES. gate, when set, runs before each
// ParticipantService call and may delay or fail it.
type testParticipant struct {
	name, addr, path string
	kit              *participant.Kit
	gs               *grpc.Server
	mu               sync.Mutex
	gate             func(method string, req any) error
	prepares         map[string]int // branch key → Prepare RPCs received
}

var (
	bucketStaged    = []byte("staged")
	bucketCommitted = []byte("committed")
	bucketAborted   = []byte("aborted")
)

type testHooks struct{}

func branchKey(b participant.Branch) []byte { return []byte(b.TxID + "/" + b.BranchID) }

func (testHooks) Prepare(tx *bbolt.Tx, b participant.Branch) (participant.Vote, string, error) {
	switch string(b.Payload) {
	case "no":
		return participant.VoteNo, "scripted NO", nil
	case "ro":
		return participant.VoteReadOnly, "", nil
	}
	bk, err := tx.CreateBucketIfNotExists(bucketStaged)
	if err != nil {
		return 0, "", err
	}
	return participant.VoteYes, "", bk.Put(branchKey(b), b.Payload)
}

func (testHooks) Commit(tx *bbolt.Tx, b participant.Branch) error {
	return move(tx, b, bucketCommitted)
}
func (testHooks) Abort(tx *bbolt.Tx, b participant.Branch) error { return move(tx, b, bucketAborted) }

func move(tx *bbolt.Tx, b participant.Branch, to []byte) error {
	if bk := tx.Bucket(bucketStaged); bk != nil {
		if err := bk.Delete(branchKey(b)); err != nil {
			return err
		}
	}
	bk, err := tx.CreateBucketIfNotExists(to)
	if err != nil {
		return err
	}
	return bk.Put(branchKey(b), b.Payload)
}

// startParticipant starts a participant and registers it with the cluster.
func (c *testCluster) startParticipant(name string) *testParticipant {
	c.t.Helper()
	p := &testParticipant{name: name, path: filepath.Join(c.t.TempDir(), name+".db"), prepares: map[string]int{}}
	p.serve(c.t, "127.0.0.1:0")
	c.t.Cleanup(p.stop)
	ctx := ctxT(c.t, 10*time.Second)
	if _, err := c.cluster(0).RegisterParticipant(ctx, &tmv1.RegisterParticipantRequest{Name: name, Target: p.addr}); err != nil {
		c.t.Fatalf("register %s: %v", name, err)
	}
	c.waitApplied()
	return p
}

func (p *testParticipant) serve(t *testing.T, addr string) {
	t.Helper()
	kit, err := participant.Open(participant.Config{Path: p.path, Hooks: testHooks{}, Grace: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p.addr, p.kit = lis.Addr().String(), kit
	p.gs = grpc.NewServer(grpc.UnaryInterceptor(p.intercept))
	kit.Register(p.gs)
	kit.Start(context.Background())
	go p.gs.Serve(lis)
}

func (p *testParticipant) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	p.mu.Lock()
	gate := p.gate
	if r, ok := req.(*tmv1.PrepareRequest); ok {
		p.prepares[r.GetTxId()+"/"+r.GetBranchId()]++
	}
	p.mu.Unlock()
	if gate != nil {
		if err := gate(info.FullMethod, req); err != nil {
			return nil, err
		}
	}
	return h(ctx, req)
}

func (p *testParticipant) setGate(g func(method string, req any) error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gate = g
}

func (p *testParticipant) stop() {
	if p.gs != nil {
		p.gs.Stop()
		p.kit.Close()
		p.gs = nil
	}
}

// outcome is what the participant's own store says of a branch: "committed",
// "aborted", "staged" (prepared, undecided) or "" (never staged).
func (p *testParticipant) outcome(t *testing.T, txID, branchID string) string {
	t.Helper()
	key := []byte(txID + "/" + branchID)
	out := ""
	err := p.kit.DB().View(func(tx *bbolt.Tx) error {
		for name, b := range map[string][]byte{"staged": bucketStaged, "committed": bucketCommitted, "aborted": bucketAborted} {
			if bk := tx.Bucket(b); bk != nil && bk.Get(key) != nil {
				out = name
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func branch(id, participant, payload string) *tmv1.Branch {
	return &tmv1.Branch{BranchId: id, Participant: participant, Payload: []byte(payload)}
}
