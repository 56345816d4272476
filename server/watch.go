package server

import (
	"google.golang.org/grpc/codes"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// watchBuffer is how many changes a watcher may fall behind before it is
// cut off (RESOURCE_EXHAUSTED): a slow reader never slows the FSM.
const watchBuffer = 4096

// WatchTransactions streams the changes this node applies, filtered.
func (t *txService) WatchTransactions(req *tmv1.WatchTransactionsRequest, stream tmv1.TransactionService_WatchTransactionsServer) error {
	if err := validateLabels(req.GetLabels()); err != nil {
		return err
	}
	changes, cancel := t.s.fsm.Watch(watchBuffer)
	defer cancel()
	// Headers now: the caller knows the watch is in place before any change.
	if err := stream.SendHeader(nil); err != nil {
		return err
	}
	ctx := stream.Context()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.s.stop:
			return noLeader("node shutting down")
		case tx, ok := <-changes:
			if !ok {
				return apiError(codes.ResourceExhausted, tmv1.ReasonLimitExceeded,
					"the watcher fell too far behind; watch again")
			}
			if !matches(tx, req) {
				continue
			}
			if err := stream.Send(&tmv1.WatchTransactionsResponse{Transaction: tx}); err != nil {
				return err
			}
		}
	}
}

func matches(tx *tmv1.Transaction, req *tmv1.WatchTransactionsRequest) bool {
	if st := req.GetState(); st != tmv1.TransactionState_TRANSACTION_STATE_UNSPECIFIED && tx.GetState() != st {
		return false
	}
	for k, v := range req.GetLabels() {
		if tx.GetLabels()[k] != v {
			return false
		}
	}
	return true
}
