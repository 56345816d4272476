package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.etcd.io/bbolt"

	"github.com/tmcluster/tmcluster/client/participant"
)

// Amount limits: one branch moves at most maxAmount, and no balance (with
// its pending credits) may pass maxBalance, so int64 never overflows.
const (
	maxAmount  = 1_000_000_000_000
	maxBalance = 1 << 62
)

// bucketAccounts maps an account id to its account (JSON).
var bucketAccounts = []byte("bank/accounts")

// account is one ledger account. Debits is the sum (≤ 0) of the debits of
// prepared branches, reserved against Balance; Credits is the sum (≥ 0) of
// prepared credits, which are not spendable until committed.
type account struct {
	Balance int64 `json:"balance"`
	Debits  int64 `json:"debits"`
	Credits int64 `json:"credits"`
}

// available is what a new debit may take.
func (a account) available() int64 { return a.Balance + a.Debits }

// transfer is a branch payload: {"account":"acct-3","amount":-250}.
type transfer struct {
	Account string `json:"account"`
	Amount  int64  `json:"amount"`
}

// parseTransfer decodes a payload strictly: unknown fields or a missing
// account are errors.
func parseTransfer(payload []byte) (transfer, error) {
	var t transfer
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return t, fmt.Errorf("bad payload: %w", err)
	}
	if dec.More() {
		return t, errors.New("bad payload: trailing data")
	}
	if t.Account == "" {
		return t, errors.New("bad payload: no account")
	}
	return t, nil
}

// bank is the ledger's participant.Hooks. Its hooks are pure functions of
// the transaction and the branch, as the kit requires.
type bank struct{}

// Prepare reserves a debit or stages a credit. It votes NO for a bad
// payload, an unknown account, an amount out of range or insufficient
// funds, and READ_ONLY for amount 0.
func (bank) Prepare(tx *bbolt.Tx, b participant.Branch) (participant.Vote, string, error) {
	t, err := parseTransfer(b.Payload)
	if err != nil {
		return participant.VoteNo, err.Error(), nil
	}
	acct, ok, err := getAccount(tx, t.Account)
	switch {
	case err != nil:
		return participant.VoteUnspecified, "", err
	case !ok:
		return participant.VoteNo, "unknown account " + strconv.Quote(t.Account), nil
	case t.Amount == 0:
		return participant.VoteReadOnly, "", nil
	case t.Amount < -maxAmount || t.Amount > maxAmount:
		return participant.VoteNo, fmt.Sprintf("amount %d out of range", t.Amount), nil
	case t.Amount < 0 && acct.available()+t.Amount < 0:
		return participant.VoteNo, fmt.Sprintf("insufficient funds: %s has %d available, debit of %d",
			t.Account, acct.available(), -t.Amount), nil
	case t.Amount > 0 && acct.Balance+acct.Credits > maxBalance-t.Amount:
		return participant.VoteNo, fmt.Sprintf("credit of %d would pass the balance limit", t.Amount), nil
	}
	if t.Amount < 0 {
		acct.Debits += t.Amount
	} else {
		acct.Credits += t.Amount
	}
	return participant.VoteYes, "", putAccount(tx, t.Account, acct)
}

// Commit applies the amount and drops its reservation.
func (bank) Commit(tx *bbolt.Tx, b participant.Branch) error {
	return settle(tx, b, true)
}

// Abort drops the reservation.
func (bank) Abort(tx *bbolt.Tx, b participant.Branch) error {
	return settle(tx, b, false)
}

func settle(tx *bbolt.Tx, b participant.Branch, apply bool) error {
	t, err := parseTransfer(b.Payload)
	if err != nil {
		return err // cannot happen: the payload voted YES
	}
	acct, ok, err := getAccount(tx, t.Account)
	if err != nil || !ok {
		return errors.Join(err, fmt.Errorf("account %q vanished", t.Account))
	}
	if t.Amount < 0 {
		acct.Debits -= t.Amount
	} else {
		acct.Credits -= t.Amount
	}
	if apply {
		acct.Balance += t.Amount
	}
	return putAccount(tx, t.Account, acct)
}

func getAccount(tx *bbolt.Tx, id string) (account, bool, error) {
	var a account
	bk := tx.Bucket(bucketAccounts)
	if bk == nil {
		return a, false, errors.New("no accounts bucket")
	}
	v := bk.Get([]byte(id))
	if v == nil {
		return a, false, nil
	}
	a, err := decodeAccount(id, v)
	return a, err == nil, err
}

func decodeAccount(id string, v []byte) (account, error) {
	var a account
	if err := json.Unmarshal(v, &a); err != nil {
		return a, fmt.Errorf("decode account %q: %w", id, err)
	}
	return a, nil
}

func putAccount(tx *bbolt.Tx, id string, a account) error {
	v, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketAccounts).Put([]byte(id), v)
}

// ensureAccounts creates accounts acct-0 … acct-(n-1) with balance initial,
// unless the ledger already exists; it returns how many accounts the ledger
// has, so the caller can warn when that is not n.
func ensureAccounts(db *bbolt.DB, n int, initial int64) (int, error) {
	var have int
	err := db.Update(func(tx *bbolt.Tx) error {
		if bk := tx.Bucket(bucketAccounts); bk != nil {
			have = bk.Stats().KeyN
			return nil
		}
		if _, err := tx.CreateBucket(bucketAccounts); err != nil {
			return err
		}
		for i := range n {
			if err := putAccount(tx, accountID(i), account{Balance: initial}); err != nil {
				return err
			}
		}
		have = n
		return nil
	})
	return have, err
}

func accountID(i int) string { return "acct-" + strconv.Itoa(i) }

// lessID orders account ids naturally: acct-2 before acct-10.
func lessID(a, b string) int {
	if len(a) != len(b) && strings.HasPrefix(a, "acct-") && strings.HasPrefix(b, "acct-") {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}
