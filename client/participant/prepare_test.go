package participant

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

func TestLatePrepareAfterAbortVotesNo(t *testing.T) {
	t.Parallel()
	hooks := newTestHooks()
	k := openKit(t, Config{Hooks: hooks})
	c := serveKit(t, k)

	if err := abort(c, "tx1", "b1"); err != nil {
		t.Fatalf("Abort of a never-prepared branch: %v", err)
	}
	if got := stateOf(t, k, "tx1", "b1"); got != StateTombstone {
		t.Fatalf("state after Abort = %v, want Tombstone", got)
	}
	resp := mustPrepare(t, c, prepareReq("tx1", "b1", "pay"), tmv1.Vote_VOTE_NO)
	if resp.Reason == "" {
		t.Error("NO vote without a reason")
	}
	mustPrepare(t, c, prepareReq("tx1", "b1", "pay"), tmv1.Vote_VOTE_NO)
	if n := hooks.invokedPrepare("tx1/b1"); n != 0 {
		t.Errorf("Prepare hook ran %d times for a tombstoned branch", n)
	}
	wantReason(t, commit(c, "tx1", "b1"), codes.FailedPrecondition, tmv1.ReasonBranchAborted)
	if err := abort(c, "tx1", "b1"); err != nil {
		t.Errorf("second Abort: %v", err)
	}
}

func TestPrepareWithoutPositiveResolveAfterVotesNo(t *testing.T) {
	t.Parallel()
	hooks := newTestHooks()
	k := openKit(t, Config{Hooks: hooks})
	c := serveKit(t, k)

	for name, ra := range map[string]*durationpb.Duration{
		"nil": nil, "zero": durationpb.New(0), "negative": durationpb.New(-time.Second),
	} {
		req := prepareReq("tx-"+name, "b1", "pay")
		req.ResolveAfter = ra
		mustPrepare(t, c, req, tmv1.Vote_VOTE_NO)
		// Durable NO: a later Prepare with a deadline still votes NO.
		mustPrepare(t, c, prepareReq("tx-"+name, "b1", "pay"), tmv1.Vote_VOTE_NO)
		if n := hooks.invokedPrepare("tx-" + name + "/b1"); n != 0 {
			t.Errorf("%s: Prepare hook ran %d times", name, n)
		}
		if got := stateOf(t, k, "tx-"+name, "b1"); got != StateVotedNo {
			t.Errorf("%s: state %v, want VotedNo", name, got)
		}
	}
}

func TestAfterNoEveryPrepareVotesNo(t *testing.T) {
	t.Parallel()
	hooks := newTestHooks()
	k := openKit(t, Config{Hooks: hooks})
	c := serveKit(t, k)

	first := mustPrepare(t, c, prepareReq("tx1", "b1", "no"), tmv1.Vote_VOTE_NO)
	if first.Reason != "test says no" {
		t.Errorf("reason %q, want the hook's", first.Reason)
	}
	// (A rolled-back batch may have run the hook more than once; none of
	// those runs committed, and no later Prepare runs it again.)
	ran := hooks.invokedPrepare("tx1/b1")
	for i := range 3 {
		req := prepareReq("tx1", "b1", "no")
		req.Term = uint64(10 + i)
		if again := mustPrepare(t, c, req, tmv1.Vote_VOTE_NO); again.Reason != first.Reason {
			t.Errorf("repeated NO reason %q, want %q", again.Reason, first.Reason)
		}
	}
	if n := hooks.invokedPrepare("tx1/b1"); n != ran {
		t.Errorf("Prepare hook ran %d more times after the NO", n-ran)
	}
	if p, _, _ := hooks.calls("tx1/b1"); p != 0 {
		t.Errorf("a NO hook's transaction committed %d times", p)
	}
	if v := effect(t, k, "staged/tx1/b1"); v != nil {
		t.Errorf("a NO hook's writes persisted: %q", v)
	}
	wantReason(t, commit(c, "tx1", "b1"), codes.FailedPrecondition, tmv1.ReasonBranchAborted)
	if err := abort(c, "tx1", "b1"); err != nil {
		t.Errorf("Abort after NO: %v", err)
	}
	if _, commits, aborts := hooks.calls("tx1/b1"); commits+aborts != 0 {
		t.Errorf("phase-two hooks ran for a NO branch: %d commits, %d aborts", commits, aborts)
	}
}

