package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// The validation table: every bad input gets its code, its ErrorInfo reason
// and the field named, and none of them reaches the Raft log.
func TestValidationTable(t *testing.T) {
	c := newCluster(t, 1, func(cfg *Config) { cfg.MaxBranches, cfg.MaxPayloadBytes = 4, 64 })
	c.startParticipant("bank-a")
	ctx := ctxT(t, 60*time.Second)
	txc, cl := c.tx(0), c.cluster(0)

	// Fixtures: a committed transaction, an ACTIVE one, a bound key.
	done, err := txc.ExecuteTransaction(ctx, &tmv1.ExecuteTransactionRequest{
		Branches: []*tmv1.Branch{branch("b", "bank-a", "1")}, IdempotencyKey: "used", WaitForCompletion: true})
	if err != nil {
		t.Fatal(err)
	}
	doneID := done.GetTransaction().GetTxId()
	active, err := txc.BeginTransaction(ctx, &tmv1.BeginTransactionRequest{})
	if err != nil {
		t.Fatal(err)
	}
	activeID := active.GetTransaction().GetTxId()
	one := []*tmv1.Branch{branch("b", "bank-a", "1")}
	exec := func(r *tmv1.ExecuteTransactionRequest) func() error {
		return func() error { _, err := txc.ExecuteTransaction(ctx, r); return err }
	}
	long := strings.Repeat("x", 300)

	cases := []struct {
		name   string
		call   func() error
		code   codes.Code
		reason string
		field  string
	}{
		{"execute: no branches", exec(&tmv1.ExecuteTransactionRequest{}), codes.InvalidArgument, tmv1.ReasonInvalidArgument, "branches"},
		{"execute: too many branches", exec(&tmv1.ExecuteTransactionRequest{Branches: []*tmv1.Branch{
			branch("1", "bank-a", ""), branch("2", "bank-a", ""), branch("3", "bank-a", ""), branch("4", "bank-a", ""), branch("5", "bank-a", "")}}),
			codes.InvalidArgument, tmv1.ReasonLimitExceeded, "branches"},
		{"execute: nil branch", exec(&tmv1.ExecuteTransactionRequest{Branches: []*tmv1.Branch{nil}}), codes.InvalidArgument, tmv1.ReasonInvalidArgument, "branches[0].branch_id"},
		{"execute: empty branch id", exec(&tmv1.ExecuteTransactionRequest{Branches: []*tmv1.Branch{branch("", "bank-a", "")}}),
			codes.InvalidArgument, tmv1.ReasonInvalidArgument, "branches[0].branch_id"},
		{"execute: oversized branch id", exec(&tmv1.ExecuteTransactionRequest{Branches: []*tmv1.Branch{branch(long, "bank-a", "")}}),
			codes.InvalidArgument, tmv1.ReasonInvalidArgument, "branches[0].branch_id"},
		{"execute: duplicate branch id", exec(&tmv1.ExecuteTransactionRequest{Branches: []*tmv1.Branch{branch("b", "bank-a", ""), branch("b", "bank-a", "")}}),
			codes.InvalidArgument, tmv1.ReasonInvalidArgument, "branches[1].branch_id"},
		{"execute: no participant", exec(&tmv1.ExecuteTransactionRequest{Branches: []*tmv1.Branch{branch("b", "", "")}}),
			codes.InvalidArgument, tmv1.ReasonInvalidArgument, "branches[0].participant"},
		{"execute: unknown participant", exec(&tmv1.ExecuteTransactionRequest{Branches: []*tmv1.Branch{branch("b", "nobody", "")}}),
			codes.InvalidArgument, tmv1.ReasonUnknownParticipant, "branches[0].participant"},
		{"execute: payload over the limit", exec(&tmv1.ExecuteTransactionRequest{Branches: []*tmv1.Branch{branch("b", "bank-a", strings.Repeat("p", 65))}}),
			codes.InvalidArgument, tmv1.ReasonLimitExceeded, "branches[0].payload"},
		{"execute: negative timeout", exec(&tmv1.ExecuteTransactionRequest{Branches: one, Timeout: durationpb.New(-time.Second)}),
			codes.InvalidArgument, tmv1.ReasonInvalidArgument, "timeout"},
		{"execute: huge timeout", exec(&tmv1.ExecuteTransactionRequest{Branches: one, Timeout: durationpb.New(365 * 24 * time.Hour)}),
			codes.InvalidArgument, tmv1.ReasonInvalidArgument, "timeout"},
		{"execute: malformed timeout", exec(&tmv1.ExecuteTransactionRequest{Branches: one, Timeout: &durationpb.Duration{Seconds: 1, Nanos: -5}}),
			codes.InvalidArgument, tmv1.ReasonInvalidArgument, "timeout"},
		{"execute: oversized key", exec(&tmv1.ExecuteTransactionRequest{Branches: one, IdempotencyKey: long}),
			codes.InvalidArgument, tmv1.ReasonInvalidArgument, "idempotency_key"},
		{"execute: empty label key", exec(&tmv1.ExecuteTransactionRequest{Branches: one, Labels: map[string]string{"": "v"}}),
			codes.InvalidArgument, tmv1.ReasonInvalidArgument, "labels"},
		{"execute: oversized label value", exec(&tmv1.ExecuteTransactionRequest{Branches: one, Labels: map[string]string{"k": long}}),
			codes.InvalidArgument, tmv1.ReasonInvalidArgument, "labels"},
		{"execute: key reused with another request", exec(&tmv1.ExecuteTransactionRequest{Branches: []*tmv1.Branch{branch("b", "bank-a", "2")}, IdempotencyKey: "used"}),
			codes.InvalidArgument, tmv1.ReasonIdempotencyKeyReused, "idempotency_key"},
		{"begin: key reused by an execute", func() error {
			_, err := txc.BeginTransaction(ctx, &tmv1.BeginTransactionRequest{Branches: one, IdempotencyKey: "used"})
			return err
		}, codes.InvalidArgument, tmv1.ReasonIdempotencyKeyReused, "idempotency_key"},
		{"enlist: empty tx id", func() error {
			_, err := txc.EnlistBranch(ctx, &tmv1.EnlistBranchRequest{Branch: branch("b", "bank-a", "")})
			return err
		}, codes.InvalidArgument, tmv1.ReasonInvalidArgument, "tx_id"},
		{"enlist: malformed tx id", func() error {
			_, err := txc.EnlistBranch(ctx, &tmv1.EnlistBranchRequest{TxId: "tx-nope", Branch: branch("b", "bank-a", "")})
			return err
		}, codes.InvalidArgument, tmv1.ReasonInvalidArgument, "tx_id"},
		{"enlist: no branch", func() error {
			_, err := txc.EnlistBranch(ctx, &tmv1.EnlistBranchRequest{TxId: activeID})
			return err
		}, codes.InvalidArgument, tmv1.ReasonInvalidArgument, "branch"},
		{"enlist: unknown transaction", func() error {
			_, err := txc.EnlistBranch(ctx, &tmv1.EnlistBranchRequest{TxId: "tx-1-ffff-1", Branch: branch("b", "bank-a", "")})
			return err
		}, codes.NotFound, tmv1.ReasonTxNotFound, ""},
		{"enlist: committed transaction", func() error {
			_, err := txc.EnlistBranch(ctx, &tmv1.EnlistBranchRequest{TxId: doneID, Branch: branch("c", "bank-a", "")})
			return err
		}, codes.FailedPrecondition, tmv1.ReasonTxNotActive, ""},
		{"commit: unknown transaction", func() error {
			_, err := txc.CommitTransaction(ctx, &tmv1.CommitTransactionRequest{TxId: "tx-1-ffff-1"})
			return err
		}, codes.NotFound, tmv1.ReasonTxNotFound, ""},
		{"abort: oversized reason", func() error {
			_, err := txc.AbortTransaction(ctx, &tmv1.AbortTransactionRequest{TxId: activeID, Reason: strings.Repeat("r", 2000)})
			return err
		}, codes.InvalidArgument, tmv1.ReasonInvalidArgument, "reason"},
		{"abort: committed transaction", func() error {
			_, err := txc.AbortTransaction(ctx, &tmv1.AbortTransactionRequest{TxId: doneID})
			return err
		}, codes.FailedPrecondition, tmv1.ReasonTxCommitted, ""},
		{"get: empty tx id", func() error {
			_, err := txc.GetTransaction(ctx, &tmv1.GetTransactionRequest{})
			return err
		}, codes.InvalidArgument, tmv1.ReasonInvalidArgument, "tx_id"},
		{"list: negative page size", func() error {
			_, err := txc.ListTransactions(ctx, &tmv1.ListTransactionsRequest{PageSize: -1})
			return err
		}, codes.InvalidArgument, tmv1.ReasonInvalidArgument, "page_size"},
		{"list: bad page token", func() error {
			_, err := txc.ListTransactions(ctx, &tmv1.ListTransactionsRequest{PageToken: "%%%"})
			return err
		}, codes.InvalidArgument, tmv1.ReasonInvalidArgument, "page_token"},
		{"resolve: no participant", func() error {
			_, err := txc.ResolveTransaction(ctx, &tmv1.ResolveTransactionRequest{TxId: doneID})
			return err
		}, codes.InvalidArgument, tmv1.ReasonInvalidArgument, "participant"},
		{"resolve: unregistered participant", func() error {
			_, err := txc.ResolveTransaction(ctx, &tmv1.ResolveTransactionRequest{TxId: doneID, Participant: "nobody"})
			return err
		}, codes.PermissionDenied, tmv1.ReasonUnknownParticipant, "participant"},
		{"register: empty name", func() error {
			_, err := cl.RegisterParticipant(ctx, &tmv1.RegisterParticipantRequest{Target: "127.0.0.1:1"})
			return err
		}, codes.InvalidArgument, tmv1.ReasonInvalidArgument, "name"},
		{"register: bad name", func() error {
			_, err := cl.RegisterParticipant(ctx, &tmv1.RegisterParticipantRequest{Name: "bank a/b", Target: "127.0.0.1:1"})
			return err
		}, codes.InvalidArgument, tmv1.ReasonInvalidArgument, "name"},
		{"register: no target", func() error {
			_, err := cl.RegisterParticipant(ctx, &tmv1.RegisterParticipantRequest{Name: "bank-z"})
			return err
		}, codes.InvalidArgument, tmv1.ReasonInvalidArgument, "target"},
		{"add member: no raft address", func() error {
			_, err := cl.AddMember(ctx, &tmv1.AddMemberRequest{Id: "n9", GrpcAddress: "127.0.0.1:1"})
			return err
		}, codes.InvalidArgument, tmv1.ReasonInvalidArgument, "raft_address"},
		{"transfer: not a member", func() error {
			_, err := cl.TransferLeadership(ctx, &tmv1.TransferLeadershipRequest{Id: "n9"})
			return err
		}, codes.InvalidArgument, tmv1.ReasonInvalidArgument, "id"},
	}
	fsm := c.nodes[0].node.FSM()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := fsm.AppliedIndex()
			err := tc.call()
			if status.Code(err) != tc.code || reasonOf(err) != tc.reason {
				t.Fatalf("got %v (reason %q), want %v %s", err, reasonOf(err), tc.code, tc.reason)
			}
			if tc.field != "" && metaOf(err)[tmv1.MetaField] != tc.field {
				t.Fatalf("field %q, want %q (%v)", metaOf(err)[tmv1.MetaField], tc.field, err)
			}
			if after := fsm.AppliedIndex(); after != before {
				t.Fatalf("bad input reached the Raft log: applied index %d → %d", before, after)
			}
		})
	}
	t.Run("watch: bad labels", func(t *testing.T) {
		st, err := txc.WatchTransactions(ctx, &tmv1.WatchTransactionsRequest{Labels: map[string]string{"": "x"}})
		if err == nil {
			_, err = st.Recv()
		}
		if status.Code(err) != codes.InvalidArgument {
			t.Fatalf("got %v", err)
		}
	})
}

