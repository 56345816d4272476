package server

import (
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
	"github.com/tmcluster/tmcluster/raftlog"
)

// The leader is killed at each step of 2PC. Whatever the step, every
// participant ends with the same outcome, no branch stays prepared, and a
// retry with the idempotency key gets the key's final outcome.

const failoverTimeout = 2 * time.Second

func payment(key string) *tmv1.ExecuteTransactionRequest {
	return &tmv1.ExecuteTransactionRequest{
		Branches:       []*tmv1.Branch{branch("d", "bank-a", "-5"), branch("c", "bank-b", "+5")},
		IdempotencyKey: key,
		Timeout:        durationpb.New(failoverTimeout),
	}
}

// settled waits until neither participant holds txID's branch prepared and
// returns the common outcome; it fails if they disagree.
func settled(t *testing.T, txID string, a, b *testParticipant) string {
	t.Helper()
	var oa, ob string
	eventually(t, 20*time.Second, func() bool {
		oa, ob = a.outcome(t, txID, "d"), b.outcome(t, txID, "c")
		return oa != "staged" && ob != "staged"
	}, "no branch of "+txID+" left prepared")
	norm := func(o string) string {
		if o == "" { // never staged, or voted NO: nothing committed there
			return "aborted"
		}
		return o
	}
	if norm(oa) != norm(ob) {
		t.Fatalf("atomicity: %s is %q at bank-a and %q at bank-b", txID, oa, ob)
	}
	return norm(oa)
}

// stateName maps a transaction state to the participants' word for it.
func stateName(st tmv1.TransactionState) string {
	switch st {
	case tmv1.TransactionState_TRANSACTION_STATE_COMMITTED:
		return "committed"
	case tmv1.TransactionState_TRANSACTION_STATE_ABORTED:
		return "aborted"
	}
	return st.String()
}

// retryOnNewLeader re-sends req with its key to a live node until the
// outcome is known, and checks it is the participants' outcome.
func retryOnNewLeader(t *testing.T, c *testCluster, req *tmv1.ExecuteTransactionRequest, txID string) *tmv1.Transaction {
	t.Helper()
	var tx *tmv1.Transaction
	eventually(t, 20*time.Second, func() bool {
		r, err := c.tx(c.waitLeader()).ExecuteTransaction(ctxT(t, 5*time.Second), req)
		if err != nil {
			if status.Code(err) != codes.Unavailable && status.Code(err) != codes.DeadlineExceeded {
				t.Fatalf("retry: %v", err)
			}
			return false
		}
		tx = r.GetTransaction()
		return true
	}, "the retry to get an outcome")
	return tx
}

func TestLeaderKilledAfterPreparesSent(t *testing.T) {
	c, a, b := twoParticipants(t)
	leaderKilledAfterPrepares(t, c, a, b)
}

// Participants never compare the coordinator's clock with their own: with
// the coordinators' clocks 3 s behind or ahead of the participants', a
// transaction whose leader died after the prepares still ends aborted at
// both within its timeout, the grace and an election.
func TestParticipantClockSkew(t *testing.T) {
	for _, skew := range []time.Duration{3 * time.Second, -3 * time.Second} {
		t.Run("participant clock "+(-skew).String(), func(t *testing.T) {
			c := newCluster(t, 3, func(cfg *Config) { cfg.Now = func() time.Time { return time.Now().Add(skew) } })
			a, b := c.startParticipant("bank-a"), c.startParticipant("bank-b")
			start := time.Now()
			leaderKilledAfterPrepares(t, c, a, b)
			if took, bound := time.Since(start), failoverTimeout+5*time.Second; took > bound {
				t.Fatalf("branches settled after %v, want within %v", took, bound)
			}
			// Payments still commit on the skewed cluster.
			r, err := c.tx(c.waitLeader()).ExecuteTransaction(ctxT(t, 10*time.Second), payment(""))
			if err != nil || r.GetTransaction().GetState() != tmv1.TransactionState_TRANSACTION_STATE_COMMITTED {
				t.Fatalf("payment on a skewed cluster: %v %v", r, err)
			}
		})
	}
}

