package server

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	"github.com/tmcluster/tmcluster/raftlog"
)

// apiError builds a gRPC status with a google.rpc.ErrorInfo detail. meta is
// a flat list of key, value pairs.
func apiError(code codes.Code, reason, msg string, meta ...string) error {
	st := status.New(code, msg)
	info := &errdetails.ErrorInfo{Reason: reason, Domain: tmv1.ErrorDomain}
	if len(meta) > 0 {
		info.Metadata = make(map[string]string, len(meta)/2)
		for i := 0; i+1 < len(meta); i += 2 {
			info.Metadata[meta[i]] = meta[i+1]
		}
	}
	if d, err := st.WithDetails(info); err == nil {
		st = d
	}
	return st.Err()
}

// invalidField is INVALID_ARGUMENT naming the offending field.
func invalidField(field, format string, args ...any) error {
	msg := field + ": " + fmt.Sprintf(format, args...)
	return apiError(codes.InvalidArgument, tmv1.ReasonInvalidArgument, msg, tmv1.MetaField, field)
}

func txNotFound(txID string) error {
	return apiError(codes.NotFound, tmv1.ReasonTxNotFound, "transaction "+txID+" not found", tmv1.MetaTxID, txID)
}

func outcomeUnknown(txID string, cause error) error {
	return apiError(codes.Unavailable, tmv1.ReasonOutcomeUnknown,
		fmt.Sprintf("outcome of transaction %s unknown (%v): retry with the same idempotency key", txID, cause),
		tmv1.MetaTxID, txID)
}

func noLeader(msg string) error {
	return apiError(codes.Unavailable, tmv1.ReasonNoLeader, "no leader: "+msg)
}

func keyReused(tx *tmv1.Transaction) error {
	return apiError(codes.InvalidArgument, tmv1.ReasonIdempotencyKeyReused,
		"idempotency key already used for another request (transaction "+tx.GetTxId()+")",
		tmv1.MetaTxID, tx.GetTxId(), tmv1.MetaState, tx.GetState().String(), tmv1.MetaField, "idempotency_key")
}

// hasReason reports whether err is a status with this ErrorInfo reason.
func hasReason(err error, reason string) bool {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == reason {
			return true
		}
	}
	return false
}

// applyError maps a business rejection from Apply, or a proposal failure, to
// a gRPC status. txID names the transaction concerned, if any.
func applyError(txID string, err error, tx *tmv1.Transaction) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raftlog.ErrTxNotFound):
		return txNotFound(txID)
	case errors.Is(err, raftlog.ErrTxTooOld):
		return apiError(codes.FailedPrecondition, tmv1.ReasonTxTooOld,
			"transaction "+txID+" is older than the retention window", tmv1.MetaTxID, txID)
	case errors.Is(err, raftlog.ErrNotActive):
		return apiError(codes.FailedPrecondition, tmv1.ReasonTxNotActive,
			"transaction "+txID+" is "+tx.GetState().String()+", not ACTIVE",
			tmv1.MetaTxID, txID, tmv1.MetaState, tx.GetState().String())
	case errors.Is(err, raftlog.ErrDuplicateBranch):
		return invalidField("branch.branch_id", "already enlisted in %s with another participant or payload", txID)
	case errors.Is(err, raftlog.ErrParticipantBusy):
		return apiError(codes.FailedPrecondition, tmv1.ReasonParticipantBusy, err.Error())
	case errors.Is(err, raftlog.ErrUnknownParticipant):
		return apiError(codes.NotFound, tmv1.ReasonUnknownParticipant, err.Error())
	case errors.Is(err, raftlog.ErrNotLeader):
		return noLeader("this node lost leadership")
	case errors.Is(err, raftlog.ErrOutcomeUnknown):
		return outcomeUnknown(txID, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Internal, err.Error())
}
