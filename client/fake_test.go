package client_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tmcluster/tmcluster/client"
	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// step is one scripted answer of the fake: a transaction, an error, or a
// hang until the attempt's deadline.
type step struct {
	tx     *tmv1.Transaction
	err    error
	hang   bool
	status *tmv1.GetClusterStatusResponse
}

// call is one attempt the fake received.
type call struct{ method, key, txID string }

// fakeNode is a scripted TransactionService and ClusterService on
// 127.0.0.1:0. Each method answers its script in order; the last step
// repeats.
type fakeNode struct {
	tmv1.UnimplementedTransactionServiceServer
	tmv1.UnimplementedClusterServiceServer
	addr string

	mu     sync.Mutex
	script map[string][]step
	got    []call
}

func startFake(t *testing.T) *fakeNode {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeNode{addr: lis.Addr().String(), script: map[string][]step{}}
	srv := grpc.NewServer()
	tmv1.RegisterTransactionServiceServer(srv, f)
	tmv1.RegisterClusterServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return f
}

// closedAddr returns a loopback address nobody listens on.
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

func (f *fakeNode) on(method string, steps ...step) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script[method] = steps
}

func (f *fakeNode) calls(method string) []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []call
	for _, c := range f.got {
		if c.method == method {
			out = append(out, c)
		}
	}
	return out
}

// answer records the call and plays the method's next step.
func (f *fakeNode) answer(ctx context.Context, method, key, txID string) step {
	f.mu.Lock()
	f.got = append(f.got, call{method, key, txID})
	steps := f.script[method]
	var s step
	switch {
	case len(steps) == 0:
		s = step{err: status.Error(codes.Unimplemented, "no script for "+method)}
	case len(steps) == 1:
		s = steps[0]
	default:
		s, f.script[method] = steps[0], steps[1:]
	}
	f.mu.Unlock()
	if s.hang {
		<-ctx.Done()
		s.err = status.FromContextError(ctx.Err()).Err()
	}
	return s
}

func (f *fakeNode) ExecuteTransaction(ctx context.Context, in *tmv1.ExecuteTransactionRequest) (*tmv1.ExecuteTransactionResponse, error) {
	s := f.answer(ctx, "Execute", in.GetIdempotencyKey(), "")
	return &tmv1.ExecuteTransactionResponse{Transaction: s.tx}, s.err
}

func (f *fakeNode) BeginTransaction(ctx context.Context, in *tmv1.BeginTransactionRequest) (*tmv1.BeginTransactionResponse, error) {
	s := f.answer(ctx, "Begin", in.GetIdempotencyKey(), "")
	return &tmv1.BeginTransactionResponse{Transaction: s.tx}, s.err
}

func (f *fakeNode) CommitTransaction(ctx context.Context, in *tmv1.CommitTransactionRequest) (*tmv1.CommitTransactionResponse, error) {
	s := f.answer(ctx, "Commit", "", in.GetTxId())
	return &tmv1.CommitTransactionResponse{Transaction: s.tx}, s.err
}

func (f *fakeNode) AbortTransaction(ctx context.Context, in *tmv1.AbortTransactionRequest) (*tmv1.AbortTransactionResponse, error) {
	s := f.answer(ctx, "Abort", "", in.GetTxId())
	return &tmv1.AbortTransactionResponse{Transaction: s.tx}, s.err
}

func (f *fakeNode) GetTransaction(ctx context.Context, in *tmv1.GetTransactionRequest) (*tmv1.GetTransactionResponse, error) {
	s := f.answer(ctx, "Get", "", in.GetTxId())
	return &tmv1.GetTransactionResponse{Transaction: s.tx}, s.err
}

func (f *fakeNode) GetClusterStatus(ctx context.Context, _ *tmv1.GetClusterStatusRequest) (*tmv1.GetClusterStatusResponse, error) {
	s := f.answer(ctx, "Status", "", "")
	return s.status, s.err
}

func (f *fakeNode) RegisterParticipant(ctx context.Context, in *tmv1.RegisterParticipantRequest) (*tmv1.RegisterParticipantResponse, error) {
	s := f.answer(ctx, "Register", "", "")
	return &tmv1.RegisterParticipantResponse{Participant: &tmv1.Participant{Name: in.GetName(), Target: in.GetTarget()}}, s.err
}

// rpcErr builds a status error with an ErrorInfo detail.
func rpcErr(code codes.Code, reason string, meta map[string]string) error {
	st, err := status.New(code, "scripted "+reason).WithDetails(
		&errdetails.ErrorInfo{Reason: reason, Domain: tmv1.ErrorDomain, Metadata: meta})
	if err != nil {
		panic(err)
	}
	return st.Err()
}

// txIn returns a transaction record in state st.
func txIn(id string, st tmv1.TransactionState, abortReason string) *tmv1.Transaction {
	return &tmv1.Transaction{TxId: id, State: st, AbortReason: abortReason}
}

// newClient returns a Client with short timeouts, closed at cleanup.
func newClient(t *testing.T, cfg client.Config) *client.Client {
	t.Helper()
	if cfg.AttemptTimeout == 0 {
		cfg.AttemptTimeout = time.Second
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// testCtx returns a context that ends after d, cancelled at cleanup.
func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
