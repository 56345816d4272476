package client_test

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tmcluster/tmcluster/client"
	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

func TestFailsOverFromADeadEndpoint(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	f.on("Execute", step{tx: txIn("tx-1", committed, "")})
	c := newClient(t, client.Config{Endpoints: []string{closedAddr(t), f.addr}})

	res, err := c.Execute(testCtx(t, 5*time.Second), payment)
	if err != nil || res.Outcome != client.OutcomeCommitted {
		t.Fatalf("Execute = %+v, %v; want committed from the second endpoint", res, err)
	}
	if n := len(f.calls("Execute")); n != 1 {
		t.Errorf("second endpoint attempts = %d, want 1", n)
	}
}

func TestFollowsLeaderAddress(t *testing.T) {
	t.Parallel()
	leader, follower := startFake(t), startFake(t)
	hint := map[string]string{tmv1.MetaLeaderID: "n2", tmv1.MetaLeaderAddress: leader.addr}
	follower.on("Commit", step{err: rpcErr(codes.Unavailable, tmv1.ReasonNotLeader, hint)})
	leader.on("Commit", step{tx: txIn("tx-1", committed, "")})
	leader.on("Get", step{tx: txIn("tx-1", committed, "")})
	// The leader is not among the endpoints: only the hint leads there.
	c := newClient(t, client.Config{Endpoints: []string{follower.addr, closedAddr(t)}})

	res, err := c.Commit(testCtx(t, 2*time.Second), "tx-1", false)
	if err != nil || res.Outcome != client.OutcomeCommitted {
		t.Fatalf("Commit = %+v, %v; want committed by the hinted leader", res, err)
	}
	if got := leader.calls("Commit"); len(got) != 1 || got[0].txID != "tx-1" {
		t.Fatalf("leader got %v, want one Commit of tx-1", got)
	}
	if _, err := c.Get(testCtx(t, 2*time.Second), "tx-1"); err != nil {
		t.Fatalf("Get: %v", err)
	}
	if n := len(follower.calls("Get")); n != 0 {
		t.Errorf("the next call went to the follower (%d calls), want the leader first", n)
	}
}

func TestTimedOutAttemptIsRetriedWithTheSameTxID(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	f.on("Commit", step{hang: true}, step{tx: txIn("tx-5", committed, "")})
	c := newClient(t, client.Config{Endpoints: []string{f.addr}, AttemptTimeout: 100 * time.Millisecond})

	res, err := c.Commit(testCtx(t, 5*time.Second), "tx-5", true)
	if err != nil || res.Outcome != client.OutcomeCommitted {
		t.Fatalf("Commit = %+v, %v; want committed on the second attempt", res, err)
	}
	if got := f.calls("Commit"); len(got) != 2 || got[1].txID != "tx-5" {
		t.Errorf("attempts = %v, want two with tx-5", got)
	}
}

func TestRetryBudgetEndsWithUnknownOutcome(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	f.on("Commit", step{err: rpcErr(codes.Unavailable, tmv1.ReasonNoLeader, nil)})
	c := newClient(t, client.Config{Endpoints: []string{f.addr}, MaxRetryElapsed: 300 * time.Millisecond})

	start := time.Now()
	_, err := c.Commit(testCtx(t, 10*time.Second), "tx-6", false)
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("gave up after %v, want about MaxRetryElapsed", elapsed)
	}
	var u *client.UnknownOutcomeError
	if !errors.As(err, &u) || u.TxID != "tx-6" || !errors.Is(err, client.ErrNoLeader) {
		t.Fatalf("err = %v, want *UnknownOutcomeError for tx-6 matching ErrNoLeader", err)
	}
	if errors.Is(err, client.ErrUnreachable) {
		t.Errorf("a node answered NO_LEADER: must not match ErrUnreachable")
	}
}

