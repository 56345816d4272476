package main

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"go.etcd.io/bbolt"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tmcluster/tmcluster/client/participant"
	bankv1 "github.com/tmcluster/tmcluster/proto/bank/v1"
	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// ledgerService serves bank.v1.BankService: the ledger's read side.
type ledgerService struct {
	bankv1.UnimplementedBankServiceServer
	kit *participant.Kit
}

// GetLedger returns every account in natural id order and the branch
// counts, read in one transaction so they are consistent.
func (s *ledgerService) GetLedger(context.Context, *bankv1.GetLedgerRequest) (*bankv1.GetLedgerResponse, error) {
	resp := &bankv1.GetLedgerResponse{}
	err := s.kit.DB().View(func(tx *bbolt.Tx) error {
		bk := tx.Bucket(bucketAccounts)
		if bk == nil {
			return errors.New("no accounts bucket")
		}
		err := bk.ForEach(func(id, v []byte) error {
			acct, err := decodeAccount(string(id), v)
			resp.Accounts = append(resp.Accounts, &bankv1.Account{Id: string(id), Balance: acct.Balance})
			return err
		})
		resp.PendingBranches, resp.CommittedBranches, resp.AbortedBranches = s.kit.StatsTx(tx)
		return err
	})
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	slices.SortFunc(resp.Accounts, func(a, b *bankv1.Account) int { return lessID(a.Id, b.Id) })
	return resp, nil
}

// ListBranches pages through the branches the bank voted on, in (tx_id,
// branch_id) order, or lists those of the transactions in tx_ids. Tombstones (aborts of branches never prepared here) are
// left out, so a page may hold fewer than page_size branches; read-only
// branches (amount 0) have outcome UNSPECIFIED.
func (s *ledgerService) ListBranches(_ context.Context, req *bankv1.ListBranchesRequest) (*bankv1.ListBranchesResponse, error) {
	if req.GetPageSize() < 0 {
		return nil, invalidArgument("page_size", "page_size must not be negative")
	}
	var infos []participant.BranchInfo
	var next string
	var err error
	if ids := req.GetTxIds(); len(ids) > 0 {
		switch {
		case len(ids) > participant.MaxBranchesOf:
			return nil, invalidArgument("tx_ids", fmt.Sprintf("%d tx_ids, at most %d", len(ids), participant.MaxBranchesOf))
		case req.GetPageSize() != 0 || req.GetPageToken() != "":
			return nil, invalidArgument("tx_ids", "tx_ids lists in one response: leave page_size and page_token unset")
		}
		infos, err = s.kit.BranchesOf(ids)
	} else {
		infos, next, err = s.kit.ListBranches(req.GetPageToken(), int(req.GetPageSize()))
	}
	if errors.Is(err, participant.ErrBadPageToken) {
		return nil, invalidArgument("page_token", "unknown page_token")
	}
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	resp := &bankv1.ListBranchesResponse{NextPageToken: next}
	for _, b := range infos {
		if b.State == participant.StateTombstone {
			continue
		}
		t, _ := parseTransfer(b.Payload) // a NO for a bad payload lists what it can
		resp.Branches = append(resp.Branches, &bankv1.BranchRecord{TxId: b.TxID, BranchId: b.BranchID,
			Account: t.Account, Amount: t.Amount, Outcome: outcomeOf(b.State)})
	}
	return resp, nil
}

func outcomeOf(s participant.State) bankv1.BranchOutcome {
	switch s {
	case participant.StatePrepared:
		return bankv1.BranchOutcome_BRANCH_OUTCOME_PREPARED
	case participant.StateCommitted:
		return bankv1.BranchOutcome_BRANCH_OUTCOME_COMMITTED
	case participant.StateAborted, participant.StateVotedNo:
		return bankv1.BranchOutcome_BRANCH_OUTCOME_ABORTED
	}
	return bankv1.BranchOutcome_BRANCH_OUTCOME_UNSPECIFIED
}

func invalidArgument(field, msg string) error {
	st := status.New(codes.InvalidArgument, msg)
	if withInfo, err := st.WithDetails(&errdetails.ErrorInfo{Reason: tmv1.ReasonInvalidArgument,
		Domain: tmv1.ErrorDomain, Metadata: map[string]string{tmv1.MetaField: field}}); err == nil {
		st = withInfo
	}
	return st.Err()
}
