package chaos

import (
	"strings"
	"testing"
	"time"

	bankv1 "github.com/tmcluster/tmcluster/proto/bank/v1"
	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// The checker is tested on made-up histories and states: a clean run passes
// every check, and each kind of violation is caught by the check that owns
// it, so a green chaos run means something.

// world is a made-up end state: one transfer of 100 from bank-0/acct-0 to
// bank-1/acct-1, committed everywhere and told so.
type world struct {
	cfg     Config
	ledgers []*bankv1.GetLedgerResponse
	view    bankView
	records map[string]*tmv1.Transaction
	ops     []*Op
}

// cleanWorld returns a world in which every check passes.
func cleanWorld() *world {
	cfg := Config{Banks: 2, Accounts: 2, InitialBalance: 1000}
	tr := Transfer{FromBank: "bank-0", FromAcct: "acct-0", ToBank: "bank-1", ToAcct: "acct-1", Amount: 100}
	now := time.Now()
	return &world{
		cfg: cfg,
		ledgers: []*bankv1.GetLedgerResponse{
			{Accounts: []*bankv1.Account{{Id: "acct-0", Balance: 900}, {Id: "acct-1", Balance: 1000}}},
			{Accounts: []*bankv1.Account{{Id: "acct-0", Balance: 1000}, {Id: "acct-1", Balance: 1100}}},
		},
		view: bankView{"tx-1": {
			{Bank: "bank-0", BranchRecord: &bankv1.BranchRecord{TxId: "tx-1", BranchId: "debit", Account: "acct-0", Amount: -100, Outcome: branchCommitted}},
			{Bank: "bank-1", BranchRecord: &bankv1.BranchRecord{TxId: "tx-1", BranchId: "credit", Account: "acct-1", Amount: 100, Outcome: branchCommitted}},
		}},
		records: map[string]*tmv1.Transaction{"tx-1": {TxId: "tx-1", State: txCommitted, IdempotencyKey: "k1", Completed: true,
			Branches: []*tmv1.Branch{{BranchId: "debit", Participant: "bank-0"}, {BranchId: "credit", Participant: "bank-1"}}}},
		ops: []*Op{
			{Seq: 1, Kind: OpTransfer, Key: "k1", Request: tr, Start: now, End: now, TxID: "tx-1", Outcome: OutcomeCommitted},
			{Seq: 2, Kind: OpFinal, Key: "k1", Request: tr, Start: now, End: now, TxID: "tx-1", Outcome: OutcomeCommitted},
		},
	}
}

// check runs every end check (agreement needs processes and is not here).
func (w *world) check() *violations {
	v := newViolations()
	banks := []string{"bank-0", "bank-1"}
	cv := newClientView(w.ops)
	checkConservation(v, w.cfg, w.ledgers, banks, w.view)
	checkAtomicity(v, w.view, w.records)
	checkDurability(v, cv, w.records, map[string]error{}, w.view)
	checkExactlyOnce(v, cv, w.view, w.records)
	checkLiveness(v, w.ledgers, banks, w.view, w.records)
	checkService(v, w.ops)
	return v
}

func TestChecksPassCleanWorld(t *testing.T) {
	v := cleanWorld().check()
	for _, c := range v.results(nil) {
		if c.Name != CheckAgreement && !c.Pass {
			t.Errorf("%s: %v", c.Name, c.Details)
		}
	}
}

func TestChecksCatchViolations(t *testing.T) {
	branch := func(w *world, i int) *bankv1.BranchRecord { return w.view["tx-1"][i].BranchRecord }
	cases := []struct {
		name   string
		mutate func(w *world)
		want   string // the check that must fail
		detail string // a word its evidence must hold
	}{
		{"money created", func(w *world) { w.ledgers[1].Accounts[0].Balance += 5 }, CheckConservation, "started with"},
		{"applied twice", func(w *world) { w.ledgers[0].Accounts[0].Balance -= 100; w.ledgers[1].Accounts[0].Balance += 100 }, CheckConservation, "committed branches"},
		{"half committed", func(w *world) { branch(w, 1).Outcome = branchAborted; w.ledgers[1].Accounts[1].Balance = 1000 }, CheckAtomicity, "not at another"},
		{"committed against an abort", func(w *world) { w.records["tx-1"].State = txAborted }, CheckAtomicity, "decided"},
		{"branch missing", func(w *world) { w.view["tx-1"] = w.view["tx-1"][:1]; w.ledgers[1].Accounts[1].Balance = 1000 }, CheckAtomicity, "is not"},
		{"hazard", func(w *world) {
			w.records["tx-1"].Branches[0].State = tmv1.BranchState_BRANCH_STATE_HEURISTIC_HAZARD
		}, CheckAtomicity, "HAZARD"},
		{"lost commit", func(w *world) { w.records["tx-1"].State = txAborted }, CheckDurability, "told COMMITTED"},
		{"wrong amount", func(w *world) {
			branch(w, 1).Amount = 99
			w.ledgers[1].Accounts[1].Balance = 1099
			w.ledgers[0].Accounts[0].Balance = 901
		}, CheckDurability, "credit"},
		{"told otherwise", func(w *world) { w.ops[0].Outcome = OutcomeAborted }, CheckExactlyOnce, "final outcome"},
		{"paid twice", func(w *world) {
			w.records["tx-2"] = &tmv1.Transaction{TxId: "tx-2", State: txCommitted, IdempotencyKey: "k1", Completed: true}
		}, CheckExactlyOnce, "2 committed"},
		{"no final outcome", func(w *world) { w.ops[1].Outcome = OutcomeUnknown }, CheckExactlyOnce, "no final outcome"},
		{"key reused", func(w *world) { w.ops[0].Reason = tmv1.ReasonIdempotencyKeyReused }, CheckExactlyOnce, "reused"},
		{"stuck prepared", func(w *world) {
			branch(w, 0).Outcome = branchPrepared
			w.ledgers[0].PendingBranches = 1
		}, CheckLiveness, "still prepared"},
		{"undecided record", func(w *world) {
			w.records["tx-3"] = &tmv1.Transaction{TxId: "tx-3", State: tmv1.TransactionState_TRANSACTION_STATE_PREPARING}
		}, CheckLiveness, "undecided"},
		{"incomplete record", func(w *world) { w.records["tx-1"].Completed = false }, CheckLiveness, "not completed"},
		{"unrecorded commit", func(w *world) { delete(w.records, "tx-1") }, CheckLiveness, "no record"},
		{"final error", func(w *world) { w.ops[0].Outcome = OutcomeError }, CheckService, "final error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := cleanWorld()
			tc.mutate(w)
			v := w.check()
			if v.count(tc.want) == 0 {
				t.Fatalf("%s did not catch it", tc.want)
			}
			details := strings.Join(v.details[tc.want], "\n")
			if !strings.Contains(details, tc.detail) {
				t.Errorf("%s evidence lacks %q:\n%s", tc.want, tc.detail, details)
			}
		})
	}
}