func TestGetNotFoundIsNotAnOutcome(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	f.on("Get", step{err: rpcErr(codes.NotFound, tmv1.ReasonTxNotFound, map[string]string{tmv1.MetaTxID: "tx-7"})})
	c := newClient(t, client.Config{Endpoints: []string{f.addr}})

	tx, err := c.Get(testCtx(t, 5*time.Second), "tx-7")
	if !errors.Is(err, client.ErrNotFound) || tx != nil {
		t.Fatalf("Get = %v, %v; want ErrNotFound", tx, err)
	}
	if errors.Is(err, client.ErrOutcomeUnknown) {
		t.Errorf("NOT_FOUND must not match ErrOutcomeUnknown")
	}
	if n := len(f.calls("Get")); n != 1 {
		t.Errorf("attempts = %d, want 1", n)
	}
}

func TestAbortOfCommittedIsErrTxCommitted(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	f.on("Abort", step{err: rpcErr(codes.FailedPrecondition, tmv1.ReasonTxCommitted, nil)})
	c := newClient(t, client.Config{Endpoints: []string{f.addr}})

	if _, err := c.Abort(testCtx(t, 5*time.Second), "tx-8", "operator"); !errors.Is(err, client.ErrTxCommitted) {
		t.Fatalf("err = %v, want ErrTxCommitted", err)
	}
}

func TestRawClientFailsOverButSendsUnkeyedExecuteOnce(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	f.on("Get", step{tx: txIn("tx-1", committed, "")})
	f.on("Execute", step{err: rpcErr(codes.Unavailable, tmv1.ReasonNoLeader, nil)})
	c := newClient(t, client.Config{Endpoints: []string{closedAddr(t), f.addr}})
	raw := c.Transactions()

	if _, err := raw.GetTransaction(testCtx(t, 5*time.Second), &tmv1.GetTransactionRequest{TxId: "tx-1"}); err != nil {
		t.Fatalf("raw Get: %v", err)
	}
	_, err := raw.ExecuteTransaction(testCtx(t, 5*time.Second), &tmv1.ExecuteTransactionRequest{})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("raw unkeyed Execute err = %v, want the raw UNAVAILABLE", err)
	}
	if n := len(f.calls("Execute")); n != 1 {
		t.Errorf("unkeyed Execute attempts = %d, want 1", n)
	}
}

func TestStatusAsksTheNamedNode(t *testing.T) {
	t.Parallel()
	a, b := startFake(t), startFake(t)
	a.on("Status", step{status: &tmv1.GetClusterStatusResponse{NodeId: "n1", AppliedIndex: 10}})
	b.on("Status", step{status: &tmv1.GetClusterStatusResponse{NodeId: "n2", AppliedIndex: 7}})
	c := newClient(t, client.Config{Endpoints: []string{a.addr}})

	st, err := c.Status(testCtx(t, 5*time.Second), b.addr)
	if err != nil || st.GetNodeId() != "n2" {
		t.Fatalf("Status(b) = %v, %v; want n2's own view", st, err)
	}
	start := time.Now()
	_, err = c.Status(testCtx(t, 5*time.Second), closedAddr(t))
	if !errors.Is(err, client.ErrUnreachable) {
		t.Fatalf("Status(closed) err = %v, want ErrUnreachable", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("a named node is asked once; took %v", time.Since(start))
	}
}

func TestClusterCallRetriesNoLeader(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	f.on("Register", step{err: rpcErr(codes.Unavailable, tmv1.ReasonNoLeader, nil)}, step{})
	c := newClient(t, client.Config{Endpoints: []string{f.addr}})

	p, err := c.RegisterParticipant(testCtx(t, 5*time.Second), "bank-a", "127.0.0.1:9101")
	if err != nil || p.GetName() != "bank-a" {
		t.Fatalf("RegisterParticipant = %v, %v", p, err)
	}
	if n := len(f.calls("Register")); n != 2 {
		t.Errorf("attempts = %d, want 2", n)
	}
}

func TestClosedClientFailsFast(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	c, err := client.New(client.Config{Endpoints: []string{f.addr}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(testCtx(t, 5*time.Second), "tx-1"); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
}
