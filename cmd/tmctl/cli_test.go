package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeNode is a scripted node on 127.0.0.1:0. By default it serves one
// transaction (tx-1) and a one-node cluster it leads; tests change its
// fields before they run tmctl. It records the requests it gets.
type fakeNode struct {
	tmv1.UnimplementedTransactionServiceServer
	tmv1.UnimplementedClusterServiceServer
	addr string

	mu sync.Mutex
	// view is what GetClusterStatus answers; statuses, when not empty,
	// are answered in turn instead (the last one repeats).
	view     *tmv1.GetClusterStatusResponse
	statuses []*tmv1.GetClusterStatusResponse
	// txs is what ListTransactions pages through; pageToken is the
	// offset in it.
	txs   []*tmv1.Transaction
	lists []*tmv1.ListTransactionsRequest
	// watchChanges are sent to every watcher, then it ends with
	// watchEnd, or waits for the caller to go when watchEnd is nil.
	watchChanges []*tmv1.Transaction
	watchEnd     error
	watchRefuse  error // returned before the headers
	watches      []*tmv1.WatchTransactionsRequest
	// members is what AddMember and RemoveMember answer; transferTo is
	// TransferLeadership's answer.
	members    []*tmv1.Node
	transferTo string
}

func startFake(t *testing.T) *fakeNode {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeNode{addr: lis.Addr().String(), txs: []*tmv1.Transaction{sampleTx()}}
	f.view = &tmv1.GetClusterStatusResponse{NodeId: "n1", LeaderId: "n1", Term: 3, CommitIndex: 12, AppliedIndex: 12,
		ClusterId: "c-1", Nodes: []*tmv1.Node{{Id: "n1", GrpcAddress: f.addr, RaftAddress: "127.0.0.1:8001", Leader: true, Voter: true}}}
	srv := grpc.NewServer()
	tmv1.RegisterTransactionServiceServer(srv, f)
	tmv1.RegisterClusterServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return f
}

// set runs fn with the fake's lock held.
func (f *fakeNode) set(fn func(f *fakeNode)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeNode) GetTransaction(_ context.Context, in *tmv1.GetTransactionRequest) (*tmv1.GetTransactionResponse, error) {
	if in.GetTxId() != "tx-1" {
		st, _ := status.New(codes.NotFound, "transaction "+in.GetTxId()+" not found").WithDetails(
			&errdetails.ErrorInfo{Reason: tmv1.ReasonTxNotFound, Domain: tmv1.ErrorDomain})
		return nil, st.Err()
	}
	return &tmv1.GetTransactionResponse{Transaction: sampleTx()}, nil
}

func (f *fakeNode) ListTransactions(_ context.Context, in *tmv1.ListTransactionsRequest) (*tmv1.ListTransactionsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists = append(f.lists, in)
	from := 0
	if in.GetPageToken() != "" {
		b, _ := base64.RawURLEncoding.DecodeString(in.GetPageToken())
		from, _ = strconv.Atoi(string(b))
	}
	size := int(in.GetPageSize())
	if size == 0 {
		size = 100
	}
	to := min(from+size, len(f.txs))
	resp := &tmv1.ListTransactionsResponse{Transactions: f.txs[from:to]}
	if to < len(f.txs) {
		resp.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(to)))
	}
	return resp, nil
}

func (f *fakeNode) WatchTransactions(in *tmv1.WatchTransactionsRequest, stream tmv1.TransactionService_WatchTransactionsServer) error {
	f.mu.Lock()
	f.watches = append(f.watches, in)
	changes, end, refuse := f.watchChanges, f.watchEnd, f.watchRefuse
	f.mu.Unlock()
	if refuse != nil {
		return refuse
	}
	if err := stream.SendHeader(nil); err != nil {
		return err
	}
	for _, tx := range changes {
		if err := stream.Send(&tmv1.WatchTransactionsResponse{Transaction: tx}); err != nil {
			return err
		}
	}
	if end != nil {
		return end
	}
	<-stream.Context().Done()
	return nil
}

func (f *fakeNode) GetClusterStatus(context.Context, *tmv1.GetClusterStatusRequest) (*tmv1.GetClusterStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.statuses) > 0 {
		st := f.statuses[0]
		if len(f.statuses) > 1 {
			f.statuses = f.statuses[1:]
		}
		return st, nil
	}
	return f.view, nil
}

