package client

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// Sentinel errors. Test for them with errors.Is; the concrete error is an
// *Error (or an *UnknownOutcomeError) that carries the gRPC status.
var (
	// ErrNotFound is returned when the cluster has no record of the
	// transaction (TX_NOT_FOUND) or of another named resource (NOT_FOUND).
	// It is never an outcome: a one-shot transaction is unrecorded until it
	// is decided, so retry Execute with the key instead.
	ErrNotFound = errors.New("tmcluster: not found")
	// ErrKeyReused is returned when the idempotency key is bound to a
	// transaction with a different request (IDEMPOTENCY_KEY_REUSED). The
	// metadata names that transaction's tx_id and state. Never retried.
	ErrKeyReused = errors.New("tmcluster: idempotency key reused with a different request")
	// ErrTxTooOld is returned for a transaction minted before the cluster's
	// garbage-collection floor (TX_TOO_OLD): it may have been collected, so
	// nothing was decided.
	ErrTxTooOld = errors.New("tmcluster: transaction too old")
	// ErrTxForgotten is returned when the transaction's record has been
	// removed after the retention window (TX_FORGOTTEN).
	ErrTxForgotten = errors.New("tmcluster: transaction forgotten")
	// ErrNotActive is returned when EnlistBranch targets a transaction that
	// is no longer ACTIVE (TX_NOT_ACTIVE): its branch list is frozen.
	ErrNotActive = errors.New("tmcluster: transaction not active")
	// ErrTxCommitted is returned by Abort for a committed transaction
	// (TX_COMMITTED). The transaction stays committed.
	ErrTxCommitted = errors.New("tmcluster: transaction committed")
	// ErrUnknownParticipant is returned when a branch or a call names a
	// participant that is not registered (UNKNOWN_PARTICIPANT).
	ErrUnknownParticipant = errors.New("tmcluster: unknown participant")
	// ErrParticipantBusy is returned when RemoveParticipant names a
	// participant that still has incomplete branches (PARTICIPANT_BUSY).
	ErrParticipantBusy = errors.New("tmcluster: participant has incomplete branches")
	// ErrInvalidArgument is returned for bad input (INVALID_ARGUMENT); the
	// metadata key "field" names the offending field.
	ErrInvalidArgument = errors.New("tmcluster: invalid argument")
	// ErrLimitExceeded is returned past a cluster limit (RESOURCE_EXHAUSTED).
	ErrLimitExceeded = errors.New("tmcluster: limit exceeded")
	// ErrOutcomeUnknown is matched by every error after which the request may
	// or may not have been applied: retry with the same key or tx id.
	ErrOutcomeUnknown = errors.New("tmcluster: outcome unknown")
	// ErrNoLeader is matched by UNAVAILABLE NO_LEADER: the cluster has no
	// leader right now. The SDK retries it; it surfaces only when retrying
	// stopped.
	ErrNoLeader = errors.New("tmcluster: no leader")
	// ErrNotLeader is matched by NOT_LEADER: the node asked is not the leader
	// (its metadata may name leader_address, which the SDK follows).
	ErrNotLeader = errors.New("tmcluster: not the leader")
	// ErrUnreachable is matched when retrying stopped and no node answered
	// any attempt: every attempt failed to connect or timed out.
	ErrUnreachable = errors.New("tmcluster: no node answered")
	// ErrKeyExpired is returned instead of sending a key older than
	// Config.KeyRetention: the cluster may have forgotten its binding, so a
	// retry could execute the payment twice. Look the transaction up instead.
	ErrKeyExpired = errors.New("tmcluster: idempotency key older than the retention window")
	// ErrProtocol is returned when a reply breaks the wire contract, such as
	// an undecided transaction in the reply to Execute or Commit.
	ErrProtocol = errors.New("tmcluster: protocol error")
	// ErrClosed is returned by calls on a closed Client.
	ErrClosed = errors.New("tmcluster: client closed")
	// ErrPermissionDenied is returned when the identity of the client
	// certificate may not make the call (PERMISSION_DENIED: NOT_ADMIN for a
	// ClusterService change, IDENTITY_MISMATCH for another participant's
	// Resolve). Never retried.
	ErrPermissionDenied = errors.New("tmcluster: permission denied")
	// ErrUnauthenticated is returned when the call needs a client
	// certificate and none was presented (UNAUTHENTICATED).
	ErrUnauthenticated = errors.New("tmcluster: unauthenticated")
)

