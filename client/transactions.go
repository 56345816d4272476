package client

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// Branch is one participant's part of a transaction.
type Branch struct {
	// ID is unique within its transaction.
	ID string
	// Participant is a registered participant name, never an address.
	Participant string
	// Payload is handed to the participant's Prepare as it is.
	Payload []byte
}

// ExecuteRequest is a one-shot payment: branches inline, prepare all,
// decide, reply.
type ExecuteRequest struct {
	// Branches are the transaction's branches; at least one.
	Branches []Branch
	// IdempotencyKey binds the request to one transaction (AIP-155). Empty:
	// the SDK mints a UUIDv7, reported in Result.Key. Retry a call whose
	// outcome is unknown with the key from its UnknownOutcomeError.
	IdempotencyKey string
	// Timeout is the time until the transaction's deadline; zero means the
	// cluster's default. Each attempt waits at least Timeout plus a second.
	Timeout time.Duration
	// Labels are stored with the transaction, for ListTransactions.
	Labels map[string]string
	// WaitForCompletion asks for the reply only once every branch has
	// acknowledged phase two.
	WaitForCompletion bool
}

// BeginRequest starts an interactive transaction: like ExecuteRequest
// without WaitForCompletion. Branches may also be added later with Enlist.
type BeginRequest struct {
	Branches       []Branch
	IdempotencyKey string
	Timeout        time.Duration
	Labels         map[string]string
}

// ListFilter selects and pages ListTransactions.
type ListFilter struct {
	// State keeps only transactions in this state; UNSPECIFIED keeps all.
	State tmv1.TransactionState
	// Labels keeps only transactions carrying every one of these labels.
	Labels map[string]string
	// PageSize is at most this many per page (cluster default 100, at most
	// 1000).
	PageSize int32
	// PageToken continues from a previous call's next page token.
	PageToken string
}

// Execute runs a one-shot transaction and returns its applied outcome:
// committed, or aborted with a reason, as a *Result with a nil error. It
// always sends an idempotency key (minting one when req has none) and
// retries unknown outcomes with that key; when retrying stops first, the
// error is an *UnknownOutcomeError carrying the key.
func (c *Client) Execute(ctx context.Context, req ExecuteRequest) (*Result, error) {
	key, born, err := idempotencyKey(req.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	in := &tmv1.ExecuteTransactionRequest{
		Branches: wireBranches(req.Branches), IdempotencyKey: key, Timeout: wireTimeout(req.Timeout),
		Labels: req.Labels, WaitForCompletion: req.WaitForCompletion,
	}
	var out *tmv1.ExecuteTransactionResponse
	p := policy{keyBorn: born, attemptTimeout: req.Timeout + time.Second}
	r := c.retry(ctx, p, func(ctx context.Context, cc *grpc.ClientConn) (err error) {
		out, err = tmv1.NewTransactionServiceClient(cc).ExecuteTransaction(ctx, in)
		return err
	})
	if err := r.outcomeErr(key, ""); err != nil {
		return nil, err
	}
	res, err := decided(out.GetTransaction(), tmv1.TransactionState_TRANSACTION_STATE_UNSPECIFIED)
	if res != nil {
		res.Key = key
	}
	return res, err
}

// Begin creates an ACTIVE transaction, always keyed like Execute; a
// retried Begin returns the transaction its key is bound to, whatever its
// state now. The key is in the returned transaction's idempotency_key.
func (c *Client) Begin(ctx context.Context, req BeginRequest) (*tmv1.Transaction, error) {
	key, born, err := idempotencyKey(req.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	in := &tmv1.BeginTransactionRequest{
		Branches: wireBranches(req.Branches), IdempotencyKey: key,
		Timeout: wireTimeout(req.Timeout), Labels: req.Labels,
	}
	var out *tmv1.BeginTransactionResponse
	r := c.retry(ctx, policy{keyBorn: born}, func(ctx context.Context, cc *grpc.ClientConn) (err error) {
		out, err = tmv1.NewTransactionServiceClient(cc).BeginTransaction(ctx, in)
		return err
	})
	if err := r.outcomeErr(key, ""); err != nil {
		return nil, err
	}
	return replyTx(out.GetTransaction())
}

// Enlist adds branch b to the ACTIVE transaction txID and returns the
// transaction. Retried with the same tx id when the outcome is unknown;
// ErrNotActive once the branch list is frozen.
func (c *Client) Enlist(ctx context.Context, txID string, b Branch) (*tmv1.Transaction, error) {
	in := &tmv1.EnlistBranchRequest{TxId: txID, Branch: wireBranch(b)}
	var out *tmv1.EnlistBranchResponse
	r := c.retry(ctx, policy{}, func(ctx context.Context, cc *grpc.ClientConn) (err error) {
		out, err = tmv1.NewTransactionServiceClient(cc).EnlistBranch(ctx, in)
		return err
	})
	if err := r.outcomeErr("", txID); err != nil {
		return nil, err
	}
	return replyTx(out.GetTransaction())
}

// idempotencyKey returns key, or a fresh UUIDv7 when key is empty, and
// when it was made (see Config.KeyRetention).
func idempotencyKey(key string) (string, time.Time, error) {
	now := time.Now()
	if key != "" {
		return key, keyBirth(key, now), nil
	}
	u, err := uuid.NewV7()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("tmcluster: minting an idempotency key: %w", err)
	}
	return u.String(), now, nil
}

// replyTx checks that a reply carried its transaction.
func replyTx(tx *tmv1.Transaction) (*tmv1.Transaction, error) {
	if tx == nil {
		return nil, fmt.Errorf("%w: reply without a transaction", ErrProtocol)
	}
	return tx, nil
}

// wireBranch converts b to its wire form.
func wireBranch(b Branch) *tmv1.Branch {
	return &tmv1.Branch{BranchId: b.ID, Participant: b.Participant, Payload: b.Payload}
}

// wireBranches converts bs to their wire form.
func wireBranches(bs []Branch) []*tmv1.Branch {
	out := make([]*tmv1.Branch, len(bs))
	for i, b := range bs {
		out[i] = wireBranch(b)
	}
	return out
}

// wireTimeout converts d, leaving it unset (the cluster's default) when zero.
func wireTimeout(d time.Duration) *durationpb.Duration {
	if d <= 0 {
		return nil
	}
	return durationpb.New(d)
}