func (f *fakeNode) AddMember(_ context.Context, in *tmv1.AddMemberRequest) (*tmv1.AddMemberResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &tmv1.AddMemberResponse{Nodes: f.members}, nil
}

func (f *fakeNode) RemoveMember(_ context.Context, in *tmv1.RemoveMemberRequest) (*tmv1.RemoveMemberResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &tmv1.RemoveMemberResponse{Nodes: f.members}, nil
}

func (f *fakeNode) TransferLeadership(context.Context, *tmv1.TransferLeadershipRequest) (*tmv1.TransferLeadershipResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &tmv1.TransferLeadershipResponse{LeaderId: f.transferTo}, nil
}

// tmctl runs the CLI with args and returns its exit status and output.
func tmctl(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func closedAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close()
	return addr
}

func TestTxGetPrintsTheTransaction(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	code, out, errOut := tmctl("--addr", f.addr, "tx", "get", "tx-1")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	hasRow(t, out, "tx", "id:", "tx-1")
	hasRow(t, out, "BRANCH", "PARTICIPANT", "STATE", "REASON", "ATTEMPTS")
	hasRow(t, out, "debit", "bank-a", "ABORTED", "-", "2")
	hasRow(t, out, "credit", "bank-b", "VOTED_NO", "insufficient", "funds", "0")
}

func TestTxGetJSON(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	code, out, errOut := tmctl("--json", "--addr", closedAddr(t)+","+f.addr, "tx", "get", "tx-1")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var got tmv1.GetTransactionResponse
	if err := protojson.Unmarshal([]byte(out), &got); err != nil || got.GetTransaction().GetTxId() != "tx-1" {
		t.Fatalf("stdout %q: %v", out, err)
	}
}

func TestTxGetNotFoundIsOneLineAndExit1(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	code, out, errOut := tmctl("--addr", f.addr, "tx", "get", "tx-nope")
	if code != 1 || out != "" {
		t.Fatalf("exit %d, stdout %q; want 1 and nothing", code, out)
	}
	if want := "tmctl: transaction tx-nope not found (TX_NOT_FOUND)\n"; errOut != want {
		t.Errorf("stderr = %q, want %q", errOut, want)
	}
}

func TestTxListSendsFilter(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	code, out, errOut := tmctl("--addr", f.addr, "tx", "list", "--state", "aborted", "--label", "shop=7", "--limit", "5")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	hasRow(t, out, "TX", "ID", "STATE", "COMPLETED", "BRANCHES", "CREATED", "ABORT", "REASON")
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.lists) != 1 {
		t.Fatalf("List calls = %d, want 1", len(f.lists))
	}
	in := f.lists[0]
	if in.GetState() != tmv1.TransactionState_TRANSACTION_STATE_ABORTED || in.GetLabels()["shop"] != "7" || in.GetPageSize() != 5 {
		t.Errorf("List request = %v", in)
	}
}

// recentTxs returns n transactions tx-000…, created a second ago.
func recentTxs(n int) []*tmv1.Transaction {
	var txs []*tmv1.Transaction
	for i := range n {
		tx := sampleTx()
		tx.TxId = "tx-" + strconv.Itoa(1000 + i)[1:]
		tx.CreateTime = timestamppb.New(time.Now().Add(-time.Second))
		txs = append(txs, tx)
	}
	return txs
}

func TestTxListOlderThanFiltersWhilePaging(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	// 250 records: every third one old (created two hours ago).
	txs := recentTxs(250)
	var want []string
	for i, tx := range txs {
		if i%3 == 0 {
			tx.CreateTime = timestamppb.New(time.Now().Add(-2 * time.Hour))
			want = append(want, tx.GetTxId())
		}
	}
	f.set(func(f *fakeNode) { f.txs = txs })

	code, out, errOut := tmctl("--json", "--addr", f.addr, "tx", "list", "--older-than", "1h", "--limit", "0")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var got tmv1.ListTransactionsResponse
	if err := protojson.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if ids := txIDs(got.GetTransactions()); strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Errorf("--older-than 1h listed %d: %v\nwant %d: %v", len(ids), ids, len(want), want)
	}

	// With a limit inside a page: the first 30 matches, and a hint that
	// more may match (no token: it would skip the rest of the page).
	code, out, errOut = tmctl("--addr", f.addr, "tx", "list", "--older-than", "1h", "--limit", "30")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if n := strings.Count(out, "ABORTED"); n != 30 {
		t.Errorf("%d rows, want 30:\n%s", n, out)
	}
	if !strings.Contains(out, want[29]) || strings.Contains(out, want[30]) || !strings.Contains(out, "(more may match: raise --limit)") {
		t.Errorf("want rows up to %s and the more hint:\n%s", want[29], out)
	}
}