// sentinelFor maps an ErrorInfo reason, or lacking a known one the gRPC
// code, to its sentinel; nil when neither is known.
func sentinelFor(reason string, code codes.Code) error {
	switch reason {
	case tmv1.ReasonTxNotFound:
		return ErrNotFound
	case tmv1.ReasonIdempotencyKeyReused:
		return ErrKeyReused
	case tmv1.ReasonTxTooOld:
		return ErrTxTooOld
	case tmv1.ReasonTxForgotten:
		return ErrTxForgotten
	case tmv1.ReasonTxNotActive:
		return ErrNotActive
	case tmv1.ReasonTxCommitted:
		return ErrTxCommitted
	case tmv1.ReasonUnknownParticipant:
		return ErrUnknownParticipant
	case tmv1.ReasonParticipantBusy:
		return ErrParticipantBusy
	case tmv1.ReasonInvalidArgument:
		return ErrInvalidArgument
	case tmv1.ReasonLimitExceeded:
		return ErrLimitExceeded
	case tmv1.ReasonOutcomeUnknown:
		return ErrOutcomeUnknown
	case tmv1.ReasonNoLeader:
		return ErrNoLeader
	case tmv1.ReasonNotLeader:
		return ErrNotLeader
	case tmv1.ReasonNotAdmin, tmv1.ReasonIdentityMismatch:
		return ErrPermissionDenied
	case tmv1.ReasonUnauthenticated:
		return ErrUnauthenticated
	}
	switch code {
	case codes.NotFound:
		return ErrNotFound
	case codes.InvalidArgument:
		return ErrInvalidArgument
	case codes.ResourceExhausted:
		return ErrLimitExceeded
	case codes.PermissionDenied:
		return ErrPermissionDenied
	case codes.Unauthenticated:
		return ErrUnauthenticated
	}
	return nil
}

// Error is a gRPC error from the cluster, decoded. errors.Is matches it
// against the sentinel its reason (or, lacking one, its code) maps to, and
// status.FromError recovers the original status with its details.
type Error struct {
	// Code is the gRPC status code.
	Code codes.Code
	// Reason is the ErrorInfo reason, empty when the status had none.
	Reason string
	// Metadata is the ErrorInfo metadata (tx_id, state, leader_id,
	// leader_address, field); nil when there was none.
	Metadata map[string]string
	// Message is the status message.
	Message string

	sentinel error
	st       *status.Status
}

// Error describes the error in one line.
func (e *Error) Error() string {
	what := e.Reason
	if what == "" {
		what = strings.ToUpper(codeName(e.Code))
	}
	return fmt.Sprintf("tmcluster: %s: %s", what, e.Message)
}

// Is reports whether target is the sentinel this error maps to.
func (e *Error) Is(target error) bool {
	return e.sentinel != nil && target == e.sentinel
}

// GRPCStatus returns the status the cluster answered, details included.
func (e *Error) GRPCStatus() *status.Status {
	if e.st != nil {
		return e.st
	}
	return status.New(e.Code, e.Message)
}

// codeName renders a code as UPPER_SNAKE like the reasons (NOT_FOUND).
func codeName(c codes.Code) string {
	var b strings.Builder
	for i, r := range c.String() {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// fromStatus decodes a gRPC error. err must not be nil.
func fromStatus(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	st := status.Convert(err)
	e = &Error{Code: st.Code(), Message: st.Message(), st: st}
	if info := errorInfo(st); info != nil {
		e.Reason = info.GetReason()
		e.Metadata = info.GetMetadata()
	}
	e.sentinel = sentinelFor(e.Reason, e.Code)
	return e
}

// errorInfo returns the first ErrorInfo detail of st, or nil.
func errorInfo(st *status.Status) *errdetails.ErrorInfo {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return nil
}

// Reason returns the ErrorInfo reason carried by err (an *Error anywhere in
// its chain, or any gRPC status), or "" when there is none.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	return fromStatus(err).Reason
}

// Metadata returns the ErrorInfo metadata carried by err, or nil. Keys are
// the tmv1.Meta* constants: tx_id, state, leader_id, leader_address, field.
func Metadata(err error) map[string]string {
	if err == nil {
		return nil
	}
	return fromStatus(err).Metadata
}