func TestMaxOpenTransactions(t *testing.T) {
	c := newCluster(t, 1, func(cfg *Config) { cfg.MaxOpenTransactions = 2 })
	ctx := ctxT(t, 20*time.Second)
	txc := c.tx(0)
	for range 2 {
		if _, err := txc.BeginTransaction(ctx, &tmv1.BeginTransactionRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 5*time.Second, func() bool {
		_, err := txc.BeginTransaction(ctx, &tmv1.BeginTransactionRequest{})
		return status.Code(err) == codes.ResourceExhausted
	}, "RESOURCE_EXHAUSTED past --max-open-transactions")
}

func TestWatchTransactionsStreamsChanges(t *testing.T) {
	c, _, _ := twoParticipants(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := c.tx(c.follower()).WatchTransactions(ctx, &tmv1.WatchTransactionsRequest{
		State: tmv1.TransactionState_TRANSACTION_STATE_COMMITTED, Labels: map[string]string{"shop": "42"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Header(); err != nil { // the stream is established
		t.Fatal(err)
	}
	pay := payment("")
	pay.Labels = map[string]string{"shop": "42"}
	r, err := c.tx(c.waitLeader()).ExecuteTransaction(ctx, pay)
	if err != nil {
		t.Fatal(err)
	}
	// Unlabelled work is filtered out.
	if _, err := c.tx(c.waitLeader()).ExecuteTransaction(ctx, payment("")); err != nil {
		t.Fatal(err)
	}
	got, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if got.GetTransaction().GetTxId() != r.GetTransaction().GetTxId() || got.GetTransaction().GetState() != tmv1.TransactionState_TRANSACTION_STATE_COMMITTED {
		t.Fatalf("watched %v, want the committed %s", got.GetTransaction(), r.GetTransaction().GetTxId())
	}
}