func TestTxListLimitEndsOnAPageWithItsToken(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	f.set(func(f *fakeNode) { f.txs = recentTxs(12) })
	code, out, errOut := tmctl("--addr", f.addr, "tx", "list", "--limit", "5")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if !strings.Contains(out, "tx-004") || strings.Contains(out, "tx-005") || !strings.Contains(out, "next page token") {
		t.Errorf("want tx-000…tx-004 and a next page token:\n%s", out)
	}
}

func TestTxListRejectsBadFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"tx", "list", "--older-than", "-1h"},
		{"tx", "list", "--older-than", "yesterday"},
		{"tx", "list", "--state", "done"},
		{"tx", "watch", "--state", "done"},
	} {
		code, out, errOut := tmctl(append([]string{"--addr", closedAddr(t)}, args...)...)
		if code != 1 || out != "" || !strings.HasPrefix(errOut, "tmctl: ") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}

func txIDs(txs []*tmv1.Transaction) []string {
	var ids []string
	for _, tx := range txs {
		ids = append(ids, tx.GetTxId())
	}
	return ids
}

func TestStatusAsksEveryNode(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	dead := closedAddr(t)
	code, out, errOut := tmctl("--addr", f.addr+","+dead, "status")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	hasRow(t, out, "cluster", "id:", "c-1")
	hasRow(t, out, "leader:", "n1", "("+f.addr+")")
	hasRow(t, out, "ID", "GRPC", "ADDRESS", "RAFT", "ADDRESS", "ROLE", "VOTER", "TERM", "APPLIED", "LAG")
	hasRow(t, out, "n1", f.addr, "127.0.0.1:8001", "leader", "yes", "3", "12", "0")
	hasRow(t, out, "?", dead, "-", "unreachable", "-", "-", "-", "-")
	if !strings.Contains(errOut, "tmctl: warning: no node answered at "+dead+": ") {
		t.Errorf("stderr %q should warn about %s", errOut, dead)
	}
}

// threeNodes makes f1 the leader of n1…n3, with n2 at f2 and n3 at dead;
// it returns the members.
func threeNodes(f1, f2 *fakeNode, dead string) []*tmv1.Node {
	nodes := []*tmv1.Node{
		{Id: "n1", GrpcAddress: f1.addr, RaftAddress: "127.0.0.1:8001", Leader: true, Voter: true},
		{Id: "n2", GrpcAddress: f2.addr, RaftAddress: "127.0.0.1:8002", Voter: true},
		{Id: "n3", GrpcAddress: dead, RaftAddress: "127.0.0.1:8003", Voter: true},
	}
	f1.set(func(f *fakeNode) {
		f.view = &tmv1.GetClusterStatusResponse{NodeId: "n1", LeaderId: "n1", Term: 5, CommitIndex: 40, AppliedIndex: 40,
			ClusterId: "c-1", Nodes: nodes}
	})
	f2.set(func(f *fakeNode) {
		f.view = &tmv1.GetClusterStatusResponse{NodeId: "n2", LeaderId: "n1", Term: 5, CommitIndex: 38, AppliedIndex: 33,
			ClusterId: "c-1", Nodes: nodes}
	})
	return nodes
}

func TestStatusAsksTheListedMembersToo(t *testing.T) {
	t.Parallel()
	f1, f2 := startFake(t), startFake(t)
	dead := closedAddr(t)
	threeNodes(f1, f2, dead)
	// Only the follower is named: the leader and n3 are found through it.
	code, out, errOut := tmctl("--addr", f2.addr, "status")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	hasRow(t, out, "leader:", "n1", "("+f1.addr+")")
	hasRow(t, out, "term:", "5")
	hasRow(t, out, "commit", "index:", "40")
	hasRow(t, out, "n1", f1.addr, "127.0.0.1:8001", "leader", "yes", "5", "40", "0")
	hasRow(t, out, "n2", f2.addr, "127.0.0.1:8002", "follower", "yes", "5", "33", "7")
	hasRow(t, out, "n3", dead, "127.0.0.1:8003", "unreachable", "yes", "-", "-", "-")
	if !strings.Contains(errOut, "tmctl: warning: no node answered at "+dead+": ") {
		t.Errorf("stderr %q should warn about n3 at %s", errOut, dead)
	}

	// --json: one GetClusterStatusResponse per node that answered.
	code, out, errOut = tmctl("--json", "--addr", f2.addr, "status")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var st tmv1.GetClusterStatusResponse
		if err := protojson.Unmarshal([]byte(line), &st); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		ids = append(ids, st.GetNodeId())
	}
	if strings.Join(ids, ",") != "n2,n1" {
		t.Errorf("--json answered by %v, want n2 then n1", ids)
	}
}

