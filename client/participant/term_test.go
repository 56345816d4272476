package participant

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

func prepareAt(txID, branchID, cluster string, term uint64) *tmv1.PrepareRequest {
	req := prepareReq(txID, branchID, "pay")
	req.ClusterId, req.Term = cluster, term
	return req
}

func TestStaleTermPerCluster(t *testing.T) {
	t.Parallel()
	hooks := newTestHooks()
	path := t.TempDir() + "/kit.db"
	k := openKit(t, Config{Path: path, Hooks: hooks})
	c := serveKit(t, k)
	ctx := context.Background()

	mustPrepare(t, c, prepareAt("tx1", "b1", "c1", 5), tmv1.Vote_VOTE_YES)
	_, err := c.Prepare(ctx, prepareAt("tx2", "b1", "c1", 4))
	wantReason(t, err, codes.FailedPrecondition, tmv1.ReasonStaleTerm)
	if got := stateOf(t, k, "tx2", "b1"); got != StateUnknown {
		t.Errorf("a STALE_TERM Prepare left state %v", got)
	}
	if n := hooks.invokedPrepare("tx2/b1"); n != 0 {
		t.Errorf("Prepare hook ran for a stale term")
	}
	// The same term is not stale; a newer one raises the floor.
	mustPrepare(t, c, prepareAt("tx3", "b1", "c1", 5), tmv1.Vote_VOTE_YES)
	mustPrepare(t, c, prepareAt("tx4", "b1", "c1", 7), tmv1.Vote_VOTE_YES)
	_, err = c.Prepare(ctx, prepareAt("tx5", "b1", "c1", 6))
	wantReason(t, err, codes.FailedPrecondition, tmv1.ReasonStaleTerm)
	// Another cluster's terms are its own.
	mustPrepare(t, c, prepareAt("tx6", "b1", "c2", 1), tmv1.Vote_VOTE_YES)
	// Commit and Abort are never rejected for their term.
	if err := commit(c, "tx1", "b1"); err != nil {
		t.Errorf("Commit of a branch prepared in an older term: %v", err)
	}
	if err := abort(c, "tx3", "b1"); err != nil {
		t.Errorf("Abort of a branch prepared in an older term: %v", err)
	}

	// The highest term is durable.
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	k2 := openKit(t, Config{Path: path, Hooks: hooks})
	_, err = serveKit(t, k2).Prepare(ctx, prepareAt("tx7", "b1", "c1", 6))
	wantReason(t, err, codes.FailedPrecondition, tmv1.ReasonStaleTerm)
}

func TestStaleTermDoesNotHideAVoteOrATombstone(t *testing.T) {
	t.Parallel()
	k := openKit(t, Config{})
	c := serveKit(t, k)

	mustPrepare(t, c, prepareAt("tx1", "b1", "c1", 3), tmv1.Vote_VOTE_YES)
	mustPrepare(t, c, prepareAt("tx9", "b1", "c1", 8), tmv1.Vote_VOTE_YES)
	// A repeated Prepare from the old term is no first Prepare: it answers
	// the vote.
	mustPrepare(t, c, prepareAt("tx1", "b1", "c1", 3), tmv1.Vote_VOTE_YES)
	// A branch aborted before its Prepare votes NO, whatever the term.
	if err := abort(c, "tx2", "b1"); err != nil {
		t.Fatal(err)
	}
	mustPrepare(t, c, prepareAt("tx2", "b1", "c1", 3), tmv1.Vote_VOTE_NO)
}
