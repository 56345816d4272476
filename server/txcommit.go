package server

import (
	"context"
	"encoding/base64"
	"time"

	"google.golang.org/grpc/codes"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
	"github.com/tmcluster/tmcluster/raftlog"
)

// CommitTransaction freezes the branch list (PREPARING is logged first),
// runs 2PC and returns the applied decision. On a PREPARING transaction it
// joins the driver; on a decided one it returns it.
func (t *txService) CommitTransaction(ctx context.Context, req *tmv1.CommitTransactionRequest) (*tmv1.CommitTransactionResponse, error) {
	s := t.s
	l, conn, err := s.route(ctx)
	if err != nil {
		return nil, err
	}
	if conn != nil {
		return tmv1.NewTransactionServiceClient(conn).CommitTransaction(forwardCtx(ctx), req)
	}
	mint, err := validateTxID(req.GetTxId())
	if err != nil {
		return nil, err
	}
	tx, err := l.commit(ctx, req.GetTxId(), mint)
	if err == nil && req.GetWaitForCompletion() {
		tx, err = s.waitCompleted(ctx, tx)
	}
	if err != nil {
		return nil, err
	}
	return &tmv1.CommitTransactionResponse{Transaction: tx}, nil
}

func (l *leadership) commit(ctx context.Context, txID string, mint raftlog.Mint) (*tmv1.Transaction, error) {
	s := l.s
	r, ok := s.fsm.Get(txID)
	if !ok {
		return nil, s.absentError(txID, mint)
	}
	if decided(r.Tx) {
		return r.Tx, nil
	}
	if d := l.runningDriver(txID); d != nil {
		if err := d.wait(ctx); err != nil {
			return nil, err
		}
		return d.res.Tx, nil
	}
	if r.Tx.GetState() == tmv1.TransactionState_TRANSACTION_STATE_ACTIVE {
		res, err := s.raft.Propose(&tmlogv1.PrepareCommand{TxId: txID})
		if err != nil {
			return nil, applyError(txID, err, nil)
		}
		if res.Err != nil {
			return nil, applyError(txID, res.Err, res.Tx)
		}
		if r, ok = s.fsm.Get(txID); !ok {
			return nil, s.absentError(txID, mint)
		}
		if decided(r.Tx) {
			return r.Tx, nil
		}
	}
	start := time.Now()
	d := l.startDriver(s.recordPlan(r))
	if err := d.wait(ctx); err != nil {
		return nil, err
	}
	s.metrics.observeCommit(start)
	return d.res.Tx, nil
}

// recordPlan is the driver plan of a recorded PREPARING transaction; its
// decision carries the key and fingerprint its Begin bound.
func (s *Server) recordPlan(r raftlog.Record) plan {
	key := r.Tx.GetIdempotencyKey()
	var fp []byte
	if key != "" {
		if id, bfp, ok := s.fsm.Binding(key); ok && id == r.Tx.GetTxId() {
			fp = bfp
		}
	}
	return planFromRecord(r, key, fp)
}

// absentError is NOT_FOUND, or TX_TOO_OLD for an id minted at or below the
// gc floor (it may have been collected).
func (s *Server) absentError(txID string, mint raftlog.Mint) error {
	if mint.Index <= s.fsm.GCFloor() {
		return applyError(txID, raftlog.ErrTxTooOld, nil)
	}
	return txNotFound(txID)
}

// AbortTransaction decides ABORTED (logged like every abort).
func (t *txService) AbortTransaction(ctx context.Context, req *tmv1.AbortTransactionRequest) (*tmv1.AbortTransactionResponse, error) {
	s := t.s
	l, conn, err := s.route(ctx)
	if err != nil {
		return nil, err
	}
	if conn != nil {
		return tmv1.NewTransactionServiceClient(conn).AbortTransaction(forwardCtx(ctx), req)
	}
	mint, err := validateTxID(req.GetTxId())
	if err != nil {
		return nil, err
	}
	if len(req.GetReason()) > maxReasonLen {
		return nil, invalidField("reason", "longer than %d bytes", maxReasonLen)
	}
	r, ok := s.fsm.Get(req.GetTxId())
	if !ok {
		return nil, s.absentError(req.GetTxId(), mint)
	}
	reason := req.GetReason()
	if reason == "" {
		reason = "aborted by request"
	}
	tx := r.Tx
	if !decided(tx) {
		if tx, err = l.proposeAbort(r, tmlogv1.DecideKind_DECIDE_KIND_USER_ABORT, reason); err != nil {
			return nil, err
		}
	}
	if tx.GetState() == tmv1.TransactionState_TRANSACTION_STATE_COMMITTED {
		return nil, apiError(codes.FailedPrecondition, tmv1.ReasonTxCommitted, "transaction "+tx.GetTxId()+" is committed",
			tmv1.MetaTxID, tx.GetTxId(), tmv1.MetaState, tx.GetState().String())
	}
	return &tmv1.AbortTransactionResponse{Transaction: tx}, nil
}

