package participant

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	berrors "go.etcd.io/bbolt/errors"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// startKit opens a kit with a short grace and starts its resolver.
func startKit(t *testing.T, cfg Config) (*Kit, tmv1.ParticipantServiceClient) {
	t.Helper()
	if cfg.Grace == 0 {
		cfg.Grace = 50 * time.Millisecond
	}
	k := openKit(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	k.Start(ctx)
	return k, serveKit(t, k)
}

// waitEnded waits until branch b1 of txID is in state and its hook's
// commit callback has run (a reader may see the state a moment before).
func waitEnded(t *testing.T, k *Kit, hooks *testHooks, txID string, state State) {
	t.Helper()
	eventually(t, 10*time.Second, "the branch to end "+state.String(), func() bool {
		_, commits, aborts := hooks.calls(txID + "/b1")
		return stateOf(t, k, txID, "b1") == state && commits+aborts > 0
	})
}

func TestInDoubtBranchCommitsOnCommitted(t *testing.T) {
	t.Parallel()
	fake := startFake(t, "c1", undecidedThen(3, tmv1.TransactionState_TRANSACTION_STATE_COMMITTED))
	hooks := newTestHooks()
	k, c := startKit(t, Config{Hooks: hooks, Grace: 200 * time.Millisecond})

	start := time.Now()
	mustPrepare(t, c, inDoubtReq("tx1", 300*time.Millisecond, fake.addr), tmv1.Vote_VOTE_YES)
	waitEnded(t, k, hooks, "tx1", StateCommitted)
	n, first, asks := fake.asked()
	if n != 4 {
		t.Errorf("asked %d times, want 4 (3 PREPARING, then COMMITTED)", n)
	}
	if early := first.Sub(start); early < 500*time.Millisecond {
		t.Errorf("first ask %v after Prepare, before resolve_after + grace (500ms)", early)
	}
	if gap := fake.minGap(); gap < 50*time.Millisecond {
		t.Errorf("asked again after %v, before retry_after (50ms)", gap)
	}
	for _, a := range asks {
		if a.TxId != "tx1" || a.BranchId != "b1" || a.Participant != "bank-a" {
			t.Errorf("ask %v, want tx1/b1 from bank-a", a)
		}
	}
	if _, commits, aborts := hooks.calls("tx1/b1"); commits != 1 || aborts != 0 {
		t.Errorf("hooks: %d commits, %d aborts", commits, aborts)
	}
	if v := effect(t, k, "committed/tx1/b1"); string(v) != "pay" {
		t.Errorf("commit effect %q", v)
	}
	// Ended: never asked about again, even when the coordinator repeats
	// its Commit.
	if err := commit(c, "tx1", "b1"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // several retry_afters: no ask may come
	if again, _, _ := fake.asked(); again != n {
		t.Errorf("asked %d more times after the branch ended", again-n)
	}
}

func TestInDoubtBranchAbortsOnAborted(t *testing.T) {
	t.Parallel()
	const retryAfter = 250 * time.Millisecond
	fake := startFake(t, "c1", func(n int, req *tmv1.ResolveTransactionRequest) (*tmv1.ResolveTransactionResponse, error) {
		if n == 0 {
			resp := answerState(req, tmv1.TransactionState_TRANSACTION_STATE_PREPARING)
			resp.RetryAfter = durationpb.New(retryAfter)
			return resp, nil
		}
		return answerState(req, tmv1.TransactionState_TRANSACTION_STATE_ABORTED), nil
	})
	hooks := newTestHooks()
	k, c := startKit(t, Config{Hooks: hooks})

	mustPrepare(t, c, inDoubtReq("tx1", 10*time.Millisecond, fake.addr), tmv1.Vote_VOTE_YES)
	waitEnded(t, k, hooks, "tx1", StateAborted)
	if gap := fake.minGap(); gap < retryAfter {
		t.Errorf("asked again after %v, before retry_after (%v)", gap, retryAfter)
	}
	if _, commits, aborts := hooks.calls("tx1/b1"); commits != 0 || aborts != 1 {
		t.Errorf("hooks: %d commits, %d aborts", commits, aborts)
	}
	wantReason(t, commit(c, "tx1", "b1"), codes.FailedPrecondition, tmv1.ReasonBranchAborted)
}

// Without COMMITTED or ABORTED the branch stays prepared, however long and
// whatever the coordinators say, and the kit keeps asking.
func TestInDoubtBranchNeverEndsOnItsOwn(t *testing.T) {
	t.Parallel()
	cases := map[string]func(int, *tmv1.ResolveTransactionRequest) (*tmv1.ResolveTransactionResponse, error){
		"unspecified": func(_ int, req *tmv1.ResolveTransactionRequest) (*tmv1.ResolveTransactionResponse, error) {
			return &tmv1.ResolveTransactionResponse{Transaction: &tmv1.Transaction{TxId: req.TxId}}, nil
		},
		"active": func(_ int, req *tmv1.ResolveTransactionRequest) (*tmv1.ResolveTransactionResponse, error) {
			return answerState(req, tmv1.TransactionState_TRANSACTION_STATE_ACTIVE), nil
		},
		"unavailable": func(int, *tmv1.ResolveTransactionRequest) (*tmv1.ResolveTransactionResponse, error) {
			return nil, status.Error(codes.Unavailable, "no leader")
		},
		"tx_forgotten": func(_ int, req *tmv1.ResolveTransactionRequest) (*tmv1.ResolveTransactionResponse, error) {
			return nil, txForgotten(req)
		},
		"other_tx": func(_ int, req *tmv1.ResolveTransactionRequest) (*tmv1.ResolveTransactionResponse, error) {
			resp := answerState(req, tmv1.TransactionState_TRANSACTION_STATE_COMMITTED)
			resp.Transaction.TxId = "someone-else"
			return resp, nil
		},
	}
	for name, answer := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fake := startFake(t, "c1", answer)
			hooks := newTestHooks()
			k, c := startKit(t, Config{Hooks: hooks})
			mustPrepare(t, c, inDoubtReq("tx1", 10*time.Millisecond, fake.addr), tmv1.Vote_VOTE_YES)
			eventually(t, 10*time.Second, "three asks", func() bool {
				n, _, _ := fake.asked()
				return n >= 3
			})
			if got := stateOf(t, k, "tx1", "b1"); got != StatePrepared {
				t.Errorf("state %v, want Prepared", got)
			}
			// Neither a missing retry_after nor an error makes it ask in
			// a tight loop.
			if gap := fake.minGap(); gap < minRetryAfter {
				t.Errorf("asked again after %v", gap)
			}
			if _, commits, aborts := hooks.calls("tx1/b1"); commits+aborts != 0 {
				t.Errorf("ended on its own: %d commits, %d aborts", commits, aborts)
			}
		})
	}
}

