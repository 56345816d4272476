package server

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
	"github.com/tmcluster/tmcluster/raftlog"
)

// txService implements tm.v1.TransactionService. Every call runs on the
// leader; a follower forwards it.
type txService struct {
	tmv1.UnimplementedTransactionServiceServer
	s *Server
}

// ExecuteTransaction is the one-shot path: nothing is logged before the
// decision (presumed abort), so a commit costs one Raft entry before the
// reply, which also binds the idempotency key.
func (t *txService) ExecuteTransaction(ctx context.Context, req *tmv1.ExecuteTransactionRequest) (*tmv1.ExecuteTransactionResponse, error) {
	s := t.s
	l, conn, err := s.route(ctx)
	if err != nil {
		return nil, err
	}
	if conn != nil {
		return tmv1.NewTransactionServiceClient(conn).ExecuteTransaction(forwardCtx(ctx), req)
	}
	r, err := s.validateTxRequest(fingerprintRun, req.GetBranches(), req.GetIdempotencyKey(), req.GetTimeout(), req.GetLabels(), 1)
	if err != nil {
		return nil, err
	}
	if _, bound, _ := s.boundTx(r.key, r.fingerprint); r.key == "" || !bound {
		// A retry whose key is bound is answered whatever the load.
		if err := l.admit(); err != nil {
			return nil, err
		}
	}
	tx, err := l.execute(ctx, r)
	if err == nil && req.GetWaitForCompletion() {
		tx, err = s.waitCompleted(ctx, tx)
	}
	if err != nil {
		return nil, err
	}
	return &tmv1.ExecuteTransactionResponse{Transaction: tx}, nil
}

// execute runs a one-shot transaction, or joins the attempt in flight with
// the same key, and answers a keyed request only with its key's binding.
func (l *leadership) execute(ctx context.Context, r *request) (*tmv1.Transaction, error) {
	start := time.Now()
	for {
		l.mu.Lock()
		if r.key != "" {
			if d := l.byKey[r.key]; d != nil {
				l.mu.Unlock()
				if err := d.wait(ctx); err != nil && ctx.Err() != nil {
					return nil, err
				}
				continue // the binding is now what the other attempt made it
			}
			if tx, bound, err := l.s.boundTx(r.key, r.fingerprint); bound {
				l.mu.Unlock()
				return tx, err
			}
		}
		txID, mint := l.mintLocked()
		now := l.s.cfg.Now()
		d := l.startDriverLocked(plan{
			txID: txID, mint: mint, branches: r.branches, key: r.key, fingerprint: r.fingerprint,
			labels: r.labels, createTime: now, deadline: now.Add(r.timeout),
		})
		l.mu.Unlock()
		if err := d.wait(ctx); err != nil {
			return nil, err
		}
		l.s.metrics.observeCommit(start)
		return answer(d.res, r.fingerprint)
	}
}

// boundTx returns the transaction key is bound to, if it is bound; the
// error is IDEMPOTENCY_KEY_REUSED when the binding's fingerprint differs.
func (s *Server) boundTx(key string, fp []byte) (*tmv1.Transaction, bool, error) {
	txID, bfp, ok := s.fsm.Binding(key)
	if !ok {
		return nil, false, nil
	}
	r, ok := s.fsm.Get(txID)
	if !ok {
		return nil, false, nil
	}
	if !bytes.Equal(bfp, fp) {
		return nil, true, keyReused(r.Tx)
	}
	return r.Tx, true, nil
}

// answer is the reply to a request from the Result of its own entry: for a
// keyed request the key's binding read after the entry applied (rule 5),
// else the transaction the entry left.
func answer(res raftlog.Result, fp []byte) (*tmv1.Transaction, error) {
	if res.Bound != nil {
		if !bytes.Equal(res.BoundFingerprint, fp) {
			return nil, keyReused(res.Bound)
		}
		return res.Bound, nil
	}
	return res.Tx, nil
}

// waitCompleted waits until every branch of tx acknowledged phase two.
func (s *Server) waitCompleted(ctx context.Context, tx *tmv1.Transaction) (*tmv1.Transaction, error) {
	for {
		fired := s.acked.wait()
		r, ok := s.fsm.Get(tx.GetTxId())
		if !ok || r.Tx.GetCompleted() {
			if ok {
				return r.Tx, nil
			}
			return tx, nil
		}
		// fired wakes us for this node's own ack batches; the timer catches
		// acks applied while another node leads.
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-fired:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, applyError(tx.GetTxId(), ctx.Err(), nil)
		}
		t.Stop()
	}
}

