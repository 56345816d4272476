package server

import (
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	"github.com/tmcluster/tmcluster/raftlog"
)

// Fixed size limits of identifiers; payload size and branch count are in
// Config.
const (
	maxIDLen       = 128
	maxKeyLen      = 256
	maxLabels      = 32
	maxLabelKey    = 63
	maxLabelValue  = 256
	maxReasonLen   = 1024
	maxNameLen     = 64
	fingerprintRun = "execute"
	fingerprintBeg = "begin"
)

// request is a validated Execute or Begin request: the branches as they will
// be logged (output-only fields dropped) and its fingerprint.
type request struct {
	branches    []*tmv1.Branch
	key         string
	labels      map[string]string
	timeout     time.Duration
	fingerprint []byte
}

func (s *Server) validateTxRequest(kind string, branches []*tmv1.Branch, key string, timeout *durationpb.Duration, labels map[string]string, minBranches int) (*request, error) {
	if len(branches) < minBranches {
		return nil, invalidField("branches", "at least %d branch required", minBranches)
	}
	if len(branches) > s.cfg.MaxBranches {
		return nil, apiError(codes.InvalidArgument, tmv1.ReasonLimitExceeded,
			fmt.Sprintf("branches: %d branches, at most %d allowed", len(branches), s.cfg.MaxBranches), tmv1.MetaField, "branches")
	}
	if len(key) > maxKeyLen {
		return nil, invalidField("idempotency_key", "longer than %d bytes", maxKeyLen)
	}
	d, err := s.validateTimeout(timeout)
	if err != nil {
		return nil, err
	}
	if err := validateLabels(labels); err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(branches))
	out := make([]*tmv1.Branch, len(branches))
	for i, b := range branches {
		field := fmt.Sprintf("branches[%d]", i)
		if err := s.validateBranch(field, b); err != nil {
			return nil, err
		}
		if seen[b.GetBranchId()] {
			return nil, invalidField(field+".branch_id", "duplicate branch id %q", b.GetBranchId())
		}
		seen[b.GetBranchId()] = true
		out[i] = &tmv1.Branch{BranchId: b.GetBranchId(), Participant: b.GetParticipant(), Payload: b.GetPayload(),
			State: tmv1.BranchState_BRANCH_STATE_ENLISTED}
	}
	return &request{
		branches:    out,
		key:         key,
		labels:      labels,
		timeout:     d,
		fingerprint: raftlog.Fingerprint(kind, out, labels),
	}, nil
}

func (s *Server) validateBranch(field string, b *tmv1.Branch) error {
	if b == nil {
		return invalidField(field, "missing")
	}
	if err := validateID(field+".branch_id", b.GetBranchId()); err != nil {
		return err
	}
	if b.GetParticipant() == "" {
		return invalidField(field+".participant", "required")
	}
	if _, ok := s.fsm.ParticipantTarget(b.GetParticipant()); !ok {
		return apiError(codes.InvalidArgument, tmv1.ReasonUnknownParticipant,
			field+".participant: "+b.GetParticipant()+" is not a registered participant", tmv1.MetaField, field+".participant")
	}
	if len(b.GetPayload()) > s.cfg.MaxPayloadBytes {
		return apiError(codes.InvalidArgument, tmv1.ReasonLimitExceeded,
			fmt.Sprintf("%s.payload: %d bytes, at most %d allowed", field, len(b.GetPayload()), s.cfg.MaxPayloadBytes),
			tmv1.MetaField, field+".payload")
	}
	return nil
}

func (s *Server) validateTimeout(t *durationpb.Duration) (time.Duration, error) {
	if t == nil {
		return s.cfg.DefaultTimeout, nil
	}
	if err := t.CheckValid(); err != nil {
		return 0, invalidField("timeout", "%v", err)
	}
	d := t.AsDuration()
	switch {
	case d < 0:
		return 0, invalidField("timeout", "negative")
	case d == 0:
		return s.cfg.DefaultTimeout, nil
	case d > s.cfg.MaxTimeout:
		return 0, invalidField("timeout", "%v exceeds the maximum %v", d, s.cfg.MaxTimeout)
	}
	return d, nil
}

func validateLabels(labels map[string]string) error {
	if len(labels) > maxLabels {
		return invalidField("labels", "%d labels, at most %d allowed", len(labels), maxLabels)
	}
	for k, v := range labels {
		if k == "" || len(k) > maxLabelKey {
			return invalidField("labels", "key %q must be 1 to %d bytes", k, maxLabelKey)
		}
		if len(v) > maxLabelValue {
			return invalidField("labels", "value of %q longer than %d bytes", k, maxLabelValue)
		}
	}
	return nil
}

func validateID(field, id string) error {
	if id == "" {
		return invalidField(field, "required")
	}
	if len(id) > maxIDLen {
		return invalidField(field, "longer than %d bytes", maxIDLen)
	}
	return nil
}

// validateTxID checks a tx id a client sends back: it must be one this
// cluster could have minted.
func validateTxID(id string) (raftlog.Mint, error) {
	if err := validateID("tx_id", id); err != nil {
		return raftlog.Mint{}, err
	}
	m, err := raftlog.ParseTxID(id)
	if err != nil {
		return raftlog.Mint{}, invalidField("tx_id", "%q is not a transaction id", id)
	}
	return m, nil
}

func validateName(field, name string) error {
	if name == "" {
		return invalidField(field, "required")
	}
	if len(name) > maxNameLen {
		return invalidField(field, "longer than %d bytes", maxNameLen)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return invalidField(field, "%q: only letters, digits, '-', '_' and '.' are allowed", name)
		}
	}
	return nil
}
