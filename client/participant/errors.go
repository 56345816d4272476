package participant

import (
	"errors"

	berrors "go.etcd.io/bbolt/errors"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

var (
	// ErrNoHooks is returned by Open when Config.Hooks is nil.
	ErrNoHooks = errors.New("participant: Config.Hooks is nil")
	// ErrNoPath is returned by Open when Config.Path is empty.
	ErrNoPath = errors.New("participant: Config.Path is empty")
	// ErrBadPageToken is returned by ListBranches for a token it did not
	// hand out.
	ErrBadPageToken = errors.New("participant: bad page token")
)

// metaBranchID is the ErrorInfo metadata key of the branch id.
const metaBranchID = "branch_id"

// statusError builds a gRPC error with a google.rpc.ErrorInfo detail.
func statusError(code codes.Code, reason, msg string, meta map[string]string) error {
	st := status.New(code, msg)
	info := &errdetails.ErrorInfo{Reason: reason, Domain: tmv1.ErrorDomain, Metadata: meta}
	if withInfo, err := st.WithDetails(info); err == nil {
		st = withInfo
	}
	return st.Err()
}

// branchError is FAILED_PRECONDITION with reason for one branch.
func branchError(reason, msg, txID, branchID string, state State) error {
	meta := map[string]string{tmv1.MetaTxID: txID, metaBranchID: branchID}
	if state != StateUnknown {
		meta[tmv1.MetaState] = state.String()
	}
	return statusError(codes.FailedPrecondition, reason, msg, meta)
}

// checkIDs is INVALID_ARGUMENT naming the first bad id field, nil if both
// ids are usable.
func checkIDs(txID, branchID string) error {
	for _, f := range []struct{ name, value string }{{"tx_id", txID}, {"branch_id", branchID}} {
		if !validID(f.value) {
			return statusError(codes.InvalidArgument, tmv1.ReasonInvalidArgument,
				f.name+" must be non-empty and contain no NUL",
				map[string]string{tmv1.MetaField: f.name})
		}
	}
	return nil
}

// storeError turns a failure to read or write the kit's database into a
// gRPC error the coordinator retries: UNAVAILABLE once the kit is closed,
// INTERNAL otherwise. Status errors pass through.
func storeError(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return status.Error(codes.Unavailable, "participant: closed")
	}
	return status.Error(codes.Internal, err.Error())
}
