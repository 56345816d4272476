package client

import (
	"fmt"
	"strconv"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// Outcome is the decision of a transaction: committed or aborted. It is
// reported only once the decision is applied in the cluster and never
// changes afterwards.
type Outcome int

// The two outcomes. The zero Outcome is not one of them.
const (
	// OutcomeCommitted: every branch voted YES (or READ_ONLY) and the commit
	// decision is durable in the cluster.
	OutcomeCommitted Outcome = iota + 1
	// OutcomeAborted: the abort decision is durable; Result.AbortReason says
	// why.
	OutcomeAborted
)

// String returns "committed" or "aborted".
func (o Outcome) String() string {
	switch o {
	case OutcomeCommitted:
		return "committed"
	case OutcomeAborted:
		return "aborted"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// Result is the decided outcome of a transaction, as the cluster applied it.
type Result struct {
	// TxID is the transaction id the cluster minted.
	TxID string
	// Outcome is OutcomeCommitted or OutcomeAborted, never anything else.
	Outcome Outcome
	// AbortReason says why, when Outcome is OutcomeAborted.
	AbortReason string
	// Key is the idempotency key the transaction is bound to (the one the
	// SDK sent for Execute), empty for an unkeyed transaction.
	Key string
	// Tx is the full transaction record of the reply.
	Tx *tmv1.Transaction
}

// UnknownOutcomeError is returned when retrying stopped — the caller's
// context ended, Config.MaxRetryElapsed passed, or the key grew older than
// Config.KeyRetention — while a request that may have been applied had no
// answer. It matches ErrOutcomeUnknown with errors.Is. Retry later with Key
// (Execute, Begin) or TxID (Commit, Abort, Enlist) to learn the outcome.
type UnknownOutcomeError struct {
	// Key is the idempotency key the attempts carried; empty for calls
	// addressed by tx id.
	Key string
	// TxID is the transaction id, when known (from the request, or from an
	// OUTCOME_UNKNOWN reply's metadata).
	TxID string
	// Err is why retrying stopped: the context's error, the last attempt's
	// error, or ErrKeyExpired, joined with the last attempt's error.
	Err error
}

// Error describes the error in one line, key and tx id included.
func (e *UnknownOutcomeError) Error() string {
	msg := "tmcluster: outcome unknown"
	if e.Key != "" {
		msg += " (key " + e.Key + ")"
	}
	if e.TxID != "" {
		msg += " (tx " + e.TxID + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns Err.
func (e *UnknownOutcomeError) Unwrap() error { return e.Err }

// Is reports whether target is ErrOutcomeUnknown.
func (e *UnknownOutcomeError) Is(target error) bool { return target == ErrOutcomeUnknown }

// decided turns a reply's transaction into a Result. want, when not
// UNSPECIFIED, is the only state the call may return.
func decided(tx *tmv1.Transaction, want tmv1.TransactionState) (*Result, error) {
	if tx == nil {
		return nil, fmt.Errorf("%w: reply without a transaction", ErrProtocol)
	}
	st := tx.GetState()
	if want != tmv1.TransactionState_TRANSACTION_STATE_UNSPECIFIED && st != want {
		return nil, fmt.Errorf("%w: transaction %s is %s, want %s", ErrProtocol, tx.GetTxId(), st, want)
	}
	res := &Result{TxID: tx.GetTxId(), AbortReason: tx.GetAbortReason(), Key: tx.GetIdempotencyKey(), Tx: tx}
	switch st {
	case tmv1.TransactionState_TRANSACTION_STATE_COMMITTED:
		res.Outcome = OutcomeCommitted
	case tmv1.TransactionState_TRANSACTION_STATE_ABORTED:
		res.Outcome = OutcomeAborted
	default:
		return nil, fmt.Errorf("%w: transaction %s is %s, not decided", ErrProtocol, tx.GetTxId(), st)
	}
	return res, nil
}