func TestHookFailureVotesNo(t *testing.T) {
	t.Parallel()
	hooks := newTestHooks()
	k := openKit(t, Config{Hooks: hooks})
	c := serveKit(t, k)

	for _, payload := range []string{"err", "panic"} {
		resp := mustPrepare(t, c, prepareReq("tx-"+payload, "b1", payload), tmv1.Vote_VOTE_NO)
		if !strings.Contains(resp.Reason, "test hook") {
			t.Errorf("%s: reason %q does not say why", payload, resp.Reason)
		}
		if v := effect(t, k, "staged/tx-"+payload+"/b1"); v != nil {
			t.Errorf("%s: a failed hook's writes persisted", payload)
		}
		mustPrepare(t, c, prepareReq("tx-"+payload, "b1", payload), tmv1.Vote_VOTE_NO)
	}
}

func TestPrepareIsIdempotent(t *testing.T) {
	t.Parallel()
	hooks := newTestHooks()
	k := openKit(t, Config{Hooks: hooks})
	c := serveKit(t, k)

	req := prepareReq("tx1", "b1", "pay")
	req.Term = 5
	mustPrepare(t, c, req, tmv1.Vote_VOTE_YES)
	// Raise the cluster's term with another branch, then repeat the first
	// Prepare from its older term, and from a newer one without a deadline:
	// the vote stands.
	newer := prepareReq("tx2", "b1", "pay")
	newer.Term = 9
	mustPrepare(t, c, newer, tmv1.Vote_VOTE_YES)
	mustPrepare(t, c, req, tmv1.Vote_VOTE_YES)
	late := prepareReq("tx1", "b1", "pay")
	late.Term, late.ResolveAfter = 12, nil
	mustPrepare(t, c, late, tmv1.Vote_VOTE_YES)

	if p, _, _ := hooks.calls("tx1/b1"); p != 1 {
		t.Errorf("Prepare hook committed %d times, want 1", p)
	}
	if got := stateOf(t, k, "tx1", "b1"); got != StatePrepared {
		t.Errorf("state %v, want Prepared", got)
	}
	// A repeat after the branch ended still answers its vote.
	if err := commit(c, "tx1", "b1"); err != nil {
		t.Fatal(err)
	}
	mustPrepare(t, c, req, tmv1.Vote_VOTE_YES)
	if got := stateOf(t, k, "tx1", "b1"); got != StateCommitted {
		t.Errorf("state %v after a repeated Prepare, want Committed", got)
	}
}

func TestPrepareWithOtherPayloadIsMismatch(t *testing.T) {
	t.Parallel()
	hooks := newTestHooks()
	k := openKit(t, Config{Hooks: hooks})
	c := serveKit(t, k)

	mustPrepare(t, c, prepareReq("tx1", "b1", "pay-10"), tmv1.Vote_VOTE_YES)
	_, err := c.Prepare(context.Background(), prepareReq("tx1", "b1", "pay-99"))
	meta := wantReason(t, err, codes.FailedPrecondition, tmv1.ReasonPayloadMismatch)
	if meta[tmv1.MetaTxID] != "tx1" {
		t.Errorf("metadata %v lacks tx_id", meta)
	}
	mustPrepare(t, c, prepareReq("tx1", "b2", "no"), tmv1.Vote_VOTE_NO)
	_, err = c.Prepare(context.Background(), prepareReq("tx1", "b2", "other"))
	wantReason(t, err, codes.FailedPrecondition, tmv1.ReasonPayloadMismatch)

	if p, _, _ := hooks.calls("tx1/b1"); p != 1 {
		t.Errorf("Prepare hook committed %d times, want 1", p)
	}
	if err := commit(c, "tx1", "b1"); err != nil {
		t.Fatal(err)
	}
	if v := effect(t, k, "committed/tx1/b1"); !bytes.Equal(v, []byte("pay-10")) {
		t.Errorf("committed payload %q, want the prepared one", v)
	}
}

func TestInvalidIDs(t *testing.T) {
	t.Parallel()
	c := serveKit(t, openKit(t, Config{}))
	ctx := context.Background()
	for _, tc := range []struct{ tx, br, field string }{
		{"", "b1", "tx_id"}, {"tx1", "", "branch_id"}, {"t\x00x", "b1", "tx_id"},
	} {
		_, err := c.Prepare(ctx, prepareReq(tc.tx, tc.br, "pay"))
		if meta := wantReason(t, err, codes.InvalidArgument, tmv1.ReasonInvalidArgument); meta[tmv1.MetaField] != tc.field {
			t.Errorf("Prepare(%q,%q): field %q, want %q", tc.tx, tc.br, meta[tmv1.MetaField], tc.field)
		}
		wantReason(t, commit(c, tc.tx, tc.br), codes.InvalidArgument, tmv1.ReasonInvalidArgument)
		wantReason(t, abort(c, tc.tx, tc.br), codes.InvalidArgument, tmv1.ReasonInvalidArgument)
	}
}
