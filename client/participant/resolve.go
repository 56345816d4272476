package participant

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// resolve asks the coordinators about one in-doubt branch and obeys a
// COMMITTED or ABORTED answer. It reports done once the branch needs no more
// asking, or else how long to wait before asking again.
func (r *resolver) resolve(ctx context.Context, it *inDoubt) (delay time.Duration, done bool) {
	resp, err := r.dir.ask(ctx, it)
	if err != nil {
		if ctx.Err() == nil {
			r.kit.log.Warn("participant: in doubt, no coordinator answered", "tx_id", it.txID,
				"branch_id", it.branchID, "err", err)
		}
		return it.backoff.NextBackOff(), false
	}
	t := resp.GetTransaction()
	if t.GetTxId() != it.txID {
		r.kit.log.Warn("participant: resolve answered for another transaction", "tx_id", it.txID,
			"answer_tx_id", t.GetTxId())
		return it.backoff.NextBackOff(), false
	}
	switch t.GetState() {
	case tmv1.TransactionState_TRANSACTION_STATE_COMMITTED:
		return r.obey(it, decision{kind: endCommit, index: t.GetDecisionIndex(), term: t.GetDecisionTerm()})
	case tmv1.TransactionState_TRANSACTION_STATE_ABORTED:
		return r.obey(it, decision{kind: endAbort, index: t.GetDecisionIndex(), term: t.GetDecisionTerm()})
	}
	it.backoff.Reset()
	r.kit.log.Debug("participant: in doubt, undecided", "tx_id", it.txID, "branch_id", it.branchID,
		"state", t.GetState())
	return min(max(resp.GetRetryAfter().AsDuration(), minRetryAfter), maxRetryAfter), false
}

// obey ends the branch as the coordinators decided, through the same path
// as the Commit and Abort RPCs.
func (r *resolver) obey(it *inDoubt, d decision) (time.Duration, bool) {
	err := r.kit.end(it.txID, it.branchID, d)
	if err == nil {
		r.kit.log.Info("participant: in-doubt branch resolved", "tx_id", it.txID,
			"branch_id", it.branchID, "end", d.kind)
		return 0, true
	}
	if status.Code(err) == codes.FailedPrecondition {
		// The branch already ended the other way: an atomicity alarm that
		// asking again cannot fix.
		r.kit.log.Error("participant: ATOMICITY ALARM: resolved outcome contradicts the branch's end state",
			"tx_id", it.txID, "branch_id", it.branchID, "end", d.kind, "err", err)
		return 0, true
	}
	return it.backoff.NextBackOff(), false
}

// errNoAnswer is returned by directory.ask when no endpoint answered.
var errNoAnswer = errors.New("participant: no coordinator endpoint answered")

// reasonOf returns the ErrorInfo reason of a gRPC error, "" if none.
func reasonOf(err error) string {
	st, ok := status.FromError(err)
	if !ok {
		return ""
	}
	for _, d := range st.Details() {
		if info, ok := d.(interface{ GetReason() string }); ok {
			return info.GetReason()
		}
	}
	return ""
}