func leaderKilledAfterPrepares(t *testing.T, c *testCluster, a, b *testParticipant) {
	t.Helper()
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
	errc := make(chan error, 1)
	go func() {
		_, err := c.tx(lead).ExecuteTransaction(ctxT(t, 10*time.Second), payment("k-prep"))
		errc <- err
	}()
	prep := <-held
	eventually(t, 5*time.Second, func() bool { return a.outcome(t, prep.GetTxId(), "d") == "staged" }, "bank-a to vote YES")
	c.kill(lead)
	close(release) // bank-b now votes YES for a leader that is gone
	if err := <-errc; err == nil {
		t.Fatal("the caller of a killed leader was told an outcome")
	}
	// Nobody decided: both prepared branches learn ABORTED through Resolve
	// at their deadline plus grace, from the new leader.
	if got := settled(t, prep.GetTxId(), a, b); got != "aborted" {
		t.Fatalf("undecided transaction ended %q", got)
	}
	rec, ok := c.nodes[c.waitLeader()].node.FSM().Get(prep.GetTxId())
	if !ok || rec.Tx.GetState() != tmv1.TransactionState_TRANSACTION_STATE_ABORTED {
		t.Fatalf("the abort is not logged: %v", rec.Tx)
	}
}

// killInsideDecide crashes the leader from inside its decision proposal:
// before it is appended (committed=false) or right after it applied
// (committed=true); the driver sees its Apply result lost either way.
func killInsideDecide(c *testCluster, lead int, committed bool) {
	tn := c.nodes[lead]
	var once sync.Once
	crash := func() { once.Do(func() { c.crash(lead) }) }
	tn.raft.set(func(f *faultRaft) {
		if committed {
			f.loseDecide = func(*tmlogv1.DecideCommand) bool { crash(); return true }
		} else {
			f.beforeDecide = func(*tmlogv1.DecideCommand) { crash() }
		}
	})
}

func TestLeaderKilledBeforeDecisionAppended(t *testing.T) {
	c, a, b := twoParticipants(t)
	lead := c.waitLeader()
	killInsideDecide(c, lead, false)
	req := payment("k-before")
	_, err := c.tx(lead).ExecuteTransaction(ctxT(t, 10*time.Second), req)
	if err == nil {
		t.Fatal("a decision that never reached the log was reported")
	}
	if st := status.Code(err); st != codes.Unavailable && st != codes.Canceled {
		t.Fatalf("got %v, want UNAVAILABLE or CANCELLED (outcome unknown)", err)
	}
	txID := metaOf(err)[tmv1.MetaTxID]
	if txID == "" {
		// The transport may have dropped before the status came back.
		txID = c.anyPreparedTx(t, a)
	}
	if got := settled(t, txID, a, b); got != "aborted" {
		t.Fatalf("undecided transaction ended %q", got)
	}
	tx := retryOnNewLeader(t, c, req, txID)
	if tx.GetTxId() == txID {
		t.Fatalf("the retry returned the undecided attempt %s", txID)
	}
	if got := settled(t, tx.GetTxId(), a, b); got != stateName(tx.GetState()) {
		t.Fatalf("retry told %v, participants have %q", tx.GetState(), got)
	}
}

func TestLeaderKilledAfterDecisionApplied(t *testing.T) {
	c, a, b := twoParticipants(t)
	lead := c.waitLeader()
	killInsideDecide(c, lead, true)
	req := payment("k-after")
	_, err := c.tx(lead).ExecuteTransaction(ctxT(t, 10*time.Second), req)
	if err == nil {
		t.Fatal("the killed leader replied")
	}
	tx := retryOnNewLeader(t, c, req, "")
	if tx.GetState() != tmv1.TransactionState_TRANSACTION_STATE_COMMITTED {
		t.Fatalf("the retry got %v; the applied decision was COMMIT", tx.GetState())
	}
	// The new leader's recovery runs phase two: nobody waits for a deadline.
	if got := settled(t, tx.GetTxId(), a, b); got != "committed" {
		t.Fatalf("participants have %q, decision COMMITTED", got)
	}
	eventually(t, 10*time.Second, func() bool {
		r, ok := c.nodes[c.waitLeader()].node.FSM().Get(tx.GetTxId())
		return ok && r.Tx.GetCompleted()
	}, "the transaction completed")
}