func TestPreparedBranchResolvedOnRestart(t *testing.T) {
	t.Parallel()
	fake := startFake(t, "c1", undecidedThen(0, tmv1.TransactionState_TRANSACTION_STATE_COMMITTED))
	path := filepath.Join(t.TempDir(), "kit.db")
	k := openKit(t, Config{Path: path})
	// Far from its deadline, and the resolver not even started.
	mustPrepare(t, serveKit(t, k), inDoubtReq("tx1", time.Hour, fake.addr), tmv1.Vote_VOTE_YES)
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}

	hooks := newTestHooks()
	k2, _ := startKit(t, Config{Path: path, Hooks: hooks})
	waitEnded(t, k2, hooks, "tx1", StateCommitted)
	if _, commits, _ := hooks.calls("tx1/b1"); commits != 1 {
		t.Errorf("%d commits", commits)
	}
	if _, _, asks := fake.asked(); asks[0].Participant != "bank-a" {
		t.Errorf("ask after restart names participant %q", asks[0].Participant)
	}
}

// A decision delivered by Commit or Abort before the branch is in doubt
// means the kit never asks.
func TestNoAskAfterDecisionArrives(t *testing.T) {
	t.Parallel()
	fake := startFake(t, "c1", undecidedThen(0, tmv1.TransactionState_TRANSACTION_STATE_COMMITTED))
	_, c := startKit(t, Config{})
	const resolveAfter = time.Second
	start := time.Now()
	mustPrepare(t, c, inDoubtReq("tx1", resolveAfter, fake.addr), tmv1.Vote_VOTE_YES)
	mustPrepare(t, c, inDoubtReq("tx2", resolveAfter, fake.addr), tmv1.Vote_VOTE_YES)
	if err := commit(c, "tx1", "b1"); err != nil {
		t.Fatal(err)
	}
	if err := abort(c, "tx2", "b1"); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > resolveAfter/2 {
		t.Skip("machine too slow: the decisions took longer than half of resolve_after")
	}
	time.Sleep(time.Until(start.Add(resolveAfter + 300*time.Millisecond))) // past resolve_after + grace
	if n, _, _ := fake.asked(); n != 0 {
		t.Errorf("asked %d times about ended branches", n)
	}
}

