package participant

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// fakeCoordinator serves ResolveTransaction from a script and
// GetClusterStatus from a fixed membership, and records every ask.
type fakeCoordinator struct {
	tmv1.UnimplementedTransactionServiceServer
	tmv1.UnimplementedClusterServiceServer

	addr      string
	clusterID string
	// answer scripts the n-th (from 0) Resolve.
	answer func(n int, req *tmv1.ResolveTransactionRequest) (*tmv1.ResolveTransactionResponse, error)

	mu       sync.Mutex
	nodes    []string
	asks     []*tmv1.ResolveTransactionRequest
	askTimes []time.Time
	statuses int
}

func startFake(t *testing.T, clusterID string,
	answer func(int, *tmv1.ResolveTransactionRequest) (*tmv1.ResolveTransactionResponse, error)) *fakeCoordinator {
	t.Helper()
	f := &fakeCoordinator{clusterID: clusterID, answer: answer}
	srv := grpc.NewServer()
	tmv1.RegisterTransactionServiceServer(srv, f)
	tmv1.RegisterClusterServiceServer(srv, f)
	f.addr = serve(t, srv).Target()
	f.setNodes(f.addr)
	return f
}

func (f *fakeCoordinator) setNodes(addrs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nodes = addrs
}

func (f *fakeCoordinator) ResolveTransaction(_ context.Context, req *tmv1.ResolveTransactionRequest) (*tmv1.ResolveTransactionResponse, error) {
	f.mu.Lock()
	n := len(f.asks)
	f.asks = append(f.asks, req)
	f.askTimes = append(f.askTimes, time.Now())
	f.mu.Unlock()
	return f.answer(n, req)
}

func (f *fakeCoordinator) GetClusterStatus(context.Context, *tmv1.GetClusterStatusRequest) (*tmv1.GetClusterStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statuses++
	resp := &tmv1.GetClusterStatusResponse{ClusterId: f.clusterID, Term: 1}
	for i, a := range f.nodes {
		resp.Nodes = append(resp.Nodes, &tmv1.Node{Id: string(rune('a' + i)), GrpcAddress: a, Voter: true})
	}
	return resp, nil
}

// asked returns how many Resolves the fake has seen, the first one's time
// and the requests.
func (f *fakeCoordinator) asked() (int, time.Time, []*tmv1.ResolveTransactionRequest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var first time.Time
	if len(f.askTimes) > 0 {
		first = f.askTimes[0]
	}
	return len(f.asks), first, append([]*tmv1.ResolveTransactionRequest(nil), f.asks...)
}

// minGap returns the shortest time between two consecutive asks.
func (f *fakeCoordinator) minGap() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	gap := time.Duration(1<<63 - 1)
	for i := 1; i < len(f.askTimes); i++ {
		gap = min(gap, f.askTimes[i].Sub(f.askTimes[i-1]))
	}
	return gap
}

func (f *fakeCoordinator) statusCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.statuses
}

// answerState answers state for the asked transaction.
func answerState(req *tmv1.ResolveTransactionRequest, state tmv1.TransactionState) *tmv1.ResolveTransactionResponse {
	return &tmv1.ResolveTransactionResponse{
		Transaction: &tmv1.Transaction{TxId: req.TxId, State: state, DecisionIndex: 42, DecisionTerm: 2,
			Branches: []*tmv1.Branch{{BranchId: req.BranchId, Participant: req.Participant}}},
		RetryAfter: durationpb.New(50 * time.Millisecond),
	}
}

// undecidedThen answers PREPARING with retry_after 50ms n times, then final.
func undecidedThen(n int, final tmv1.TransactionState) func(int, *tmv1.ResolveTransactionRequest) (*tmv1.ResolveTransactionResponse, error) {
	return func(i int, req *tmv1.ResolveTransactionRequest) (*tmv1.ResolveTransactionResponse, error) {
		if i < n {
			return answerState(req, tmv1.TransactionState_TRANSACTION_STATE_PREPARING), nil
		}
		return answerState(req, final), nil
	}
}

func txForgotten(req *tmv1.ResolveTransactionRequest) error {
	st, _ := status.New(codes.FailedPrecondition, "forgotten").WithDetails(&errdetails.ErrorInfo{
		Reason: tmv1.ReasonTxForgotten, Domain: tmv1.ErrorDomain, Metadata: map[string]string{tmv1.MetaTxID: req.TxId}})
	return st.Err()
}

// inDoubtReq is a Prepare naming the fakes as its coordinators, in doubt
// after resolveAfter.
func inDoubtReq(txID string, resolveAfter time.Duration, endpoints ...string) *tmv1.PrepareRequest {
	req := prepareReq(txID, "b1", "pay")
	req.ResolveAfter = durationpb.New(resolveAfter)
	req.CoordinatorEndpoints = endpoints
	return req
}
