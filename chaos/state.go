package chaos

import (
	"context"
	"fmt"
	"sync"

	"github.com/tmcluster/tmcluster/client"
	bankv1 "github.com/tmcluster/tmcluster/proto/bank/v1"
	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	"github.com/tmcluster/tmcluster/test/procs"
)

// Bank branch outcomes, shortened.
const (
	branchPrepared  = bankv1.BranchOutcome_BRANCH_OUTCOME_PREPARED
	branchCommitted = bankv1.BranchOutcome_BRANCH_OUTCOME_COMMITTED
	branchAborted   = bankv1.BranchOutcome_BRANCH_OUTCOME_ABORTED
)

// Transaction states, shortened.
const (
	txCommitted = tmv1.TransactionState_TRANSACTION_STATE_COMMITTED
	txAborted   = tmv1.TransactionState_TRANSACTION_STATE_ABORTED
)

// bankBranch is one branch as a bank reports it.
type bankBranch struct {
	Bank string
	*bankv1.BranchRecord
}

// String describes the branch for a violation's evidence.
func (b bankBranch) String() string {
	return fmt.Sprintf("%s:%s(%s %+d) %s", b.Bank, b.GetBranchId(), b.GetAccount(), b.GetAmount(),
		shortOutcome(b.GetOutcome()))
}

// shortOutcome names a bank outcome without its enum prefix.
func shortOutcome(o bankv1.BranchOutcome) string {
	switch o {
	case branchPrepared:
		return "PREPARED"
	case branchCommitted:
		return "COMMITTED"
	case branchAborted:
		return "ABORTED"
	}
	return o.String()
}

// bankView is every branch every bank knows, by tx id.
type bankView map[string][]bankBranch

// readBanks lists every bank's branches (ListBranches, paged).
func readBanks(ctx context.Context, banks []*procs.Bank) (bankView, error) {
	return collectBanks(banks, func(b *procs.Bank) ([]*bankv1.BranchRecord, error) { return b.Branches(ctx) })
}

// readBanksOf reads every bank's branches of the given transactions only.
func readBanksOf(ctx context.Context, banks []*procs.Bank, txIDs []string) (bankView, error) {
	return collectBanks(banks, func(b *procs.Bank) ([]*bankv1.BranchRecord, error) { return b.BranchesOf(ctx, txIDs) })
}

// collectBanks builds a view from what read returns for each bank.
func collectBanks(banks []*procs.Bank, read func(*procs.Bank) ([]*bankv1.BranchRecord, error)) (bankView, error) {
	view := bankView{}
	for _, b := range banks {
		brs, err := read(b)
		if err != nil {
			return nil, err
		}
		for _, br := range brs {
			view[br.GetTxId()] = append(view[br.GetTxId()], bankBranch{Bank: b.Name(), BranchRecord: br})
		}
	}
	return view, nil
}

// find returns the branch of tx txID with branchID at bank, if any bank
// reports it.
func (v bankView) find(txID, bank, branchID string) (bankBranch, bool) {
	for _, b := range v[txID] {
		if b.Bank == bank && b.GetBranchId() == branchID {
			return b, true
		}
	}
	return bankBranch{}, false
}

// describe lists a transaction's branches at the banks, for evidence.
func (v bankView) describe(txID string) string {
	if len(v[txID]) == 0 {
		return "no bank knows it"
	}
	return fmt.Sprint(v[txID])
}

// readRecords pages through ListTransactions: every record the cluster
// holds, by tx id.
func readRecords(ctx context.Context, c *client.Client) (map[string]*tmv1.Transaction, error) {
	out := map[string]*tmv1.Transaction{}
	token := ""
	for page := 0; page < 100_000; page++ {
		txs, next, err := c.List(ctx, client.ListFilter{PageSize: 1000, PageToken: token})
		if err != nil {
			return nil, fmt.Errorf("ListTransactions: %w", err)
		}
		for _, tx := range txs {
			out[tx.GetTxId()] = tx
		}
		if next == "" {
			return out, nil
		}
		token = next
	}
	return nil, fmt.Errorf("ListTransactions: more than 100,000 pages")
}

// getAll runs GetTransaction for every id, workers at a time, and returns
// the records and the errors by tx id.
func getAll(ctx context.Context, c *client.Client, ids []string, workers int) (map[string]*tmv1.Transaction, map[string]error) {
	var mu sync.Mutex
	txs, errs := map[string]*tmv1.Transaction{}, map[string]error{}
	parallel(len(ids), workers, func(i int) {
		tx, err := c.Get(ctx, ids[i])
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs[ids[i]] = err
		} else {
			txs[ids[i]] = tx
		}
	})
	return txs, errs
}

// describeTx is a record's evidence: state, reason, branches and key.
func describeTx(tx *tmv1.Transaction) string {
	if tx == nil {
		return "no record"
	}
	s := fmt.Sprintf("%s key=%s decision=%d/%d completed=%v", shortState(tx.GetState()), tx.GetIdempotencyKey(),
		tx.GetDecisionIndex(), tx.GetDecisionTerm(), tx.GetCompleted())
	if tx.GetAbortReason() != "" {
		s += fmt.Sprintf(" reason=%q", tx.GetAbortReason())
	}
	for _, b := range tx.GetBranches() {
		s += fmt.Sprintf(" [%s@%s %s]", b.GetBranchId(), b.GetParticipant(), b.GetState().String())
	}
	return s
}

// shortState names a transaction state, COMMITTED and ABORTED without
// their enum prefix.
func shortState(s tmv1.TransactionState) string {
	switch s {
	case txCommitted:
		return "COMMITTED"
	case txAborted:
		return "ABORTED"
	}
	return s.String()
}