func TestLeaderKilledDuringPhaseTwo(t *testing.T) {
	c, a, b := twoParticipants(t)
	lead := c.waitLeader()
	held := make(chan struct{}, 1)
	release := make(chan struct{})
	var once sync.Once
	b.setGate(func(method string, _ any) error {
		if method == tmv1.ParticipantService_Commit_FullMethodName {
			first := false
			once.Do(func() { first = true })
			if first {
				held <- struct{}{}
				<-release
				return status.Error(codes.Unavailable, "commit lost with the old leader")
			}
		}
		return nil
	})
	r, err := c.tx(lead).ExecuteTransaction(ctxT(t, 10*time.Second), payment("k-phase2"))
	if err != nil {
		t.Fatal(err)
	}
	tx := r.GetTransaction()
	<-held
	c.kill(lead)
	close(release)
	if got := settled(t, tx.GetTxId(), a, b); got != "committed" {
		t.Fatalf("participants have %q after COMMITTED was replied", got)
	}
	eventually(t, 10*time.Second, func() bool {
		r, ok := c.nodes[c.waitLeader()].node.FSM().Get(tx.GetTxId())
		return ok && r.Tx.GetCompleted()
	}, "the new leader to complete phase two")
}

// anyPreparedTx returns the tx id of a branch prepared at p (the only one in
// these tests).
func (c *testCluster) anyPreparedTx(t *testing.T, p *testParticipant) string {
	t.Helper()
	infos, _, err := p.kit.ListBranches("", 10)
	if err != nil || len(infos) == 0 {
		t.Fatalf("no branch at %s: %v", p.name, err)
	}
	return infos[0].TxID
}

func TestHeuristicHazardIsRecordedAndNotRetried(t *testing.T) {
	c, a, b := twoParticipants(t)
	lead := c.waitLeader()
	var mu sync.Mutex
	commits := 0
	b.setGate(func(method string, _ any) error {
		if method == tmv1.ParticipantService_Commit_FullMethodName {
			mu.Lock()
			commits++
			mu.Unlock()
			return apiError(codes.FailedPrecondition, tmv1.ReasonUnknownBranch, "no such branch here")
		}
		return nil
	})
	r, err := c.tx(lead).ExecuteTransaction(ctxT(t, 10*time.Second), payment(""))
	if err != nil {
		t.Fatal(err)
	}
	id := r.GetTransaction().GetTxId()
	var hazard *tmv1.Branch
	eventually(t, 10*time.Second, func() bool {
		g, err := c.tx(c.follower()).GetTransaction(ctxT(t, 5*time.Second), &tmv1.GetTransactionRequest{TxId: id})
		if err != nil {
			return false
		}
		for _, br := range g.GetTransaction().GetBranches() {
			if br.GetState() == tmv1.BranchState_BRANCH_STATE_HEURISTIC_HAZARD {
				hazard = br
			}
		}
		return hazard != nil && g.GetTransaction().GetCompleted()
	}, "a replicated heuristic hazard")
	if hazard.GetBranchId() != "c" || hazard.GetReason() == "" {
		t.Fatalf("hazard on the wrong branch or without the participant's words: %v", hazard)
	}
	if got := a.outcome(t, id, "d"); got != "committed" {
		t.Fatalf("the healthy branch is %q", got)
	}
	time.Sleep(500 * time.Millisecond) // several retry periods: none may come
	mu.Lock()
	defer mu.Unlock()
	if commits != 1 {
		t.Fatalf("the refused Commit was sent %d times, want once", commits)
	}
}