// When the Prepare's endpoints stop answering, the kit asks the members it
// learned from GetClusterStatus.
func TestInDoubtAsksLearnedMembers(t *testing.T) {
	t.Parallel()
	replacement := startFake(t, "c1", undecidedThen(0, tmv1.TransactionState_TRANSACTION_STATE_COMMITTED))
	old := startFake(t, "c1", func(int, *tmv1.ResolveTransactionRequest) (*tmv1.ResolveTransactionResponse, error) {
		return nil, status.Error(codes.Unavailable, "leaving the cluster")
	})
	old.setNodes(old.addr, replacement.addr)
	k, c := startKit(t, Config{})
	mustPrepare(t, c, inDoubtReq("tx1", 10*time.Millisecond, old.addr), tmv1.Vote_VOTE_YES)
	eventually(t, 10*time.Second, "the branch to commit", func() bool {
		return stateOf(t, k, "tx1", "b1") == StateCommitted
	})
	if n, _, _ := replacement.asked(); n == 0 {
		t.Error("the learned member was never asked")
	}
}

// Configured coordinators are asked only once they report the branch's
// cluster id: another cluster's ABORTED must never end a branch.
func TestConfiguredCoordinatorsAreCheckedForCluster(t *testing.T) {
	t.Parallel()
	other := startFake(t, "c2", undecidedThen(0, tmv1.TransactionState_TRANSACTION_STATE_ABORTED))
	own := startFake(t, "c1", undecidedThen(2, tmv1.TransactionState_TRANSACTION_STATE_COMMITTED))
	k, c := startKit(t, Config{Coordinators: []string{other.addr, own.addr}})
	mustPrepare(t, c, inDoubtReq("tx1", 10*time.Millisecond), tmv1.Vote_VOTE_YES)
	eventually(t, 10*time.Second, "the branch to commit", func() bool {
		return stateOf(t, k, "tx1", "b1") == StateCommitted
	})
	if n, _, _ := other.asked(); n != 0 {
		t.Errorf("a coordinator of another cluster was asked %d times", n)
	}
	if other.statusCalls() == 0 {
		t.Error("the other cluster's coordinator was never checked")
	}
}

func TestClosedKitIsUnavailable(t *testing.T) {
	t.Parallel()
	k := openKit(t, Config{})
	c := serveKit(t, k)
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	k.Start(context.Background()) // does nothing after Close
	if err := k.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := k.DB().Begin(false); !errors.Is(err, berrors.ErrDatabaseNotOpen) {
		t.Errorf("database still open after Close: %v", err)
	}
	_, err := c.Prepare(context.Background(), prepareReq("tx1", "b1", "pay"))
	if status.Code(err) != codes.Unavailable {
		t.Errorf("Prepare on a closed kit: %v, want UNAVAILABLE", err)
	}
}
