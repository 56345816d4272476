package server

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// addNode starts one more node and adds it to the cluster.
func (c *testCluster) addNode() int {
	c.t.Helper()
	n := len(c.all())
	tn := &testNode{id: fmt.Sprintf("n%d", n+1), dir: c.t.TempDir(), raftAddr: freeAddr(c.t)}
	c.start(tn, false) // before it is listed: workers only see started nodes
	c.add(tn)
	c.addMember(tn)
	return n
}

func (c *testCluster) voters(i int) []string {
	c.t.Helper()
	st, err := c.cluster(i).GetClusterStatus(ctxT(c.t, 5*time.Second), &tmv1.GetClusterStatusRequest{})
	if err != nil {
		c.t.Fatal(err)
	}
	var ids []string
	for _, n := range st.GetNodes() {
		if n.GetVoter() {
			ids = append(ids, n.GetId())
		}
	}
	return ids
}

// Grow 3 → 5 and shrink back to 3 (removing the leader too) while payments
// run; every payment ends the same at both participants.
func TestMembershipThreeFiveThreeWhilePaying(t *testing.T) {
	c, a, b := twoParticipants(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var txIDs []string
	var committed atomic.Int64
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r, err := c.tx(c.waitLeader()).ExecuteTransaction(ctxT(t, 10*time.Second), payment(fmt.Sprintf("m-%d-%d", w, i)))
				if err != nil {
					switch status.Code(err) {
					case codes.Unavailable, codes.Canceled, codes.DeadlineExceeded:
						continue // outcome unknown while membership moves: checked at the participants
					}
					t.Errorf("payment: %v", err)
					return
				}
				mu.Lock()
				txIDs = append(txIDs, r.GetTransaction().GetTxId())
				mu.Unlock()
				if r.GetTransaction().GetState() == tmv1.TransactionState_TRANSACTION_STATE_COMMITTED {
					committed.Add(1)
				}
			}
		}()
	}
	n4, n5 := c.addNode(), c.addNode()
	eventually(t, 10*time.Second, func() bool { return len(c.voters(n5)) == 5 }, "five voters")
	lead := c.waitLeader()
	if _, err := c.cluster(lead).RemoveMember(ctxT(t, 15*time.Second), &tmv1.RemoveMemberRequest{Id: c.nodes[n4].id}); err != nil {
		t.Fatalf("remove %s: %v", c.nodes[n4].id, err)
	}
	c.kill(n4)
	// The leader removes itself: it hands leadership over first.
	lead = c.waitLeader()
	old := c.nodes[lead].id
	if _, err := c.cluster(lead).RemoveMember(ctxT(t, 15*time.Second), &tmv1.RemoveMemberRequest{Id: old}); err != nil {
		t.Fatalf("remove the leader %s: %v", old, err)
	}
	c.kill(lead)
	eventually(t, 15*time.Second, func() bool {
		v := c.voters(n5)
		return len(v) == 3 && !contains(v, old) && !contains(v, c.nodes[n4].id)
	}, "three voters without the removed ones")
	time.Sleep(500 * time.Millisecond) // payments keep flowing on the shrunk cluster
	close(stop)
	wg.Wait()
	if committed.Load() == 0 {
		t.Fatal("no payment committed while membership changed")
	}
	for _, id := range txIDs {
		settled(t, id, a, b)
	}
	t.Logf("%d payments answered, %d committed", len(txIDs), committed.Load())
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
