package chaos

import (
	"fmt"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// clientView is what the clients were told, by key.
type clientView struct {
	byKey map[string][]*Op // every operation of a key, in invocation order
	final map[string]*Op   // the last final re-execution of a key
}

// newClientView indexes the history by key.
func newClientView(ops []*Op) clientView {
	cv := clientView{byKey: map[string][]*Op{}, final: map[string]*Op{}}
	for _, op := range ops {
		cv.byKey[op.Key] = append(cv.byKey[op.Key], op)
		if op.Kind == OpFinal {
			cv.final[op.Key] = op
		}
	}
	return cv
}

// toldCommitted returns the tx ids some client was told COMMITTED, each
// with the first operation that was told so.
func (cv clientView) toldCommitted() map[string]*Op {
	out := map[string]*Op{}
	for _, key := range sortedKeys(cv.byKey) {
		for _, op := range cv.byKey[key] {
			if op.Outcome == OutcomeCommitted && out[op.TxID] == nil {
				out[op.TxID] = op
			}
		}
	}
	return out
}

// describeOp is an operation's evidence.
func describeOp(op *Op) string {
	s := fmt.Sprintf("#%d %s via %s at %s→%s: %s tx=%s", op.Seq, op.Kind, op.Node,
		op.Start.Format("15:04:05.000"), op.End.Format("15:04:05.000"), op.Outcome, op.TxID)
	if op.AbortReason != "" {
		s += fmt.Sprintf(" reason=%q", op.AbortReason)
	}
	if op.Error != "" {
		s += fmt.Sprintf(" err=%q", op.Error)
	}
	return s
}

// checkDurability: every transaction a client was told COMMITTED is
// COMMITTED in the cluster (GetTransaction) and committed at both its
// banks, on the right accounts with the right amounts.
func checkDurability(v *violations, cv clientView, got map[string]*tmv1.Transaction, getErrs map[string]error, view bankView) {
	v.markRan(CheckDurability)
	told := cv.toldCommitted()
	for _, txID := range sortedKeys(told) {
		op := told[txID]
		switch tx := got[txID]; {
		case getErrs[txID] != nil:
			v.add(CheckDurability, "tx %s (key %s) was told COMMITTED (%s) but GetTransaction fails: %v",
				txID, op.Key, describeOp(op), getErrs[txID])
		case tx.GetState() != txCommitted:
			v.add(CheckDurability, "tx %s (key %s) was told COMMITTED (%s) but the cluster says %s",
				txID, op.Key, describeOp(op), describeTx(tx))
		}
		r := op.Request
		for _, want := range []struct {
			bank, branch, acct string
			amount             int64
		}{{r.FromBank, "debit", r.FromAcct, -r.Amount}, {r.ToBank, "credit", r.ToAcct, r.Amount}} {
			b, ok := view.find(txID, want.bank, want.branch)
			if !ok || b.GetOutcome() != branchCommitted || b.GetAccount() != want.acct || b.GetAmount() != want.amount {
				v.add(CheckDurability, "tx %s (key %s) was told COMMITTED (%s) but %s's %s branch (%s %+d) is not committed there: banks %s",
					txID, op.Key, describeOp(op), want.bank, want.branch, want.acct, want.amount, view.describe(txID))
			}
		}
	}
}

// checkExactlyOnce: every key has a final outcome; every outcome a client
// was told for a key is that final outcome (same decision, same tx id); no
// key has two committed transactions, neither in the cluster's records nor
// at the banks; and no retry was refused as a reused key.
func checkExactlyOnce(v *violations, cv clientView, view bankView, records map[string]*tmv1.Transaction) {
	v.markRan(CheckExactlyOnce)
	committedByKey := map[string]map[string]string{} // key → tx id → who says committed
	for _, txID := range sortedKeys(records) {
		if tx := records[txID]; tx.GetState() == txCommitted && tx.GetIdempotencyKey() != "" {
			noteCommitted(committedByKey, tx.GetIdempotencyKey(), txID, "cluster")
		}
	}
	for _, txID := range sortedKeys(view) {
		for _, b := range view[txID] {
			if b.GetOutcome() == branchCommitted && records[txID] != nil {
				noteCommitted(committedByKey, records[txID].GetIdempotencyKey(), txID, "banks")
			}
		}
	}
	for _, key := range sortedKeys(cv.byKey) {
		final := cv.final[key]
		if final == nil || !final.Told() {
			v.add(CheckExactlyOnce, "key %s has no final outcome: %s", key, lastOp(cv.byKey[key]))
		}
		for _, op := range cv.byKey[key] {
			if op.Reason == tmv1.ReasonIdempotencyKeyReused {
				v.add(CheckExactlyOnce, "key %s: the same request was refused as a reused key: %s", key, describeOp(op))
			}
			if final != nil && final.Told() && op.Told() && (op.Outcome != final.Outcome || op.TxID != final.TxID) {
				v.add(CheckExactlyOnce, "key %s: the client was told %s but its final outcome is %s",
					key, describeOp(op), describeOp(final))
			}
		}
		committed := committedByKey[key]
		if len(committed) > 1 {
			v.add(CheckExactlyOnce, "key %s has %d committed transactions: %v", key, len(committed), committed)
		}
		if final != nil && final.Told() {
			for txID, who := range committed {
				if final.Outcome != OutcomeCommitted || txID != final.TxID {
					v.add(CheckExactlyOnce, "key %s: tx %s is committed (%s) but the key's final outcome is %s",
						key, txID, who, describeOp(final))
				}
			}
		}
	}
}

// noteCommitted records that who (cluster, banks) says txID of key is
// committed.
func noteCommitted(m map[string]map[string]string, key, txID, who string) {
	if m[key] == nil {
		m[key] = map[string]string{}
	}
	if prev := m[key][txID]; prev == "" {
		m[key][txID] = who
	} else if prev != who {
		m[key][txID] = prev + "+" + who
	}
}

// lastOp describes the last operation of a key.
func lastOp(ops []*Op) string {
	if len(ops) == 0 {
		return "no operation"
	}
	return describeOp(ops[len(ops)-1])
}
