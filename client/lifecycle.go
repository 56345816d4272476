package client

import (
	"context"

	"google.golang.org/grpc"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// Commit freezes the branch list of transaction txID, runs two-phase commit
// and returns the applied outcome as a *Result with a nil error (with
// waitForCompletion, only once every branch acknowledged phase two). It is
// idempotent and retried with the same tx id; when retrying stops first,
// the error is an *UnknownOutcomeError carrying txID.
func (c *Client) Commit(ctx context.Context, txID string, waitForCompletion bool) (*Result, error) {
	in := &tmv1.CommitTransactionRequest{TxId: txID, WaitForCompletion: waitForCompletion}
	var out *tmv1.CommitTransactionResponse
	r := c.retry(ctx, policy{}, func(ctx context.Context, cc *grpc.ClientConn) (err error) {
		out, err = tmv1.NewTransactionServiceClient(cc).CommitTransaction(ctx, in)
		return err
	})
	if err := r.outcomeErr("", txID); err != nil {
		return nil, err
	}
	return decided(out.GetTransaction(), tmv1.TransactionState_TRANSACTION_STATE_UNSPECIFIED)
}

// Abort decides transaction txID ABORTED with reason and returns the
// aborted Result. It is idempotent and retried with the same tx id; a
// committed transaction is ErrTxCommitted and stays committed.
func (c *Client) Abort(ctx context.Context, txID, reason string) (*Result, error) {
	in := &tmv1.AbortTransactionRequest{TxId: txID, Reason: reason}
	var out *tmv1.AbortTransactionResponse
	r := c.retry(ctx, policy{}, func(ctx context.Context, cc *grpc.ClientConn) (err error) {
		out, err = tmv1.NewTransactionServiceClient(cc).AbortTransaction(ctx, in)
		return err
	})
	if err := r.outcomeErr("", txID); err != nil {
		return nil, err
	}
	return decided(out.GetTransaction(), tmv1.TransactionState_TRANSACTION_STATE_ABORTED)
}

// Get returns the record of transaction txID: one attempt, not a key's
// outcome. An unrecorded id is ErrNotFound, which is NOT an outcome: a
// one-shot transaction is unrecorded until decided, so retry Execute with
// its key to learn what happened.
func (c *Client) Get(ctx context.Context, txID string) (*tmv1.Transaction, error) {
	in := &tmv1.GetTransactionRequest{TxId: txID}
	var out *tmv1.GetTransactionResponse
	r := c.retry(ctx, policy{}, func(ctx context.Context, cc *grpc.ClientConn) (err error) {
		out, err = tmv1.NewTransactionServiceClient(cc).GetTransaction(ctx, in)
		return err
	})
	if err := r.plainErr(); err != nil {
		return nil, err
	}
	return replyTx(out.GetTransaction())
}

// List returns one page of recorded transactions matching f, in tx id
// order, and the token of the next page ("" on the last page).
func (c *Client) List(ctx context.Context, f ListFilter) ([]*tmv1.Transaction, string, error) {
	in := &tmv1.ListTransactionsRequest{State: f.State, PageSize: f.PageSize, PageToken: f.PageToken, Labels: f.Labels}
	var out *tmv1.ListTransactionsResponse
	r := c.retry(ctx, policy{}, func(ctx context.Context, cc *grpc.ClientConn) (err error) {
		out, err = tmv1.NewTransactionServiceClient(cc).ListTransactions(ctx, in)
		return err
	})
	if err := r.plainErr(); err != nil {
		return nil, "", err
	}
	return out.GetTransactions(), out.GetNextPageToken(), nil
}
