package participant

import (
	"context"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// service serves tm.v1.ParticipantService from a Kit. Each RPC returns only
// once what it answers is durable; the RPC's context does not cancel a write
// already started (a half-seen decision would only be asked again).
type service struct {
	tmv1.UnimplementedParticipantServiceServer
	kit *Kit
}

// Prepare votes on a branch; see Kit.prepare.
func (s *service) Prepare(_ context.Context, req *tmv1.PrepareRequest) (*tmv1.PrepareResponse, error) {
	return s.kit.prepare(req)
}

// Commit ends a branch committed.
func (s *service) Commit(_ context.Context, req *tmv1.CommitRequest) (*tmv1.CommitResponse, error) {
	d := decision{kind: endCommit, index: req.GetDecisionIndex(), term: req.GetDecisionTerm()}
	if err := s.kit.end(req.GetTxId(), req.GetBranchId(), d); err != nil {
		return nil, err
	}
	return &tmv1.CommitResponse{}, nil
}

// Abort ends a branch aborted, leaving a tombstone for a branch never
// prepared.
func (s *service) Abort(_ context.Context, req *tmv1.AbortRequest) (*tmv1.AbortResponse, error) {
	d := decision{kind: endAbort, index: req.GetDecisionIndex(), term: req.GetDecisionTerm(),
		tombstoneTTL: max(req.GetTombstoneTtl().AsDuration(), 0)}
	if err := s.kit.end(req.GetTxId(), req.GetBranchId(), d); err != nil {
		return nil, err
	}
	return &tmv1.AbortResponse{}, nil
}