func TestStatusWhenNoNodeAnswers(t *testing.T) {
	t.Parallel()
	dead1, dead2 := closedAddr(t), closedAddr(t)
	code, out, errOut := tmctl("--timeout", "2s", "--addr", dead1+","+dead2, "status")
	if code != 1 || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	if !strings.HasPrefix(errOut, "tmctl: no node answered at ") || !strings.Contains(errOut, dead1) ||
		strings.Count(errOut, "\n") != 1 {
		t.Errorf("stderr = %q, want one line: no node answered at …", errOut)
	}
}

func TestNoNodeAnswered(t *testing.T) {
	t.Parallel()
	dead := closedAddr(t)
	code, out, errOut := tmctl("--timeout", "500ms", "--addr", dead, "tx", "get", "tx-1")
	if code != 1 || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	want := "tmctl: no node answered at " + dead + ": "
	if !strings.HasPrefix(errOut, want) || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "refused") {
		t.Errorf("stderr = %q, want one line starting %q naming the refusal", errOut, want)
	}
}

func TestMembersAddAndRemovePrintTheMembers(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	f.set(func(f *fakeNode) {
		f.members = []*tmv1.Node{
			{Id: "n1", GrpcAddress: "127.0.0.1:7001", RaftAddress: "127.0.0.1:7101", Leader: true, Voter: true},
			{Id: "n4", GrpcAddress: "127.0.0.1:7004", RaftAddress: "127.0.0.1:7104"},
		}
	})
	for _, args := range [][]string{
		{"members", "add", "n4", "127.0.0.1:7104", "127.0.0.1:7004", "--non-voter"},
		{"members", "remove", "n5"},
	} {
		code, out, errOut := tmctl(append([]string{"--addr", f.addr}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errOut)
		}
		hasRow(t, out, "ID", "GRPC", "ADDRESS", "RAFT", "ADDRESS", "ROLE", "VOTER")
		hasRow(t, out, "n1", "127.0.0.1:7001", "127.0.0.1:7101", "leader", "yes")
		hasRow(t, out, "n4", "127.0.0.1:7004", "127.0.0.1:7104", "nonvoter", "no")
	}
}

func TestTransferLeadershipWaitsForTheNewLeader(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	nodes := []*tmv1.Node{
		{Id: "n1", GrpcAddress: f.addr, RaftAddress: "127.0.0.1:8001", Voter: true},
		{Id: "n2", GrpcAddress: "127.0.0.1:7002", RaftAddress: "127.0.0.1:8002", Voter: true},
	}
	view := func(leader string) *tmv1.GetClusterStatusResponse {
		return &tmv1.GetClusterStatusResponse{NodeId: "n1", LeaderId: leader, ClusterId: "c-1", Nodes: nodes}
	}
	// The old leader answers the transfer before it knows the new one,
	// and reports no leader, then itself (stale), then n2.
	f.set(func(f *fakeNode) {
		f.statuses = []*tmv1.GetClusterStatusResponse{view("n1"), view(""), view("n1"), view("n2")}
	})
	code, out, errOut := tmctl("--addr", f.addr, "members", "transfer-leadership")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	hasRow(t, out, "leader:", "n2")
	hasRow(t, out, "n1", f.addr, "127.0.0.1:8001", "follower", "yes")
	hasRow(t, out, "n2", "127.0.0.1:7002", "127.0.0.1:8002", "leader", "yes")
}