func TestPhaseTwoRetriesADeadParticipantAndShowsAttempts(t *testing.T) {
	c, a, b := twoParticipants(t)
	lead := c.waitLeader()
	var mu sync.Mutex
	down := true
	b.setGate(func(method string, _ any) error {
		mu.Lock()
		defer mu.Unlock()
		if down && method == tmv1.ParticipantService_Commit_FullMethodName {
			return status.Error(codes.Unavailable, "bank-b is down")
		}
		return nil
	})
	r, err := c.tx(lead).ExecuteTransaction(ctxT(t, 10*time.Second), payment(""))
	if err != nil {
		t.Fatal(err)
	}
	id := r.GetTransaction().GetTxId()
	eventually(t, 10*time.Second, func() bool {
		g, err := c.tx(c.follower()).GetTransaction(ctxT(t, 5*time.Second), &tmv1.GetTransactionRequest{TxId: id})
		if err != nil {
			return false
		}
		for _, br := range g.GetTransaction().GetBranches() {
			if br.GetBranchId() == "c" && br.GetAttempts() >= 3 && br.GetReason() != "" {
				return true
			}
		}
		return false
	}, "retries and the last error visible in GetTransaction")
	mu.Lock()
	down = false
	mu.Unlock()
	if got := settled(t, id, a, b); got != "committed" {
		t.Fatalf("got %q", got)
	}
}

func TestRetentionCollectsAndForgets(t *testing.T) {
	c := newCluster(t, 3, func(cfg *Config) {
		cfg.MaxTimeout, cfg.DefaultTimeout = time.Second, time.Second
		cfg.MintRefresh, cfg.GCInterval = 100*time.Millisecond, 100*time.Millisecond
		cfg.Retention = 2 * time.Second
	})
	a, b := c.startParticipant("bank-a"), c.startParticipant("bank-b")
	lead := c.waitLeader()
	r, err := c.tx(lead).ExecuteTransaction(ctxT(t, 10*time.Second), &tmv1.ExecuteTransactionRequest{
		Branches: []*tmv1.Branch{branch("d", "bank-a", "-5"), branch("c", "bank-b", "+5")}, IdempotencyKey: "k-old", WaitForCompletion: true})
	if err != nil {
		t.Fatal(err)
	}
	old := r.GetTransaction()
	_ = settled(t, old.GetTxId(), a, b)
	fsm := c.nodes[lead].node.FSM()
	eventually(t, 10*time.Second, func() bool {
		_, ok := fsm.Get(old.GetTxId())
		return !ok
	}, "the record collected after the retention window")
	mint, _ := raftlog.ParseTxID(old.GetTxId())
	if fsm.GCFloor() < mint.Index {
		t.Fatalf("gc floor %d below the collected record's mint index %d", fsm.GCFloor(), mint.Index)
	}
	if _, _, bound := fsm.Binding("k-old"); bound {
		t.Fatal("the key binding outlived its record")
	}
	c.waitApplied() // a replica that has not applied the collection may still answer COMMITTED, rightly
	ctx := ctxT(t, 10*time.Second)
	_, err = c.tx(c.follower()).ResolveTransaction(ctx, &tmv1.ResolveTransactionRequest{TxId: old.GetTxId(), BranchId: "d", Participant: "bank-a"})
	if reasonOf(err) != tmv1.ReasonTxForgotten {
		t.Fatalf("Resolve of a collected id: %v, want TX_FORGOTTEN (never ABORTED)", err)
	}
	// A decision for the collected id decides nothing.
	res, err := c.nodes[c.waitLeader()].node.Propose(&tmlogv1.DecideCommand{TxId: old.GetTxId(), MintTerm: mint.Term, MintIndex: mint.Index,
		Outcome: tmlogv1.Outcome_OUTCOME_ABORT, IdempotencyKey: "k-old"})
	if err != nil || res.Err != raftlog.ErrTxTooOld {
		t.Fatalf("decision for a collected id: %v %v, want ErrTxTooOld", res.Err, err)
	}
	if _, err := c.tx(lead).CommitTransaction(ctx, &tmv1.CommitTransactionRequest{TxId: old.GetTxId()}); reasonOf(err) != tmv1.ReasonTxTooOld {
		t.Fatalf("commit of a collected id: %v, want TX_TOO_OLD", err)
	}
	// New work after collection is minted above the floor and commits.
	r2, err := c.tx(lead).ExecuteTransaction(ctx, &tmv1.ExecuteTransactionRequest{
		Branches: []*tmv1.Branch{branch("d", "bank-a", "-5"), branch("c", "bank-b", "+5")}})
	if err != nil || r2.GetTransaction().GetState() != tmv1.TransactionState_TRANSACTION_STATE_COMMITTED {
		t.Fatalf("new work after collection: %v %v", r2, err)
	}
}
