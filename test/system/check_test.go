package system_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tmcluster/tmcluster/client"
	bankv1 "github.com/tmcluster/tmcluster/proto/bank/v1"
	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	"github.com/tmcluster/tmcluster/test/procs"
)

// plan draws n random transfers between bank-a and bank-b; amounts up to
// maxAmount make some debits overdraw, so their bank votes NO.
func plan(n int) []*transfer {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]*transfer, n)
	for i := range out {
		tr := &transfer{from: "bank-a", to: "bank-b", amount: 1 + rng.Int64N(maxAmount), key: newKey(),
			fromAcct: fmt.Sprintf("acct-%d", rng.IntN(accounts)), toAcct: fmt.Sprintf("acct-%d", rng.IntN(accounts))}
		if rng.IntN(2) == 1 {
			tr.from, tr.to = tr.to, tr.from
		}
		out[i] = tr
	}
	return out
}

// summarize logs what the client was told, and fails on final errors: the
// SDK must turn every failure into an outcome or ErrOutcomeUnknown.
func summarize(t *testing.T, transfers []*transfer) {
	t.Helper()
	var committed, aborted, unknown int
	for _, tr := range transfers {
		switch {
		case errors.Is(tr.err, client.ErrOutcomeUnknown):
			unknown++
		case tr.err != nil:
			t.Errorf("transfer %s: final error: %v", tr.key, tr.err)
		case tr.res.Outcome == client.OutcomeCommitted:
			committed++
		default:
			aborted++
		}
	}
	t.Logf("%d transfers: %d committed, %d aborted, %d outcome unknown", len(transfers), committed, aborted, unknown)
	if committed == 0 {
		t.Errorf("no transfer committed")
	}
}

// checkConservation: the sum of all balances is what the banks started with.
func checkConservation(t *testing.T, ledgers []*bankv1.GetLedgerResponse) {
	t.Helper()
	var sum int64
	for _, l := range ledgers {
		sum += procs.Total(l)
		if l.GetPendingBranches() != 0 {
			t.Errorf("pending branches at the end: %d", l.GetPendingBranches())
		}
	}
	if want := int64(2 * accounts * initialBalance); sum != want {
		t.Errorf("money not conserved: total %d, want %d", sum, want)
	}
}

// checkCommittedDurable: every outcome the client was told is the cluster's
// record of that transaction, after the leader's loss.
func checkCommittedDurable(ctx context.Context, t *testing.T, c *client.Client, transfers []*transfer) {
	t.Helper()
	want := map[client.Outcome]tmv1.TransactionState{
		client.OutcomeCommitted: tmv1.TransactionState_TRANSACTION_STATE_COMMITTED,
		client.OutcomeAborted:   tmv1.TransactionState_TRANSACTION_STATE_ABORTED,
	}
	for _, tr := range told(transfers) {
		tx, err := c.Get(ctx, tr.res.TxID)
		if err != nil {
			t.Errorf("GetTransaction %s (told %v): %v", tr.res.TxID, tr.res.Outcome, err)
			continue
		}
		if tx.GetState() != want[tr.res.Outcome] {
			t.Errorf("tx %s: client was told %v, GetTransaction says %v", tr.res.TxID, tr.res.Outcome, tx.GetState())
		}
	}
}

// told returns the transfers that got an outcome.
func told(transfers []*transfer) []*transfer {
	var out []*transfer
	for _, tr := range transfers {
		if tr.err == nil && tr.res != nil {
			out = append(out, tr)
		}
	}
	return out
}

// checkBalances: when every transfer got an outcome, each account holds its
// initial balance plus exactly the committed transfers (each once).
func checkBalances(t *testing.T, ledgers []*bankv1.GetLedgerResponse, transfers []*transfer) {
	t.Helper()
	if len(told(transfers)) != len(transfers) {
		t.Log("some outcomes unknown: per-account balances not checked")
		return
	}
	want := map[string]int64{}
	for _, tr := range told(transfers) {
		if tr.res.Outcome == client.OutcomeCommitted {
			want[tr.from+"/"+tr.fromAcct] -= tr.amount
			want[tr.to+"/"+tr.toAcct] += tr.amount
		}
	}
	for i, bank := range []string{"bank-a", "bank-b"} {
		for _, a := range ledgers[i].GetAccounts() {
			if exp := initialBalance + want[bank+"/"+a.GetId()]; a.GetBalance() != exp {
				t.Errorf("%s %s: balance %d, want %d", bank, a.GetId(), a.GetBalance(), exp)
			}
		}
	}
}