func TestLogFindings(t *testing.T) {
	for line, want := range map[string]string{
		"=== procs: exited at 2026-11-26T00:17:07Z: signal: killed":                    "",
		"=== procs: exited at 2026-11-26T00:17:07Z: exit status 2":                     CheckService,
		"=== procs: exited at 2026-11-26T00:17:07Z: exit status 0":                     CheckService,
		"panic: runtime error: index out of range":                                     CheckService,
		`time=… level=ERROR msg="HEURISTIC HAZARD: participant refused the decision"`:  CheckAtomicity,
		`time=… level=ERROR msg="participant: ATOMICITY ALARM: resolved outcome …"`:    CheckAtomicity,
		`time=… level=ERROR msg="participant: cannot end branch"`:                      CheckService,
		`2026-11-26T00:16:45.118Z [ERROR] raft.n1: failed to appendEntries to: peer=…`: "",
		`time=… level=WARN msg="decision outcome unknown" node=n1 tx_id=tx-d-4e55-2fa`: "",
	} {
		if got := logFinding(line); got != want {
			t.Errorf("logFinding(%q) = %q, want %q", line, got, want)
		}
	}
}

func TestReasonGroup(t *testing.T) {
	for in, want := range map[string]string{
		`branch debit: prepare failed: rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:39505: connect: connection refused"`: "branch debit: prepare failed: Unavailable: connection refused",
		"branch credit: prepare failed: rpc error: code = Unavailable desc = error reading from server: EOF":                                                                                  "branch credit: prepare failed: Unavailable: EOF",
		"branch credit: voted NO: credit of 5 would pass the balance limit":                                                                                                                   "branch credit: voted NO: credit of N would pass the balance limit",
	} {
		if got := reasonGroup(in); got != want {
			t.Errorf("reasonGroup(%q) = %q, want %q", in, got, want)
		}
	}
}
