package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	bankv1 "github.com/tmcluster/tmcluster/proto/bank/v1"
	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// bankd is an in-process bankd with clients to it.
type bankd struct {
	conn *grpc.ClientConn
	tm   tmv1.ParticipantServiceClient
	bank bankv1.BankServiceClient
}

// startBankd serves a bankd on 127.0.0.1:0 over dir until the returned
// stop is called (or the test ends).
func startBankd(t *testing.T, dir string, accounts int, initial int64) (*bankd, func()) {
	t.Helper()
	opts := options{listen: "127.0.0.1:0", dataDir: dir, accounts: accounts, initialBalance: initial, grace: time.Second}
	srv, err := newServer(opts, newLogger(io.Discard, false))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.serve(ctx) }()
	conn, err := grpc.NewClient(srv.addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = conn.Close()
			cancel()
			if err := <-served; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return &bankd{conn: conn, tm: tmv1.NewParticipantServiceClient(conn), bank: bankv1.NewBankServiceClient(conn)}, stop
}

func (b *bankd) prepare(t *testing.T, txID, branchID, account string, amount int64) tmv1.Vote {
	t.Helper()
	resp, err := b.tm.Prepare(context.Background(), &tmv1.PrepareRequest{TxId: txID, BranchId: branchID,
		Payload: fmt.Appendf(nil, `{"account":%q,"amount":%d}`, account, amount), Term: 1, ClusterId: "c1",
		Participant: "bank-a", ResolveAfter: durationpb.New(time.Minute)})
	if err != nil {
		t.Fatalf("Prepare %s/%s: %v", txID, branchID, err)
	}
	return resp.Vote
}

func (b *bankd) end(t *testing.T, txID, branchID string, commit bool) {
	t.Helper()
	var err error
	if commit {
		_, err = b.tm.Commit(context.Background(), &tmv1.CommitRequest{TxId: txID, BranchId: branchID, DecisionIndex: 1})
	} else {
		_, err = b.tm.Abort(context.Background(), &tmv1.AbortRequest{TxId: txID, BranchId: branchID, DecisionIndex: 1})
	}
	if err != nil {
		t.Fatalf("end %s/%s: %v", txID, branchID, err)
	}
}

