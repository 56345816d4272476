package client

import (
	"errors"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

func statusErr(code codes.Code, reason string, meta map[string]string) error {
	st := status.New(code, "boom")
	if reason != "" {
		st, _ = st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: tmv1.ErrorDomain, Metadata: meta})
	}
	return st.Err()
}

func TestErrorMapsReasonsAndCodesToSentinels(t *testing.T) {
	tests := []struct {
		code   codes.Code
		reason string
		want   error
	}{
		{codes.NotFound, tmv1.ReasonTxNotFound, ErrNotFound},
		{codes.InvalidArgument, tmv1.ReasonIdempotencyKeyReused, ErrKeyReused},
		{codes.FailedPrecondition, tmv1.ReasonTxTooOld, ErrTxTooOld},
		{codes.FailedPrecondition, tmv1.ReasonTxForgotten, ErrTxForgotten},
		{codes.FailedPrecondition, tmv1.ReasonTxNotActive, ErrNotActive},
		{codes.FailedPrecondition, tmv1.ReasonTxCommitted, ErrTxCommitted},
		{codes.InvalidArgument, tmv1.ReasonUnknownParticipant, ErrUnknownParticipant},
		{codes.FailedPrecondition, tmv1.ReasonParticipantBusy, ErrParticipantBusy},
		{codes.InvalidArgument, tmv1.ReasonInvalidArgument, ErrInvalidArgument},
		{codes.ResourceExhausted, tmv1.ReasonLimitExceeded, ErrLimitExceeded},
		{codes.Unavailable, tmv1.ReasonOutcomeUnknown, ErrOutcomeUnknown},
		{codes.Unavailable, tmv1.ReasonNoLeader, ErrNoLeader},
		{codes.Unavailable, tmv1.ReasonNotLeader, ErrNotLeader},
		{codes.NotFound, "", ErrNotFound},
		{codes.InvalidArgument, "", ErrInvalidArgument},
		{codes.ResourceExhausted, "", ErrLimitExceeded},
	}
	for _, tt := range tests {
		err := sdkErr(statusErr(tt.code, tt.reason, map[string]string{"k": "v"}))
		if !errors.Is(err, tt.want) {
			t.Errorf("%v %q: %v does not match %v", tt.code, tt.reason, err, tt.want)
		}
		if errors.Is(err, ErrNotFound) != (tt.want == ErrNotFound) {
			t.Errorf("%v %q: matches ErrNotFound wrongly", tt.code, tt.reason)
		}
		if status.Code(err) != tt.code || Reason(err) != tt.reason {
			t.Errorf("%v %q: status %v reason %q lost", tt.code, tt.reason, status.Code(err), Reason(err))
		}
	}
}

func TestErrorKeepsStatusDetailsAndMetadata(t *testing.T) {
	raw := statusErr(codes.InvalidArgument, tmv1.ReasonInvalidArgument, map[string]string{tmv1.MetaField: "branches"})
	err := error(&UnknownOutcomeError{Key: "k", Err: sdkErr(raw)}) // wrapped, to check the helpers unwrap
	if Metadata(err)[tmv1.MetaField] != "branches" || Reason(err) != tmv1.ReasonInvalidArgument {
		t.Fatalf("Metadata/Reason = %v / %q", Metadata(err), Reason(err))
	}
	st, ok := status.FromError(err)
	if !ok || len(st.Details()) != 1 {
		t.Fatalf("status.FromError = %v, %v; want the original status with its ErrorInfo", st, ok)
	}
	var e *Error
	if !errors.As(err, &e) || e.Code != codes.InvalidArgument || e.Message != "boom" {
		t.Fatalf("errors.As *Error = %+v", e)
	}
}

func TestUnmappedErrorMatchesNoSentinel(t *testing.T) {
	err := sdkErr(statusErr(codes.Internal, "", nil))
	for _, s := range []error{ErrNotFound, ErrOutcomeUnknown, ErrInvalidArgument, ErrNoLeader} {
		if errors.Is(err, s) {
			t.Errorf("INTERNAL matches %v", s)
		}
	}
	if got := err.Error(); got != "tmcluster: INTERNAL: boom" {
		t.Errorf("Error() = %q", got)
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[Outcome]string{OutcomeCommitted: "committed", OutcomeAborted: "aborted", 0: "Outcome(0)"} {
		if o.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(o), o.String(), want)
		}
	}
}