// proposeAbort proposes ABORT for a recorded transaction and starts phase
// two for whatever decision applied.
func (l *leadership) proposeAbort(r raftlog.Record, kind tmlogv1.DecideKind, reason string) (*tmv1.Transaction, error) {
	s := l.s
	txID := r.Tx.GetTxId()
	p := s.recordPlan(r) // the key and fingerprint its Begin bound (rule 5)
	res, err := s.raft.Propose(&tmlogv1.DecideCommand{
		TxId: txID, MintTerm: r.MintTerm, MintIndex: r.MintIndex, Outcome: tmlogv1.Outcome_OUTCOME_ABORT,
		Kind: kind, AbortReason: reason, DecideTimeUnixNano: s.cfg.Now().UnixNano(),
		IdempotencyKey: p.key, Fingerprint: p.fingerprint,
	})
	if err != nil {
		return nil, outcomeUnknown(txID, err)
	}
	if res.Err != nil {
		return nil, applyError(txID, res.Err, res.Tx)
	}
	if res.Decided {
		s.metrics.noteDecision(res.Tx, decideBy(kind))
	}
	l.phase2.start(res.Tx)
	return res.Tx, nil
}

// decideBy names a decision's proposer for the metrics.
func decideBy(k tmlogv1.DecideKind) string {
	switch k {
	case tmlogv1.DecideKind_DECIDE_KIND_USER_ABORT:
		return "user"
	case tmlogv1.DecideKind_DECIDE_KIND_RESOLVE:
		return "resolve"
	case tmlogv1.DecideKind_DECIDE_KIND_REAPER:
		return "reaper"
	}
	return "driver"
}

// GetTransaction reports one attempt. NOT_FOUND is not an outcome.
func (t *txService) GetTransaction(ctx context.Context, req *tmv1.GetTransactionRequest) (*tmv1.GetTransactionResponse, error) {
	s := t.s
	l, conn, err := s.route(ctx)
	if err != nil {
		return nil, err
	}
	if conn != nil {
		return tmv1.NewTransactionServiceClient(conn).GetTransaction(forwardCtx(ctx), req)
	}
	mint, err := validateTxID(req.GetTxId())
	if err != nil {
		return nil, err
	}
	r, ok := s.fsm.Get(req.GetTxId())
	if !ok {
		return nil, s.absentError(req.GetTxId(), mint)
	}
	l.phase2.decorate(r.Tx)
	return &tmv1.GetTransactionResponse{Transaction: r.Tx}, nil
}

// ListTransactions pages through the records in tx id order.
func (t *txService) ListTransactions(ctx context.Context, req *tmv1.ListTransactionsRequest) (*tmv1.ListTransactionsResponse, error) {
	s := t.s
	_, conn, err := s.route(ctx)
	if err != nil {
		return nil, err
	}
	if conn != nil {
		return tmv1.NewTransactionServiceClient(conn).ListTransactions(forwardCtx(ctx), req)
	}
	size := int(req.GetPageSize())
	switch {
	case size < 0:
		return nil, invalidField("page_size", "negative")
	case size == 0:
		size = 100
	case size > 1000:
		size = 1000
	}
	after, err := base64.RawURLEncoding.DecodeString(req.GetPageToken())
	if err != nil {
		return nil, invalidField("page_token", "not a token from a previous response")
	}
	if err := validateLabels(req.GetLabels()); err != nil {
		return nil, err
	}
	recs := s.fsm.List(raftlog.ListFilter{State: req.GetState(), Labels: req.GetLabels(), After: string(after), Limit: size + 1})
	resp := &tmv1.ListTransactionsResponse{}
	for i, r := range recs {
		if i == size {
			resp.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(recs[i-1].Tx.GetTxId()))
			break
		}
		resp.Transactions = append(resp.Transactions, r.Tx)
	}
	return resp, nil
}
