package server

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
)

func reasonOf(err error) string {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// waitBranches waits until each participant's store shows want for its
// branch of txID.
func waitBranches(t *testing.T, txID, want string, parts map[string]*testParticipant) {
	t.Helper()
	eventually(t, 10*time.Second, func() bool {
		for bid, p := range parts {
			if p.outcome(t, txID, bid) != want {
				return false
			}
		}
		return true
	}, "branches of "+txID+" "+want)
}

func twoParticipants(t *testing.T) (*testCluster, *testParticipant, *testParticipant) {
	c := newCluster(t, 3, nil)
	return c, c.startParticipant("bank-a"), c.startParticipant("bank-b")
}

func TestExecuteCommitsAcrossTwoParticipants(t *testing.T) {
	c, a, b := twoParticipants(t)
	ctx := ctxT(t, 20*time.Second)
	resp, err := c.tx(c.waitLeader()).ExecuteTransaction(ctx, &tmv1.ExecuteTransactionRequest{
		Branches:          []*tmv1.Branch{branch("debit", "bank-a", "-10"), branch("credit", "bank-b", "+10")},
		IdempotencyKey:    "pay-1",
		WaitForCompletion: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	tx := resp.GetTransaction()
	if tx.GetState() != tmv1.TransactionState_TRANSACTION_STATE_COMMITTED || !tx.GetCompleted() {
		t.Fatalf("got %v completed=%v, want COMMITTED and completed", tx.GetState(), tx.GetCompleted())
	}
	if tx.GetDecisionIndex() == 0 || tx.GetDecisionTerm() == 0 {
		t.Fatalf("decision index/term not set: %v", tx)
	}
	waitBranches(t, tx.GetTxId(), "committed", map[string]*testParticipant{"debit": a, "credit": b})
	for _, br := range tx.GetBranches() {
		if br.GetState() != tmv1.BranchState_BRANCH_STATE_COMMITTED {
			t.Errorf("branch %s is %v, want COMMITTED", br.GetBranchId(), br.GetState())
		}
	}
}

func TestOneNoVoteAbortsEverywhere(t *testing.T) {
	c, a, b := twoParticipants(t)
	ctx := ctxT(t, 20*time.Second)
	resp, err := c.tx(c.waitLeader()).ExecuteTransaction(ctx, &tmv1.ExecuteTransactionRequest{
		Branches:          []*tmv1.Branch{branch("debit", "bank-a", "-10"), branch("credit", "bank-b", "no")},
		WaitForCompletion: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	tx := resp.GetTransaction()
	if tx.GetState() != tmv1.TransactionState_TRANSACTION_STATE_ABORTED || tx.GetAbortReason() == "" {
		t.Fatalf("got %v (%q), want ABORTED with a reason", tx.GetState(), tx.GetAbortReason())
	}
	if got := a.outcome(t, tx.GetTxId(), "debit"); got == "committed" || got == "staged" {
		t.Fatalf("debit branch is %q after an abort", got)
	}
	if got := b.outcome(t, tx.GetTxId(), "credit"); got != "" {
		t.Fatalf("NO branch staged something: %q", got)
	}
}

func TestUnreachableParticipantAbortsAndNothingCommits(t *testing.T) {
	c, a, b := twoParticipants(t)
	b.stop() // registered, but nobody listens
	ctx := ctxT(t, 20*time.Second)
	resp, err := c.tx(c.waitLeader()).ExecuteTransaction(ctx, &tmv1.ExecuteTransactionRequest{
		Branches: []*tmv1.Branch{branch("debit", "bank-a", "-10"), branch("credit", "bank-b", "+10")},
		Timeout:  durationpb.New(2 * time.Second),
	})
	if err != nil {
		t.Fatal(err)
	}
	tx := resp.GetTransaction()
	if tx.GetState() != tmv1.TransactionState_TRANSACTION_STATE_ABORTED {
		t.Fatalf("got %v, want ABORTED", tx.GetState())
	}
	// The reachable branch must be released, never committed.
	eventually(t, 10*time.Second, func() bool { return a.outcome(t, tx.GetTxId(), "debit") != "staged" }, "debit released")
	if got := a.outcome(t, tx.GetTxId(), "debit"); got == "committed" {
		t.Fatal("debit committed although the credit participant was unreachable")
	}
}

func TestEveryCallWorksThroughAFollower(t *testing.T) {
	c, a, b := twoParticipants(t)
	f := c.follower()
	ctx := ctxT(t, 30*time.Second)
	txc := c.tx(f)

	exec, err := txc.ExecuteTransaction(ctx, &tmv1.ExecuteTransactionRequest{
		Branches: []*tmv1.Branch{branch("d", "bank-a", "-1"), branch("c", "bank-b", "+1")}, IdempotencyKey: "via-follower"})
	if err != nil || exec.GetTransaction().GetState() != tmv1.TransactionState_TRANSACTION_STATE_COMMITTED {
		t.Fatalf("execute through follower: %v %v", exec, err)
	}
	begin, err := txc.BeginTransaction(ctx, &tmv1.BeginTransactionRequest{Branches: []*tmv1.Branch{branch("d", "bank-a", "-2")}})
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	id := begin.GetTransaction().GetTxId()
	if _, err := txc.EnlistBranch(ctx, &tmv1.EnlistBranchRequest{TxId: id, Branch: branch("c", "bank-b", "+2")}); err != nil {
		t.Fatalf("enlist: %v", err)
	}
	commit, err := txc.CommitTransaction(ctx, &tmv1.CommitTransactionRequest{TxId: id, WaitForCompletion: true})
	if err != nil || commit.GetTransaction().GetState() != tmv1.TransactionState_TRANSACTION_STATE_COMMITTED {
		t.Fatalf("commit: %v %v", commit, err)
	}
	waitBranches(t, id, "committed", map[string]*testParticipant{"d": a, "c": b})
	if _, err := txc.EnlistBranch(ctx, &tmv1.EnlistBranchRequest{TxId: id, Branch: branch("x", "bank-b", "+2")}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("enlist after commit: %v, want FAILED_PRECONDITION", err)
	}
	get, err := txc.GetTransaction(ctx, &tmv1.GetTransactionRequest{TxId: id})
	if err != nil || get.GetTransaction().GetState() != tmv1.TransactionState_TRANSACTION_STATE_COMMITTED {
		t.Fatalf("get: %v %v", get, err)
	}
	list, err := txc.ListTransactions(ctx, &tmv1.ListTransactionsRequest{State: tmv1.TransactionState_TRANSACTION_STATE_COMMITTED})
	if err != nil || len(list.GetTransactions()) != 2 {
		t.Fatalf("list: %v %v", list, err)
	}
	begin2, err := txc.BeginTransaction(ctx, &tmv1.BeginTransactionRequest{})
	if err != nil {
		t.Fatal(err)
	}
	ab, err := txc.AbortTransaction(ctx, &tmv1.AbortTransactionRequest{TxId: begin2.GetTransaction().GetTxId(), Reason: "changed my mind"})
	if err != nil || ab.GetTransaction().GetState() != tmv1.TransactionState_TRANSACTION_STATE_ABORTED {
		t.Fatalf("abort: %v %v", ab, err)
	}
	if _, err := txc.AbortTransaction(ctx, &tmv1.AbortTransactionRequest{TxId: id}); reasonOf(err) != tmv1.ReasonTxCommitted {
		t.Fatalf("abort of committed: %v", err)
	}
	cl := c.cluster(f)
	if _, err := cl.ListParticipants(ctx, &tmv1.ListParticipantsRequest{}); err != nil {
		t.Fatalf("list participants: %v", err)
	}
	st, err := cl.GetClusterStatus(ctx, &tmv1.GetClusterStatusRequest{})
	if err != nil || st.GetNodeId() != c.nodes[f].id || len(st.GetNodes()) != 3 || st.GetClusterId() == "" || st.GetLeaderId() == "" {
		t.Fatalf("status: %v %v", st, err)
	}
	if _, err := txc.GetTransaction(ctx, &tmv1.GetTransactionRequest{TxId: "tx-1-ffffff-1"}); reasonOf(err) != tmv1.ReasonTxNotFound {
		t.Fatalf("get unknown: %v", err)
	}
}

func TestExecuteRetriedWithSameKeyReturnsOriginal(t *testing.T) {
	c, _, _ := twoParticipants(t)
	ctx := ctxT(t, 20*time.Second)
	txc := c.tx(c.waitLeader())
	req := &tmv1.ExecuteTransactionRequest{
		Branches: []*tmv1.Branch{branch("d", "bank-a", "-5"), branch("c", "bank-b", "+5")}, IdempotencyKey: "k-retry"}
	first, err := txc.ExecuteTransaction(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.tx(c.follower()).ExecuteTransaction(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if first.GetTransaction().GetTxId() != second.GetTransaction().GetTxId() {
		t.Fatalf("retry made a new transaction: %s then %s", first.GetTransaction().GetTxId(), second.GetTransaction().GetTxId())
	}
	other := &tmv1.ExecuteTransactionRequest{
		Branches: []*tmv1.Branch{branch("d", "bank-a", "-6"), branch("c", "bank-b", "+6")}, IdempotencyKey: "k-retry"}
	_, err = txc.ExecuteTransaction(ctx, other)
	if reasonOf(err) != tmv1.ReasonIdempotencyKeyReused || status.Code(err) != codes.InvalidArgument {
		t.Fatalf("same key, other request: %v, want INVALID_ARGUMENT IDEMPOTENCY_KEY_REUSED", err)
	}
}

func TestConcurrentExecutesWithOneKeyCommitAtMostOnce(t *testing.T) {
	c, a, b := twoParticipants(t)
	lead := c.waitLeader()
	// Hold every Prepare until both requests are in flight.
	release := make(chan struct{})
	a.setGate(func(method string, _ any) error {
		if method == tmv1.ParticipantService_Prepare_FullMethodName {
			<-release
		}
		return nil
	})
	req := &tmv1.ExecuteTransactionRequest{
		Branches: []*tmv1.Branch{branch("d", "bank-a", "-5"), branch("c", "bank-b", "+5")}, IdempotencyKey: "k-race"}
	ctx := ctxT(t, 20*time.Second)
	var wg sync.WaitGroup
	got := make([]*tmv1.Transaction, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.tx(lead).ExecuteTransaction(ctx, req)
			got[i], errs[i] = r.GetTransaction(), err
		}()
	}
	time.Sleep(200 * time.Millisecond) // let both requests reach the leader; the gate holds the first
	close(release)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
	}
	if got[0].GetTxId() != got[1].GetTxId() || got[0].GetState() != got[1].GetState() {
		t.Fatalf("callers told different outcomes: %v / %v", got[0], got[1])
	}
	committed := 0
	for _, p := range []*testParticipant{a, b} {
		committed += countBucket(t, p, bucketCommitted)
	}
	if want := 2; got[0].GetState() == tmv1.TransactionState_TRANSACTION_STATE_COMMITTED && committed > want {
		t.Fatalf("%d branches committed for one key, want %d", committed, want)
	}
}

func TestResolveWhileLeaderPreparesNeverDisagrees(t *testing.T) {
	c, a, b := twoParticipants(t)
	lead := c.waitLeader()
	held := make(chan *tmv1.PrepareRequest, 1)
	release := make(chan struct{})
	b.setGate(func(method string, req any) error {
		if method == tmv1.ParticipantService_Prepare_FullMethodName {
			held <- req.(*tmv1.PrepareRequest)
			<-release
		}
		return nil
	})
	ctx := ctxT(t, 30*time.Second)
	done := make(chan *tmv1.Transaction, 1)
	go func() {
		r, err := c.tx(lead).ExecuteTransaction(ctx, &tmv1.ExecuteTransactionRequest{
			Branches: []*tmv1.Branch{branch("d", "bank-a", "-5"), branch("c", "bank-b", "+5")}})
		if err != nil {
			t.Error(err)
		}
		done <- r.GetTransaction()
	}()
	prep := <-held
	// bank-a voted (or is voting) YES and asks while bank-b is still held.
	resolved := make(chan *tmv1.ResolveTransactionResponse, 1)
	go func() {
		r, err := c.tx(c.follower()).ResolveTransaction(ctx, &tmv1.ResolveTransactionRequest{
			TxId: prep.GetTxId(), BranchId: "d", Participant: "bank-a"})
		if err != nil {
			t.Error(err)
		}
		resolved <- r
	}()
	time.Sleep(300 * time.Millisecond) // the Resolve is parked behind the driver, not answered ABORTED
	close(release)
	tx := <-done
	res := <-resolved
	st := res.GetTransaction().GetState()
	if (st == tmv1.TransactionState_TRANSACTION_STATE_COMMITTED || st == tmv1.TransactionState_TRANSACTION_STATE_ABORTED) && st != tx.GetState() {
		t.Fatalf("Resolve said %v, the driver decided %v", st, tx.GetState())
	}
	if tx.GetState() != tmv1.TransactionState_TRANSACTION_STATE_COMMITTED {
		t.Fatalf("driver decided %v, want COMMITTED (every vote was YES)", tx.GetState())
	}
	waitBranches(t, tx.GetTxId(), "committed", map[string]*testParticipant{"d": a, "c": b})
}

func TestDriverRepliesAppliedAbortWhenResolveAbortWonTheRace(t *testing.T) {
	c, a, b := twoParticipants(t)
	lead := c.waitLeader()
	ln := c.nodes[lead]
	// Just before the driver's COMMIT is proposed, a Resolve-abort (no key)
	// for the same id gets into the log first.
	ln.raft.set(func(f *faultRaft) {
		f.beforeDecide = func(cmd *tmlogv1.DecideCommand) {
			if cmd.GetOutcome() != tmlogv1.Outcome_OUTCOME_COMMIT {
				return
			}
			f.Node.Propose(&tmlogv1.DecideCommand{TxId: cmd.GetTxId(), MintTerm: cmd.GetMintTerm(), MintIndex: cmd.GetMintIndex(),
				Outcome: tmlogv1.Outcome_OUTCOME_ABORT, Kind: tmlogv1.DecideKind_DECIDE_KIND_RESOLVE, AbortReason: "resolve won"})
		}
	})
	ctx := ctxT(t, 20*time.Second)
	req := &tmv1.ExecuteTransactionRequest{
		Branches: []*tmv1.Branch{branch("d", "bank-a", "-5"), branch("c", "bank-b", "+5")}, IdempotencyKey: "k-lost"}
	r, err := c.tx(lead).ExecuteTransaction(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	tx := r.GetTransaction()
	if tx.GetState() != tmv1.TransactionState_TRANSACTION_STATE_ABORTED {
		t.Fatalf("driver replied %v; the applied decision is ABORTED", tx.GetState())
	}
	ln.raft.set(func(f *faultRaft) { f.beforeDecide = nil })
	waitBranches(t, tx.GetTxId(), "aborted", map[string]*testParticipant{"d": a, "c": b})
	again, err := c.tx(c.follower()).ExecuteTransaction(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if again.GetTransaction().GetTxId() != tx.GetTxId() || again.GetTransaction().GetState() != tmv1.TransactionState_TRANSACTION_STATE_ABORTED {
		t.Fatalf("retry with the key got %v, want the ABORTED %s", again.GetTransaction(), tx.GetTxId())
	}
}

func TestLostApplyResultIsOutcomeUnknownAndRetryGetsFinalOutcome(t *testing.T) {
	// A slow reaper: the applied COMMIT is delivered by the reaper's sweep
	// (as it must be), but not in the instant the driver reports the lost
	// result, so a Commit sent by the driver itself cannot hide behind it.
	c := newCluster(t, 3, func(cfg *Config) { cfg.ReaperInterval = 2 * time.Second })
	a, b := c.startParticipant("bank-a"), c.startParticipant("bank-b")
	lead := c.waitLeader()
	ln := c.nodes[lead]
	var mu sync.Mutex
	var commitsAt []time.Time
	for _, p := range []*testParticipant{a, b} {
		p.setGate(func(method string, _ any) error {
			if method == tmv1.ParticipantService_Commit_FullMethodName {
				mu.Lock()
				commitsAt = append(commitsAt, time.Now())
				mu.Unlock()
			}
			return nil
		})
	}
	once := sync.Once{}
	ln.raft.set(func(f *faultRaft) {
		f.loseDecide = func(*tmlogv1.DecideCommand) bool { lost := false; once.Do(func() { lost = true }); return lost }
	})
	ctx := ctxT(t, 20*time.Second)
	req := &tmv1.ExecuteTransactionRequest{
		Branches: []*tmv1.Branch{branch("d", "bank-a", "-5"), branch("c", "bank-b", "+5")}, IdempotencyKey: "k-unknown"}
	_, err := c.tx(lead).ExecuteTransaction(ctx, req)
	replied := time.Now()
	if status.Code(err) != codes.Unavailable || reasonOf(err) != tmv1.ReasonOutcomeUnknown {
		t.Fatalf("got %v, want UNAVAILABLE OUTCOME_UNKNOWN", err)
	}
	if id := metaOf(err)[tmv1.MetaTxID]; id == "" {
		t.Fatalf("OUTCOME_UNKNOWN without tx_id: %v", err)
	}
	mu.Lock()
	for _, at := range commitsAt {
		if at.Before(replied) {
			t.Fatalf("a Commit reached a participant before the lost-result reply: the driver acted on its proposal")
		}
	}
	mu.Unlock()
	r, err := c.tx(lead).ExecuteTransaction(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if r.GetTransaction().GetState() != tmv1.TransactionState_TRANSACTION_STATE_COMMITTED {
		t.Fatalf("retry got %v, want the applied COMMITTED", r.GetTransaction().GetState())
	}
	waitBranches(t, r.GetTransaction().GetTxId(), "committed", map[string]*testParticipant{"d": a, "c": b})
}

func metaOf(err error) map[string]string {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetMetadata()
		}
	}
	return nil
}

func TestDuplicatePrepareAfterVoteNeverChangesIt(t *testing.T) {
	c, a, b := twoParticipants(t)
	ctx := ctxT(t, 20*time.Second)
	r, err := c.tx(c.waitLeader()).ExecuteTransaction(ctx, &tmv1.ExecuteTransactionRequest{
		Branches: []*tmv1.Branch{branch("d", "bank-a", "-5"), branch("c", "bank-b", "+5")}, WaitForCompletion: true})
	if err != nil {
		t.Fatal(err)
	}
	tx := r.GetTransaction()
	// A delayed duplicate Prepare arrives after the commit, with a later term.
	pc := tmv1.NewParticipantServiceClient(dial(t, a.addr))
	resp, err := pc.Prepare(ctx, &tmv1.PrepareRequest{TxId: tx.GetTxId(), BranchId: "d", Payload: []byte("-5"),
		Term: 99, ResolveAfter: durationpb.New(time.Second), Participant: "bank-a"})
	if err != nil || resp.GetVote() != tmv1.Vote_VOTE_YES {
		t.Fatalf("duplicate prepare: %v %v, want the original YES", resp, err)
	}
	if got := a.outcome(t, tx.GetTxId(), "d"); got != "committed" {
		t.Fatalf("duplicate prepare changed the branch to %q", got)
	}
	_ = b
}

func TestResolveAbortsUnrecordedIDFromAnotherTerm(t *testing.T) {
	c, _, _ := twoParticipants(t)
	lead := c.waitLeader()
	term := c.nodes[lead].node.Term()
	// An id minted by an earlier term's leader that never decided.
	id := "tx-" + hexU(term-1) + "-" + hexU(1) + "-1"
	ctx := ctxT(t, 10*time.Second)
	r, err := c.tx(c.follower()).ResolveTransaction(ctx, &tmv1.ResolveTransactionRequest{TxId: id, BranchId: "d", Participant: "bank-a"})
	if err != nil {
		t.Fatal(err)
	}
	if r.GetTransaction().GetState() != tmv1.TransactionState_TRANSACTION_STATE_ABORTED {
		t.Fatalf("got %v, want ABORTED", r.GetTransaction().GetState())
	}
	// The abort is logged: every node answers the same from its own state.
	c.waitApplied()
	for _, tn := range c.nodes {
		rec, ok := tn.node.FSM().Get(id)
		if !ok || rec.Tx.GetState() != tmv1.TransactionState_TRANSACTION_STATE_ABORTED {
			t.Fatalf("node %s has %v", tn.id, rec.Tx)
		}
	}
	if _, err := c.tx(lead).ResolveTransaction(ctx, &tmv1.ResolveTransactionRequest{TxId: id, Participant: "nobody"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("unregistered asker: %v, want PERMISSION_DENIED", err)
	}
}

func hexU(v uint64) string { return strconv.FormatUint(v, 16) }

func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func countBucket(t *testing.T, p *testParticipant, name []byte) int {
	t.Helper()
	n := 0
	err := p.kit.DB().View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(name); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
