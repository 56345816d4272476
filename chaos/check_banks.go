package chaos

import (
	bankv1 "github.com/tmcluster/tmcluster/proto/bank/v1"
	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// checkConservation: the banks hold together what they started with; no
// account is overdrawn; and each account's balance is its initial balance
// plus the amounts of the branches its bank committed on it (a bank that
// applied a branch twice, or not at all, shows here).
func checkConservation(v *violations, cfg Config, ledgers []*bankv1.GetLedgerResponse, banks []string, view bankView) {
	v.markRan(CheckConservation)
	var total int64
	want := map[string]int64{} // bank/account → expected balance
	for _, brs := range view {
		for _, b := range brs {
			if b.GetOutcome() == branchCommitted {
				want[b.Bank+"/"+b.GetAccount()] += b.GetAmount()
			}
		}
	}
	for i, l := range ledgers {
		for _, a := range l.GetAccounts() {
			total += a.GetBalance()
			if a.GetBalance() < 0 {
				v.add(CheckConservation, "%s %s is overdrawn: balance %d", banks[i], a.GetId(), a.GetBalance())
			}
			if exp := cfg.InitialBalance + want[banks[i]+"/"+a.GetId()]; a.GetBalance() != exp {
				v.add(CheckConservation, "%s %s: balance %d, but its initial %d plus its committed branches make %d",
					banks[i], a.GetId(), a.GetBalance(), cfg.InitialBalance, exp)
			}
		}
	}
	if total != cfg.totalMoney() {
		v.add(CheckConservation, "the banks hold %d in all, they started with %d (%+d)",
			total, cfg.totalMoney(), total-cfg.totalMoney())
	}
}

// checkAtomicity: no transaction has a branch committed at one bank and
// another aborted or still prepared; a transaction committed anywhere is
// committed at every branch its record lists; no bank's end state
// contradicts the cluster's decision; and no record holds a heuristic
// hazard (a participant refused the decision).
func checkAtomicity(v *violations, view bankView, records map[string]*tmv1.Transaction) {
	v.markRan(CheckAtomicity)
	for _, txID := range sortedKeys(view) {
		mixedOutcomes(v, txID, view, records[txID])
	}
	for _, txID := range sortedKeys(records) {
		tx := records[txID]
		for _, b := range tx.GetBranches() {
			if b.GetState() == tmv1.BranchState_BRANCH_STATE_HEURISTIC_HAZARD {
				v.add(CheckAtomicity, "tx %s: branch %s at %s is a HEURISTIC HAZARD (%s); banks: %s",
					txID, b.GetBranchId(), b.GetParticipant(), b.GetReason(), view.describe(txID))
			}
		}
	}
}

// mixedOutcomes checks one transaction's branches at the banks against
// each other and against its record (nil if the cluster has none).
func mixedOutcomes(v *violations, txID string, view bankView, rec *tmv1.Transaction) {
	var committed, other int
	for _, b := range view[txID] {
		if b.GetOutcome() == branchCommitted {
			committed++
		} else {
			other++
		}
	}
	if committed > 0 && other > 0 {
		v.add(CheckAtomicity, "tx %s is committed at one branch and not at another: banks %s; cluster: %s",
			txID, view.describe(txID), describeTx(rec))
		return
	}
	switch {
	case committed > 0 && rec == nil:
		v.add(CheckAtomicity, "tx %s is committed at the banks (%s) but the cluster has no record of it",
			txID, view.describe(txID))
	case committed > 0 && rec.GetState() != txCommitted:
		v.add(CheckAtomicity, "tx %s is committed at the banks (%s) but the cluster decided %s",
			txID, view.describe(txID), describeTx(rec))
	case committed > 0:
		for _, b := range rec.GetBranches() {
			if _, ok := view.find(txID, b.GetParticipant(), b.GetBranchId()); !ok {
				v.add(CheckAtomicity, "tx %s is committed but its branch %s at %s is not: banks %s; cluster: %s",
					txID, b.GetBranchId(), b.GetParticipant(), view.describe(txID), describeTx(rec))
			}
		}
	case other > 0 && rec.GetState() == txCommitted:
		v.add(CheckAtomicity, "tx %s: the cluster decided COMMITTED but the banks say %s; cluster: %s",
			txID, view.describe(txID), describeTx(rec))
	}
}

// checkLiveness: after quiescence no branch is prepared, every transaction
// a bank knows is decided in the cluster (or, never recorded, aborted at
// every bank), and every record is decided and completed.
func checkLiveness(v *violations, ledgers []*bankv1.GetLedgerResponse, banks []string, view bankView, records map[string]*tmv1.Transaction) {
	v.markRan(CheckLiveness)
	for i, l := range ledgers {
		if n := l.GetPendingBranches(); n != 0 {
			v.add(CheckLiveness, "%s reports %d pending branches after quiescence", banks[i], n)
		}
	}
	for _, txID := range sortedKeys(view) {
		rec := records[txID]
		for _, b := range view[txID] {
			if b.GetOutcome() == branchPrepared {
				v.add(CheckLiveness, "tx %s: branch %s still prepared after quiescence; cluster: %s",
					txID, b, describeTx(rec))
			}
		}
		if rec == nil {
			for _, b := range view[txID] {
				if b.GetOutcome() != branchAborted {
					v.add(CheckLiveness, "tx %s has no record in the cluster, yet %s is not aborted", txID, b)
				}
			}
		}
	}
	for _, txID := range sortedKeys(records) {
		tx := records[txID]
		if st := tx.GetState(); st != txCommitted && st != txAborted {
			v.add(CheckLiveness, "tx %s is still undecided after quiescence: %s", txID, describeTx(tx))
		} else if !tx.GetCompleted() {
			v.add(CheckLiveness, "tx %s is decided but not completed after quiescence: %s; banks: %s",
				txID, describeTx(tx), view.describe(txID))
		}
	}
}