func TestIsNewLeader(t *testing.T) {
	for _, c := range []struct {
		got, leader, old string
		want             bool
	}{
		{"", "", "n1", false},
		{"n1", "", "n1", false},
		{"n2", "", "n1", true},
		{"n2", "", "", true},
		{"n3", "n2", "n1", false},
		{"n2", "n2", "n1", true},
	} {
		if got := isNewLeader(c.got, c.leader, c.old); got != c.want {
			t.Errorf("isNewLeader(%q, %q, %q) = %v", c.got, c.leader, c.old, got)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls s until it contains want.
func waitFor(t *testing.T, s *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in %q", want, s.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTxWatchStreamsUntilCancelled(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	committed := sampleTx()
	committed.State, committed.AbortReason = tmv1.TransactionState_TRANSACTION_STATE_COMMITTED, ""
	f.set(func(f *fakeNode) { f.watchChanges = []*tmv1.Transaction{sampleTx(), committed} })
	dead := closedAddr(t)

	// What Ctrl-C does: cancel the command's context.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	a := &app{out: &out, errOut: &errOut}
	root := newRootCmd(a)
	root.SetArgs([]string{"--addr", dead + "," + f.addr, "tx", "watch", "--state", "committed", "--label", "shop=7"})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	waitFor(t, &out, "COMMITTED")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("watch ended with %v after Ctrl-C; want a clean end", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch did not end after its context was cancelled")
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), out.String())
	}
	if !strings.Contains(lines[0], `tx-1  ABORTED  completed=no  debit@bank-a=ABORTED credit@bank-b=VOTED_NO  abort_reason="bank-b voted NO"`) {
		t.Errorf("line 1 = %q", lines[0])
	}
	if !strings.Contains(lines[1], "tx-1  COMMITTED  completed=no  debit@bank-a=ABORTED") || strings.Contains(lines[1], "abort_reason") {
		t.Errorf("line 2 = %q", lines[1])
	}
	if want := "tmctl: watching " + f.addr + ", state COMMITTED, labels shop=7 (Ctrl-C to stop)\n"; errOut.String() != want {
		t.Errorf("stderr = %q, want %q (the dead node skipped)", errOut.String(), want)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	want := &tmv1.WatchTransactionsRequest{State: tmv1.TransactionState_TRANSACTION_STATE_COMMITTED, Labels: map[string]string{"shop": "7"}}
	if len(f.watches) != 1 || !proto.Equal(f.watches[0], want) {
		t.Errorf("watch requests = %v, want [%v]", f.watches, want)
	}
}

func TestTxWatchJSONAndResourceExhausted(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	f.set(func(f *fakeNode) {
		f.watchChanges = []*tmv1.Transaction{sampleTx(), sampleTx()}
		f.watchEnd = status.Error(codes.ResourceExhausted, "the watcher fell too far behind; watch again")
	})
	code, out, errOut := tmctl("--json", "--addr", f.addr, "tx", "watch")
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), out)
	}
	for _, line := range lines {
		var got tmv1.WatchTransactionsResponse
		if err := protojson.Unmarshal([]byte(line), &got); err != nil || got.GetTransaction().GetTxId() != "tx-1" {
			t.Errorf("line %q: %v", line, err)
		}
	}
	if !strings.Contains(errOut, "tmctl: "+f.addr+" ended the watch with RESOURCE_EXHAUSTED") ||
		!strings.Contains(errOut, "watch again") {
		t.Errorf("stderr = %q, want it to say RESOURCE_EXHAUSTED", errOut)
	}
}

func TestTxWatchRefusedOrNoNode(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	f.set(func(f *fakeNode) { f.watchRefuse = status.Error(codes.InvalidArgument, "labels: key too long") })
	dead := closedAddr(t)
	// A refusal is final: the next node is not asked.
	code, _, errOut := tmctl("--addr", f.addr+","+dead, "tx", "watch")
	if code != 1 || !strings.Contains(errOut, "labels: key too long") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = tmctl("--addr", dead, "tx", "watch")
	if code != 1 || !strings.HasPrefix(errOut, "tmctl: no node answered at "+dead+": ") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// silentAddr accepts connections and never answers, like a paused node.
func silentAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		lis.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return lis.Addr().String()
}

func TestTxWatchSkipsANodeThatDoesNotAnswer(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	f.set(func(f *fakeNode) {
		f.watchChanges = []*tmv1.Transaction{sampleTx()}
		f.watchEnd = status.Error(codes.ResourceExhausted, "behind")
	})
	silent := silentAddr(t)
	start := time.Now()
	code, out, errOut := tmctl("--timeout", "300ms", "--addr", silent+","+f.addr, "tx", "watch")
	if code != 1 || !strings.Contains(out, "tx-1  ABORTED") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if !strings.HasPrefix(errOut, "tmctl: watching "+f.addr+" (Ctrl-C to stop)\n") {
		t.Errorf("stderr = %q, want the watch on %s", errOut, f.addr)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v to skip the silent node; --timeout is 300ms", d)
	}
}
