package server

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
	"github.com/tmcluster/tmcluster/raftlog"
)

// ResolveTransaction answers a participant in doubt (rule 4). A decided
// transaction is answered from this node's applied state; anything else
// needs the leader, which never trusts the request: an unrecorded id that
// no driver of its own is running is aborted at once, and a recorded one
// past its deadline too. It never answers NOT_FOUND.
func (t *txService) ResolveTransaction(ctx context.Context, req *tmv1.ResolveTransactionRequest) (*tmv1.ResolveTransactionResponse, error) {
	s := t.s
	mint, err := validateTxID(req.GetTxId())
	if err != nil {
		return nil, err
	}
	if err := s.checkAsker(req.GetParticipant()); err != nil {
		return nil, err
	}
	if id := req.GetClusterId(); id != "" && s.fsm.ClusterID() != "" && id != s.fsm.ClusterID() {
		return nil, apiError(codes.FailedPrecondition, tmv1.ReasonClusterMismatch,
			"transaction "+req.GetTxId()+" was prepared by cluster "+id+", this is cluster "+s.fsm.ClusterID(),
			tmv1.MetaTxID, req.GetTxId())
	}
	if r, ok := s.fsm.Get(req.GetTxId()); ok && decided(r.Tx) {
		return resolved(r.Tx, req, 0), nil
	}
	l, conn, err := s.route(ctx)
	if err != nil {
		return nil, err
	}
	if conn != nil {
		return tmv1.NewTransactionServiceClient(conn).ResolveTransaction(forwardCtx(ctx), req)
	}
	return l.resolve(ctx, req, mint)
}

// checkAsker admits participants registered now or removed less than the
// retention window ago.
func (s *Server) checkAsker(name string) error {
	if name == "" {
		return invalidField("participant", "required")
	}
	if _, ok := s.fsm.Participant(name); ok {
		return nil
	}
	if at, ok := s.fsm.RemovedParticipant(name); ok && s.cfg.Now().Sub(at) < s.cfg.Retention {
		return nil
	}
	return apiError(codes.PermissionDenied, tmv1.ReasonUnknownParticipant,
		"participant "+name+" is not registered", tmv1.MetaField, "participant")
}

func (l *leadership) resolve(ctx context.Context, req *tmv1.ResolveTransactionRequest, mint raftlog.Mint) (*tmv1.ResolveTransactionResponse, error) {
	s := l.s
	txID := req.GetTxId()
	for {
		if r, ok := s.fsm.Get(txID); ok {
			return l.resolveRecorded(r, req)
		}
		if mint.Index <= s.fsm.GCFloor() {
			return nil, forgotten(txID)
		}
		if mint.Term > l.term() || mint.Index > l.mintIndex() {
			// No leader of this cluster minted it: every mint point is a
			// barrier entry at or below this leader's latest one. Logging an
			// abort for it would carry a forged mint index into the gc floor.
			return nil, invalidField("tx_id", "%s was not minted by this cluster", txID)
		}
		if mint.Term == l.term() {
			if d := l.runningDriver(txID); d != nil {
				if err := d.wait(ctx); err != nil && ctx.Err() != nil {
					return nil, err
				}
				continue
			}
			if _, ok := s.fsm.Get(txID); ok {
				continue // the driver finished between the two looks
			}
		}
		// Minted in another term, or by this leader with no driver running:
		// no decision can come any more except this one.
		res, err := s.raft.Propose(&tmlogv1.DecideCommand{
			TxId: txID, MintTerm: mint.Term, MintIndex: mint.Index, Outcome: tmlogv1.Outcome_OUTCOME_ABORT,
			Kind: tmlogv1.DecideKind_DECIDE_KIND_RESOLVE, AbortReason: "resolved as aborted: no decision was recorded",
			DecideTimeUnixNano: s.cfg.Now().UnixNano(),
		})
		if err != nil {
			return nil, outcomeUnknown(txID, err)
		}
		if res.Err != nil {
			if errors.Is(res.Err, raftlog.ErrTxTooOld) {
				return nil, forgotten(txID)
			}
			return nil, applyError(txID, res.Err, res.Tx)
		}
		if res.Decided {
			s.metrics.noteDecision(res.Tx, "resolve")
		}
		l.phase2.start(res.Tx)
		return resolved(res.Tx, req, 0), nil
	}
}

func (l *leadership) resolveRecorded(r raftlog.Record, req *tmv1.ResolveTransactionRequest) (*tmv1.ResolveTransactionResponse, error) {
	s := l.s
	if decided(r.Tx) {
		return resolved(r.Tx, req, 0), nil
	}
	left := r.Tx.GetDeadline().AsTime().Sub(s.cfg.Now())
	if left > 0 {
		return resolved(r.Tx, req, left+s.cfg.ResolveGrace), nil
	}
	tx, err := l.proposeAbort(r, tmlogv1.DecideKind_DECIDE_KIND_RESOLVE, "deadline passed before a decision")
	if hasReason(err, tmv1.ReasonTxTooOld) { // collected meanwhile
		return nil, forgotten(r.Tx.GetTxId())
	}
	if err != nil {
		return nil, err
	}
	return resolved(tx, req, 0), nil
}

func forgotten(txID string) error {
	return apiError(codes.FailedPrecondition, tmv1.ReasonTxForgotten,
		"transaction "+txID+" is older than the retention window: its outcome is no longer recorded (ask an operator)",
		tmv1.MetaTxID, txID)
}

// resolved is the answer to the asking participant: the transaction with
// only that participant's branches.
func resolved(tx *tmv1.Transaction, req *tmv1.ResolveTransactionRequest, retry time.Duration) *tmv1.ResolveTransactionResponse {
	out := proto.Clone(tx).(*tmv1.Transaction)
	out.Branches = nil
	for _, b := range tx.GetBranches() {
		if b.GetParticipant() == req.GetParticipant() {
			out.Branches = append(out.Branches, b)
		}
	}
	resp := &tmv1.ResolveTransactionResponse{Transaction: out}
	if retry > 0 {
		resp.RetryAfter = durationpb.New(retry)
	}
	return resp
}
