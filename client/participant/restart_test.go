package participant

import (
	"path/filepath"
	"testing"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

func TestPreparedBranchSurvivesRestart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "kit.db")
	k := openKit(t, Config{Path: path})
	c := serveKit(t, k)
	mustPrepare(t, c, prepareReq("tx1", "b1", "pay-1"), tmv1.Vote_VOTE_YES)
	mustPrepare(t, c, prepareReq("tx1", "b2", "pay-2"), tmv1.Vote_VOTE_YES)
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}

	hooks := newTestHooks()
	k2 := openKit(t, Config{Path: path, Hooks: hooks})
	c2 := serveKit(t, k2)
	if got := stateOf(t, k2, "tx1", "b1"); got != StatePrepared {
		t.Fatalf("state after restart %v, want Prepared", got)
	}
	if p, _, _ := k2.Stats(); p != 2 {
		t.Errorf("pending after restart = %d, want 2", p)
	}
	mustPrepare(t, c2, prepareReq("tx1", "b1", "pay-1"), tmv1.Vote_VOTE_YES)
	if err := commit(c2, "tx1", "b1"); err != nil {
		t.Fatal(err)
	}
	if err := abort(c2, "tx1", "b2"); err != nil {
		t.Fatal(err)
	}
	if v := effect(t, k2, "committed/tx1/b1"); string(v) != "pay-1" {
		t.Errorf("commit effect after restart = %q", v)
	}
	if v := effect(t, k2, "aborted/tx1/b2"); string(v) != "pay-2" {
		t.Errorf("abort effect after restart = %q", v)
	}
	if n := hooks.invokedPrepare("tx1/b1"); n != 0 {
		t.Errorf("Prepare hook ran again after restart")
	}
}
