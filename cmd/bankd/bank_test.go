package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/tmcluster/tmcluster/client/participant"
)

// openLedger opens a bbolt file with n accounts holding initial each.
func openLedger(t *testing.T, n int, initial int64) *bbolt.DB {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "bank.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := ensureAccounts(db, n, initial); err != nil {
		t.Fatal(err)
	}
	return db
}

func branch(id, account string, amount int64) participant.Branch {
	return participant.Branch{TxID: "tx-" + id, BranchID: id,
		Payload: fmt.Appendf(nil, `{"account":%q,"amount":%d}`, account, amount)}
}

// hook runs one hook in its own transaction; a hook error rolls it back,
// as the kit does.
func prepare(t *testing.T, db *bbolt.DB, b participant.Branch) (participant.Vote, string) {
	t.Helper()
	var vote participant.Vote
	var reason string
	err := db.Update(func(tx *bbolt.Tx) (err error) {
		vote, reason, err = bank{}.Prepare(tx, b)
		return err
	})
	if err != nil {
		t.Fatalf("Prepare(%s): %v", b.Payload, err)
	}
	return vote, reason
}

func settleHook(t *testing.T, db *bbolt.DB, b participant.Branch, commit bool) {
	t.Helper()
	err := db.Update(func(tx *bbolt.Tx) error {
		if commit {
			return bank{}.Commit(tx, b)
		}
		return bank{}.Abort(tx, b)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func accountOf(t *testing.T, db *bbolt.DB, id string) account {
	t.Helper()
	var a account
	if err := db.View(func(tx *bbolt.Tx) (err error) {
		a, _, err = getAccount(tx, id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestPrepareVotes(t *testing.T) {
	t.Parallel()
	db := openLedger(t, 2, 100)
	for _, tc := range []struct {
		payload string
		vote    participant.Vote
		reason  string
	}{
		{`{"account":"acct-0","amount":-100}`, participant.VoteYes, ""},
		{`{"account":"acct-1","amount":-101}`, participant.VoteNo, "insufficient funds"},
		{`{"account":"acct-1","amount":0}`, participant.VoteReadOnly, ""},
		{`{"account":"acct-7","amount":-1}`, participant.VoteNo, "unknown account"},
		{`{"account":"acct-1","amount":5`, participant.VoteNo, "bad payload"},
		{`{"acount":"acct-1","amount":5}`, participant.VoteNo, "bad payload"},
		{`{"amount":5}`, participant.VoteNo, "no account"},
		{`{"account":"acct-1","amount":1}{}`, participant.VoteNo, "trailing"},
		{`{"account":"acct-1","amount":-2000000000000}`, participant.VoteNo, "out of range"},
		{`{"account":"acct-1","amount":250}`, participant.VoteYes, ""},
	} {
		b := participant.Branch{TxID: "tx", BranchID: tc.payload, Payload: []byte(tc.payload)}
		vote, reason := prepare(t, db, b)
		if vote != tc.vote || !strings.Contains(reason, tc.reason) {
			t.Errorf("Prepare(%s) = %v %q, want %v %q", tc.payload, vote, reason, tc.vote, tc.reason)
		}
	}
}

func TestReservationsCountAndCreditsDoNot(t *testing.T) {
	t.Parallel()
	db := openLedger(t, 1, 100)
	if v, _ := prepare(t, db, branch("d1", "acct-0", -60)); v != participant.VoteYes {
		t.Fatalf("first debit voted %v", v)
	}
	// 40 left: a pending credit does not make 50 available.
	if v, _ := prepare(t, db, branch("c1", "acct-0", 500)); v != participant.VoteYes {
		t.Fatalf("credit voted %v", v)
	}
	if v, reason := prepare(t, db, branch("d2", "acct-0", -50)); v != participant.VoteNo {
		t.Fatalf("overdraft through a reservation voted %v (%s)", v, reason)
	}
	if v, _ := prepare(t, db, branch("d3", "acct-0", -40)); v != participant.VoteYes {
		t.Fatalf("debit of what is left voted %v", v)
	}
	if a := accountOf(t, db, "acct-0"); a != (account{Balance: 100, Debits: -100, Credits: 500}) {
		t.Errorf("account %+v", a)
	}
	// Releasing a reservation frees the funds.
	settleHook(t, db, branch("d1", "acct-0", -60), false)
	if v, _ := prepare(t, db, branch("d4", "acct-0", -60)); v != participant.VoteYes {
		t.Fatalf("debit after the abort voted %v", v)
	}
}

func TestCommitAndAbortBalances(t *testing.T) {
	t.Parallel()
	db := openLedger(t, 2, 100)
	for _, b := range []participant.Branch{
		branch("d1", "acct-0", -30), branch("c1", "acct-1", 30),
		branch("d2", "acct-0", -50), branch("c2", "acct-1", 50),
	} {
		if v, _ := prepare(t, db, b); v != participant.VoteYes {
			t.Fatalf("%s voted %v", b.Payload, v)
		}
	}
	settleHook(t, db, branch("d1", "acct-0", -30), true)
	settleHook(t, db, branch("c1", "acct-1", 30), true)
	settleHook(t, db, branch("d2", "acct-0", -50), false)
	settleHook(t, db, branch("c2", "acct-1", 50), false)
	if a := accountOf(t, db, "acct-0"); a != (account{Balance: 70}) {
		t.Errorf("acct-0 %+v, want balance 70 and nothing pending", a)
	}
	if a := accountOf(t, db, "acct-1"); a != (account{Balance: 130}) {
		t.Errorf("acct-1 %+v, want balance 130 and nothing pending", a)
	}
}

func TestAccountsCreatedOnce(t *testing.T) {
	t.Parallel()
	db := openLedger(t, 3, 100)
	if v, _ := prepare(t, db, branch("c1", "acct-2", 5)); v != participant.VoteYes {
		t.Fatal(v)
	}
	settleHook(t, db, branch("c1", "acct-2", 5), true)
	have, err := ensureAccounts(db, 5, 999)
	if err != nil || have != 3 {
		t.Fatalf("ensureAccounts on an existing ledger = %d, %v; want 3", have, err)
	}
	if a := accountOf(t, db, "acct-2"); a.Balance != 105 {
		t.Errorf("balance %d after re-opening, want 105", a.Balance)
	}
}

func TestLessIDIsNatural(t *testing.T) {
	t.Parallel()
	ids := []string{"acct-10", "acct-2", "acct-0", "acct-1"}
	slices.SortFunc(ids, lessID)
	if got := strings.Join(ids, ","); got != "acct-0,acct-1,acct-2,acct-10" {
		t.Errorf("sorted %s", got)
	}
}