func (b *bankd) ledger(t *testing.T) *bankv1.GetLedgerResponse {
	t.Helper()
	l, err := b.bank.GetLedger(context.Background(), &bankv1.GetLedgerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (b *bankd) branches(t *testing.T, pageSize int32) []*bankv1.BranchRecord {
	t.Helper()
	var all []*bankv1.BranchRecord
	req := &bankv1.ListBranchesRequest{PageSize: pageSize}
	for {
		resp, err := b.bank.ListBranches(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, resp.Branches...)
		if resp.NextPageToken == "" {
			return all
		}
		req.PageToken = resp.NextPageToken
	}
}

func TestBankdOverGRPC(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b, stop := startBankd(t, dir, 12, 100)

	if v := b.prepare(t, "tx1", "debit", "acct-3", -250); v != tmv1.Vote_VOTE_NO {
		t.Fatalf("overdraft voted %v", v)
	}
	if v := b.prepare(t, "tx2", "debit", "acct-3", -40); v != tmv1.Vote_VOTE_YES {
		t.Fatalf("debit voted %v", v)
	}
	if v := b.prepare(t, "tx2", "credit", "acct-10", 40); v != tmv1.Vote_VOTE_YES {
		t.Fatalf("credit voted %v", v)
	}
	if v := b.prepare(t, "tx3", "debit", "acct-3", -10); v != tmv1.Vote_VOTE_YES {
		t.Fatalf("debit voted %v", v)
	}
	b.end(t, "tx2", "debit", true)
	b.end(t, "tx2", "credit", true)
	b.end(t, "tx1", "debit", false)

	l := b.ledger(t)
	var ids []string
	for _, a := range l.Accounts {
		ids = append(ids, a.Id)
	}
	if len(ids) != 12 || ids[2] != "acct-2" || ids[10] != "acct-10" {
		t.Errorf("accounts not in id order: %v", ids)
	}
	if l.Accounts[3].Balance != 60 || l.Accounts[10].Balance != 140 {
		t.Errorf("balances acct-3=%d acct-10=%d, want 60 and 140", l.Accounts[3].Balance, l.Accounts[10].Balance)
	}
	if l.PendingBranches != 1 || l.CommittedBranches != 2 || l.AbortedBranches != 1 {
		t.Errorf("counts %d pending, %d committed, %d aborted; want 1, 2, 1",
			l.PendingBranches, l.CommittedBranches, l.AbortedBranches)
	}
	got := b.branches(t, 2)
	want := []string{
		"tx1/debit acct-3 -250 BRANCH_OUTCOME_ABORTED",
		"tx2/credit acct-10 40 BRANCH_OUTCOME_COMMITTED",
		"tx2/debit acct-3 -40 BRANCH_OUTCOME_COMMITTED",
		"tx3/debit acct-3 -10 BRANCH_OUTCOME_PREPARED",
	}
	for i, r := range got {
		if s := fmt.Sprintf("%s/%s %s %d %v", r.TxId, r.BranchId, r.Account, r.Amount, r.Outcome); i >= len(want) || s != want[i] {
			t.Errorf("branch %d = %s", i, s)
		}
	}
	// tx_ids lists those transactions only, in the order asked.
	byID, err := b.bank.ListBranches(context.Background(), &bankv1.ListBranchesRequest{TxIds: []string{"tx3", "tx9", "tx2"}})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, r := range byID.Branches {
		listed = append(listed, r.TxId+"/"+r.BranchId+" "+r.Outcome.String())
	}
	if fmt.Sprint(listed) != "[tx3/debit BRANCH_OUTCOME_PREPARED tx2/credit BRANCH_OUTCOME_COMMITTED tx2/debit BRANCH_OUTCOME_COMMITTED]" || byID.NextPageToken != "" {
		t.Errorf("tx_ids [tx3 tx9 tx2] listed %v (next %q)", listed, byID.NextPageToken)
	}
	for name, req := range map[string]*bankv1.ListBranchesRequest{
		"tx_ids with a page token": {TxIds: []string{"tx2"}, PageToken: "x"},
		"tx_ids with a page size":  {TxIds: []string{"tx2"}, PageSize: 5},
		"more than 1000 tx_ids":    {TxIds: make([]string, 1001)},
		"negative page_size":       {PageSize: -1},
		"malformed page token":     {PageToken: "!!"},
	} {
		_, err := b.bank.ListBranches(context.Background(), req)
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
	checkHealthAndReflection(t, b.conn)

	// A restart keeps balances and the prepared branch, whatever the flags.
	stop()
	b2, _ := startBankd(t, dir, 3, 5)
	if l := b2.ledger(t); len(l.Accounts) != 12 || l.Accounts[3].Balance != 60 || l.PendingBranches != 1 {
		t.Errorf("after restart: %d accounts, acct-3=%d, %d pending", len(l.Accounts), l.Accounts[3].Balance, l.PendingBranches)
	}
	b2.end(t, "tx3", "debit", true)
	if l := b2.ledger(t); l.Accounts[3].Balance != 50 {
		t.Errorf("acct-3=%d after committing the branch prepared before the restart, want 50", l.Accounts[3].Balance)
	}
}

func checkHealthAndReflection(t *testing.T, conn *grpc.ClientConn) {
	t.Helper()
	h, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || h.Status != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health: %v %v", h, err)
	}
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stream.CloseSend() }()
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.Name)
	}
	for _, want := range []string{"tm.v1.ParticipantService", "bank.v1.BankService", "grpc.health.v1.Health"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("reflection lists %v, missing %s", names, want)
		}
	}
}
