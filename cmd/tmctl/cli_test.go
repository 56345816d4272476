package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeNode serves a fixed transaction and cluster status on 127.0.0.1:0
// and records the List requests.
type fakeNode struct {
	tmv1.UnimplementedTransactionServiceServer
	tmv1.UnimplementedClusterServiceServer
	addr string

	mu    sync.Mutex
	lists []*tmv1.ListTransactionsRequest
}

func startFake(t *testing.T) *fakeNode {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeNode{addr: lis.Addr().String()}
	srv := grpc.NewServer()
	tmv1.RegisterTransactionServiceServer(srv, f)
	tmv1.RegisterClusterServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return f
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
	f.lists = append(f.lists, in)
	f.mu.Unlock()
	return &tmv1.ListTransactionsResponse{Transactions: []*tmv1.Transaction{sampleTx()}}, nil
}

func (f *fakeNode) GetClusterStatus(context.Context, *tmv1.GetClusterStatusRequest) (*tmv1.GetClusterStatusResponse, error) {
	return &tmv1.GetClusterStatusResponse{NodeId: "n1", LeaderId: "n1", AppliedIndex: 12, ClusterId: "c-1",
		Nodes: []*tmv1.Node{{Id: "n1", GrpcAddress: f.addr, RaftAddress: "127.0.0.1:8001", Leader: true, Voter: true}}}, nil
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

func TestStatusAsksEveryNode(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	dead := closedAddr(t)
	code, out, errOut := tmctl("--addr", f.addr+","+dead, "status")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	hasRow(t, out, "n1", f.addr, "127.0.0.1:8001", "leader", "yes", "12")
	if !strings.Contains(errOut, "warning: "+dead) {
		t.Errorf("stderr %q should warn about %s", errOut, dead)
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
