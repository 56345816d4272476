package system_test

import (
	"context"
	"testing"

	"github.com/tmcluster/tmcluster/client"
	bankv1 "github.com/tmcluster/tmcluster/proto/bank/v1"
	"github.com/tmcluster/tmcluster/test/procs"
)

// outcomes maps tx id → bank name → the bank's branch of that transaction.
type outcomes map[string]map[string]*bankv1.BranchRecord

const (
	branchCommitted = bankv1.BranchOutcome_BRANCH_OUTCOME_COMMITTED
	branchAborted   = bankv1.BranchOutcome_BRANCH_OUTCOME_ABORTED
)

// checkBanksAgree reads every branch both banks know (ListBranches) and
// checks that the banks agree with each other and with the client.
func checkBanksAgree(ctx context.Context, t *testing.T, cl *procs.Cluster, transfers []*transfer) {
	t.Helper()
	byTx := collectBranches(ctx, t, cl)
	seen := map[string]bool{}
	for _, tr := range told(transfers) {
		seen[tr.res.TxID] = true
	}
	unseen := 0
	for txID := range byTx {
		if !seen[txID] {
			unseen++
		}
	}
	t.Logf("the banks know %d transactions, %d of them never reported to the client (attempts lost with the leader)",
		len(byTx), unseen)
	checkAtomic(t, byTx)
	checkToldAtBanks(t, byTx, transfers)
	if len(seen) == len(transfers) {
		checkNoUntoldCommit(t, byTx, seen)
	}
}

// collectBranches lists every bank's branches, by transaction.
func collectBranches(ctx context.Context, t *testing.T, cl *procs.Cluster) outcomes {
	t.Helper()
	byTx := outcomes{}
	for _, b := range cl.Banks() {
		branches, err := b.Branches(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, br := range branches {
			if byTx[br.GetTxId()] == nil {
				byTx[br.GetTxId()] = map[string]*bankv1.BranchRecord{}
			}
			byTx[br.GetTxId()][b.Name()] = br
		}
	}
	return byTx
}

// checkAtomic: after quiescence no branch is still prepared, and a
// transaction committed at one bank is committed at both (a branch that
// voted NO may be aborted or absent, but then nothing committed).
func checkAtomic(t *testing.T, byTx outcomes) {
	t.Helper()
	for txID, at := range byTx {
		committed := 0
		for bank, br := range at {
			switch br.GetOutcome() {
			case branchCommitted:
				committed++
			case branchAborted:
			default:
				t.Errorf("tx %s: branch %s at %s is %v after quiescence", txID, br.GetBranchId(), bank, br.GetOutcome())
			}
		}
		if committed > 0 && committed != 2 {
			t.Errorf("atomicity: tx %s committed at %d of 2 banks: %v", txID, committed, at)
		}
	}
}

// checkToldAtBanks: every transaction the client was told COMMITTED is
// committed at both banks; every one told ABORTED is committed at neither.
func checkToldAtBanks(t *testing.T, byTx outcomes, transfers []*transfer) {
	t.Helper()
	for _, tr := range told(transfers) {
		wantCommitted := tr.res.Outcome == client.OutcomeCommitted
		for _, bank := range []string{tr.from, tr.to} {
			br := byTx[tr.res.TxID][bank]
			if (br.GetOutcome() == branchCommitted) != wantCommitted {
				t.Errorf("tx %s: client told %v, %s has %v", tr.res.TxID, tr.res.Outcome, bank, br)
			}
		}
	}
}

// checkNoUntoldCommit: when every transfer got an outcome, no transaction
// the client was not told about committed (a retried key paid twice).
func checkNoUntoldCommit(t *testing.T, byTx outcomes, seen map[string]bool) {
	t.Helper()
	for txID, at := range byTx {
		for bank, br := range at {
			if !seen[txID] && br.GetOutcome() == branchCommitted {
				t.Errorf("exactly once: tx %s committed at %s but no transfer was told it", txID, bank)
			}
		}
	}
}
