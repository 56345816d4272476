package main

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	bankv1 "github.com/tmcluster/tmcluster/proto/bank/v1"
	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// Random transfers, each a debit and a credit branch decided together,
// create or destroy no money and leave nothing pending.
func TestTransfersConserveMoney(t *testing.T) {
	t.Parallel()
	const accounts, initial, transfers, workers = 8, 1000, 240, 12
	b, _ := startBankd(t, t.TempDir(), accounts, initial)

	var mu sync.Mutex
	committed := 0
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := w; i < transfers; i += workers {
				tx := fmt.Sprintf("tx%04d", i)
				from, to := rng.IntN(accounts), rng.IntN(accounts)
				amount := int64(1 + rng.IntN(600))
				dv := b.prepare(t, tx, "debit", accountID(from), -amount)
				cv := b.prepare(t, tx, "credit", accountID(to), amount)
				commit := dv == tmv1.Vote_VOTE_YES && cv == tmv1.Vote_VOTE_YES && rng.IntN(5) > 0
				b.end(t, tx, "debit", commit)
				b.end(t, tx, "credit", commit)
				if commit {
					mu.Lock()
					committed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()

	l := b.ledger(t)
	var sum int64
	for _, a := range l.Accounts {
		sum += a.Balance
		if a.Balance < 0 {
			t.Errorf("%s overdrawn: %d", a.Id, a.Balance)
		}
	}
	if sum != accounts*initial {
		t.Errorf("money not conserved: %d, want %d", sum, accounts*initial)
	}
	if l.PendingBranches != 0 || l.CommittedBranches != int64(2*committed) ||
		l.CommittedBranches+l.AbortedBranches != 2*transfers {
		t.Errorf("counts %d pending, %d committed, %d aborted after %d committed transfers",
			l.PendingBranches, l.CommittedBranches, l.AbortedBranches, committed)
	}
	checkBranchesMatchLedger(t, b.branches(t, 0), l, initial)
}

// checkBranchesMatchLedger checks that both branches of every transfer
// share an outcome and that each balance is initial plus its committed
// amounts.
func checkBranchesMatchLedger(t *testing.T, branches []*bankv1.BranchRecord, l *bankv1.GetLedgerResponse, initial int64) {
	t.Helper()
	outcome := map[string]bankv1.BranchOutcome{}
	balance := map[string]int64{}
	for _, r := range branches {
		if o, ok := outcome[r.TxId]; ok && o != r.Outcome {
			t.Errorf("%s: branches ended %v and %v", r.TxId, o, r.Outcome)
		}
		outcome[r.TxId] = r.Outcome
		if r.Outcome == bankv1.BranchOutcome_BRANCH_OUTCOME_COMMITTED {
			balance[r.Account] += r.Amount
		}
	}
	for _, a := range l.Accounts {
		if a.Balance != initial+balance[a.Id] {
			t.Errorf("%s: balance %d, want %d from its committed branches", a.Id, a.Balance, initial+balance[a.Id])
		}
	}
}
