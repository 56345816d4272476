package server

import (
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// Regressions for findings of the protocol review.

// A Resolve for an id no leader of this cluster could have minted must not
// be logged: its forged mint index would reach the gc floor when the abort
// record is collected, and every later transaction would be TX_TOO_OLD.
func TestResolveRefusesForgedTxID(t *testing.T) {
	c, _, _ := twoParticipants(t)
	lead := c.waitLeader()
	fsm := c.nodes[lead].node.FSM()
	before := fsm.Len()
	ctx := ctxT(t, 10*time.Second)
	for _, id := range []string{"tx-1-ffffffffffff-1", "tx-ffff-3-1"} {
		_, err := c.tx(c.follower()).ResolveTransaction(ctx, &tmv1.ResolveTransactionRequest{TxId: id, BranchId: "d", Participant: "bank-a"})
		if status.Code(err) != codes.InvalidArgument || metaOf(err)[tmv1.MetaField] != "tx_id" {
			t.Fatalf("forged %s: %v, want INVALID_ARGUMENT on tx_id", id, err)
		}
	}
	if fsm.Len() != before || fsm.GCFloor() != 0 {
		t.Fatalf("a forged Resolve changed the state: %d records (was %d), gc floor %d", fsm.Len(), before, fsm.GCFloor())
	}
	_, err := c.tx(lead).ResolveTransaction(ctx, &tmv1.ResolveTransactionRequest{
		TxId: "tx-1-3-1", BranchId: "d", Participant: "bank-a", ClusterId: "another-cluster"})
	if reasonOf(err) != tmv1.ReasonClusterMismatch {
		t.Fatalf("Resolve from another cluster's branch: %v, want CLUSTER_MISMATCH", err)
	}
}

// A participant with a one-shot transaction in flight (no record yet) cannot
// be removed: its branch would turn into a false heuristic hazard.
func TestRemoveParticipantRefusedWhileInFlight(t *testing.T) {
	c, a, _ := twoParticipants(t)
	lead := c.waitLeader()
	held := make(chan struct{}, 1)
	release := make(chan struct{})
	a.setGate(func(method string, _ any) error {
		if method == tmv1.ParticipantService_Prepare_FullMethodName {
			held <- struct{}{}
			<-release
		}
		return nil
	})
	done := make(chan *tmv1.Transaction, 1)
	go func() {
		r, err := c.tx(lead).ExecuteTransaction(ctxT(t, 10*time.Second), payment(""))
		if err != nil {
			t.Error(err)
		}
		done <- r.GetTransaction()
	}()
	<-held
	_, err := c.cluster(c.follower()).RemoveParticipant(ctxT(t, 5*time.Second), &tmv1.RemoveParticipantRequest{Name: "bank-a"})
	close(release)
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("remove with a transaction in flight: %v, want FAILED_PRECONDITION", err)
	}
	tx := <-done
	for _, b := range tx.GetBranches() {
		if b.GetState() == tmv1.BranchState_BRANCH_STATE_HEURISTIC_HAZARD {
			t.Fatalf("false hazard: %v", b)
		}
	}
}

// wait_for_completion returns when another leader completes phase two.
func TestWaitForCompletionSeesAnotherLeadersAcks(t *testing.T) {
	c, _, b := twoParticipants(t)
	lead := c.waitLeader()
	var mu sync.Mutex
	failing := true
	b.setGate(func(method string, _ any) error {
		mu.Lock()
		defer mu.Unlock()
		if failing && method == tmv1.ParticipantService_Commit_FullMethodName {
			return status.Error(codes.Unavailable, "not yet")
		}
		return nil
	})
	req := payment("k-wait")
	req.WaitForCompletion = true
	done := make(chan error, 1)
	go func() {
		r, err := c.tx(c.follower()).ExecuteTransaction(ctxT(t, 20*time.Second), req)
		if err == nil && !r.GetTransaction().GetCompleted() {
			t.Error("replied before completion")
		}
		done <- err
	}()
	eventually(t, 10*time.Second, func() bool { return len(c.nodes[lead].node.FSM().Unfinished()) > 0 }, "the decision")
	// The caller's request sits on the old leader; leadership moves away.
	if _, err := c.cluster(lead).TransferLeadership(ctxT(t, 10*time.Second), &tmv1.TransferLeadershipRequest{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	failing = false
	mu.Unlock()
	select {
	case err := <-done:
		if err != nil {
			// The forwarded request may be cut with the old leadership; the
			// outcome is then unknown to the caller, which is allowed.
			if c := status.Code(err); c != codes.Unavailable && c != codes.Canceled {
				t.Fatalf("wait_for_completion: %v", err)
			}
		}
	case <-time.After(15 * time.Second):
		t.Fatal("wait_for_completion never returned after another leader completed the transaction")
	}
}