// BeginTransaction logs a new ACTIVE transaction. A keyed Begin whose key is
// bound returns the bound transaction.
func (t *txService) BeginTransaction(ctx context.Context, req *tmv1.BeginTransactionRequest) (*tmv1.BeginTransactionResponse, error) {
	s := t.s
	l, conn, err := s.route(ctx)
	if err != nil {
		return nil, err
	}
	if conn != nil {
		return tmv1.NewTransactionServiceClient(conn).BeginTransaction(forwardCtx(ctx), req)
	}
	r, err := s.validateTxRequest(fingerprintBeg, req.GetBranches(), req.GetIdempotencyKey(), req.GetTimeout(), req.GetLabels(), 0)
	if err != nil {
		return nil, err
	}
	if tx, bound, err := s.boundTx(r.key, r.fingerprint); r.key != "" && bound {
		return &tmv1.BeginTransactionResponse{Transaction: tx}, err
	}
	if err := l.admit(); err != nil {
		return nil, err
	}
	txID, mint := l.mintTxID()
	now := s.cfg.Now()
	res, err := s.raft.Propose(&tmlogv1.BeginCommand{
		TxId: txID, MintTerm: mint.Term, MintIndex: mint.Index, Branches: r.branches,
		IdempotencyKey: r.key, Fingerprint: r.fingerprint, CreateTimeUnixNano: now.UnixNano(),
		DeadlineUnixNano: now.Add(r.timeout).UnixNano(), Labels: r.labels,
	})
	if err != nil {
		return nil, applyError(txID, err, nil)
	}
	if res.Err != nil {
		return nil, applyError(txID, res.Err, res.Tx)
	}
	tx, err := answer(res, r.fingerprint)
	if err != nil {
		return nil, err
	}
	return &tmv1.BeginTransactionResponse{Transaction: tx}, nil
}

// EnlistBranch adds a branch to an ACTIVE transaction.
func (t *txService) EnlistBranch(ctx context.Context, req *tmv1.EnlistBranchRequest) (*tmv1.EnlistBranchResponse, error) {
	s := t.s
	_, conn, err := s.route(ctx)
	if err != nil {
		return nil, err
	}
	if conn != nil {
		return tmv1.NewTransactionServiceClient(conn).EnlistBranch(forwardCtx(ctx), req)
	}
	mint, err := validateTxID(req.GetTxId())
	if err != nil {
		return nil, err
	}
	if err := s.validateBranch("branch", req.GetBranch()); err != nil {
		return nil, err
	}
	// Fast path on this leader's applied state; the FSM stays the authority
	// when a Commit or an abort races this Enlist.
	r, ok := s.fsm.Get(req.GetTxId())
	switch {
	case !ok:
		return nil, s.absentError(req.GetTxId(), mint)
	case r.Tx.GetState() != tmv1.TransactionState_TRANSACTION_STATE_ACTIVE:
		return nil, applyError(req.GetTxId(), raftlog.ErrNotActive, r.Tx)
	case len(r.Tx.GetBranches()) >= s.cfg.MaxBranches:
		return nil, apiError(codes.InvalidArgument, tmv1.ReasonLimitExceeded,
			fmt.Sprintf("branch: the transaction already has %d branches, the most allowed", s.cfg.MaxBranches), tmv1.MetaField, "branch")
	}
	b := req.GetBranch()
	res, err := s.raft.Propose(&tmlogv1.EnlistCommand{TxId: req.GetTxId(), Branch: &tmv1.Branch{
		BranchId: b.GetBranchId(), Participant: b.GetParticipant(), Payload: b.GetPayload(),
		State: tmv1.BranchState_BRANCH_STATE_ENLISTED,
	}})
	if err != nil {
		return nil, applyError(req.GetTxId(), err, nil)
	}
	if res.Err != nil {
		return nil, applyError(req.GetTxId(), res.Err, res.Tx)
	}
	return &tmv1.EnlistBranchResponse{Transaction: res.Tx}, nil
}
