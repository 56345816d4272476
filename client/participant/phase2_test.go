package participant

import (
	"testing"

	"google.golang.org/grpc/codes"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

func TestCommitIsIdempotent(t *testing.T) {
	t.Parallel()
	hooks := newTestHooks()
	k := openKit(t, Config{Hooks: hooks})
	c := serveKit(t, k)

	mustPrepare(t, c, prepareReq("tx1", "b1", "pay"), tmv1.Vote_VOTE_YES)
	for range 3 {
		if err := commit(c, "tx1", "b1"); err != nil {
			t.Fatal(err)
		}
	}
	if _, commits, aborts := hooks.calls("tx1/b1"); commits != 1 || aborts != 0 {
		t.Errorf("hooks committed %d commits and %d aborts, want 1 and 0", commits, aborts)
	}
	if v := effect(t, k, "committed/tx1/b1"); string(v) != "pay" {
		t.Errorf("commit effect %q", v)
	}
	meta := wantReason(t, abort(c, "tx1", "b1"), codes.FailedPrecondition, tmv1.ReasonBranchCommitted)
	if meta[tmv1.MetaState] != "Committed" {
		t.Errorf("metadata %v", meta)
	}
	if got := stateOf(t, k, "tx1", "b1"); got != StateCommitted {
		t.Errorf("state %v, want Committed", got)
	}
}

func TestAbortIsIdempotent(t *testing.T) {
	t.Parallel()
	hooks := newTestHooks()
	k := openKit(t, Config{Hooks: hooks})
	c := serveKit(t, k)

	mustPrepare(t, c, prepareReq("tx1", "b1", "pay"), tmv1.Vote_VOTE_YES)
	for range 3 {
		if err := abort(c, "tx1", "b1"); err != nil {
			t.Fatal(err)
		}
	}
	if _, commits, aborts := hooks.calls("tx1/b1"); commits != 0 || aborts != 1 {
		t.Errorf("hooks committed %d commits and %d aborts, want 0 and 1", commits, aborts)
	}
	if v := effect(t, k, "staged/tx1/b1"); v != nil {
		t.Error("abort left the branch staged")
	}
	wantReason(t, commit(c, "tx1", "b1"), codes.FailedPrecondition, tmv1.ReasonBranchAborted)
	if got := stateOf(t, k, "tx1", "b1"); got != StateAborted {
		t.Errorf("state %v, want Aborted", got)
	}
}

func TestCommitUnknownBranch(t *testing.T) {
	t.Parallel()
	k := openKit(t, Config{})
	c := serveKit(t, k)

	wantReason(t, commit(c, "tx1", "b1"), codes.FailedPrecondition, tmv1.ReasonUnknownBranch)
	if infos, _, _ := k.ListBranches("", 0); len(infos) != 0 {
		t.Errorf("Commit of an unknown branch left records: %+v", infos)
	}
	// It left no tombstone either: a Prepare may still vote YES.
	mustPrepare(t, c, prepareReq("tx1", "b1", "pay"), tmv1.Vote_VOTE_YES)
}

func TestReadOnlyBranchLeavesPhaseTwo(t *testing.T) {
	t.Parallel()
	hooks := newTestHooks()
	k := openKit(t, Config{Hooks: hooks})
	c := serveKit(t, k)

	mustPrepare(t, c, prepareReq("tx1", "b1", "ro"), tmv1.Vote_VOTE_READ_ONLY)
	mustPrepare(t, c, prepareReq("tx1", "b1", "ro"), tmv1.Vote_VOTE_READ_ONLY)
	for _, err := range []error{commit(c, "tx1", "b1"), abort(c, "tx1", "b1"), commit(c, "tx1", "b1")} {
		if err != nil {
			t.Errorf("phase two on a read-only branch: %v", err)
		}
	}
	if _, commits, aborts := hooks.calls("tx1/b1"); commits+aborts != 0 {
		t.Errorf("phase-two hooks ran for a read-only branch")
	}
	if v := effect(t, k, "staged/tx1/b1"); v != nil {
		t.Error("a READ_ONLY hook's writes persisted")
	}
	if got := stateOf(t, k, "tx1", "b1"); got != StateReadOnly {
		t.Errorf("state %v, want ReadOnly", got)
	}
}

func TestStats(t *testing.T) {
	t.Parallel()
	k := openKit(t, Config{})
	c := serveKit(t, k)

	for _, b := range []struct{ id, payload string }{{"b1", "pay"}, {"b2", "pay"}, {"b3", "pay"}, {"b4", "no"}, {"b5", "ro"}} {
		mustPrepare(t, c, prepareReq("tx1", b.id, b.payload), map[string]tmv1.Vote{
			"pay": tmv1.Vote_VOTE_YES, "no": tmv1.Vote_VOTE_NO, "ro": tmv1.Vote_VOTE_READ_ONLY}[b.payload])
	}
	if err := commit(c, "tx1", "b1"); err != nil {
		t.Fatal(err)
	}
	if err := abort(c, "tx1", "b2"); err != nil {
		t.Fatal(err)
	}
	if err := abort(c, "tx2", "never-prepared"); err != nil {
		t.Fatal(err)
	}
	if p, cm, ab := k.Stats(); p != 1 || cm != 1 || ab != 2 {
		t.Errorf("Stats = %d pending, %d committed, %d aborted; want 1, 1, 2", p, cm, ab)
	}
}
