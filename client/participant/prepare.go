package participant

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
	"google.golang.org/grpc/codes"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// Reasons the kit gives for NO votes it decides itself.
const (
	reasonNoResolveAfter = "resolve_after is not positive"
	reasonTombstone      = "branch was aborted before it was prepared"
)

// prepareResult is the answer to one Prepare: a vote or a gRPC error.
type prepareResult struct {
	vote   Vote
	reason string
	err    error
	rec    *record // the record written by this Prepare, if any
}

// errRollback rolls back a Prepare transaction whose hook did not vote YES;
// the kit then records vote and reason alone.
type errRollback struct {
	vote   Vote
	reason string
}

func (e *errRollback) Error() string { return "participant: prepare rolled back: " + e.reason }

// prepare runs obligations 1, 2 and 7 for one Prepare request.
func (k *Kit) prepare(req *tmv1.PrepareRequest) (*tmv1.PrepareResponse, error) {
	arrival := time.Now()
	if err := checkIDs(req.GetTxId(), req.GetBranchId()); err != nil {
		return nil, err
	}
	key := branchKey(req.GetTxId(), req.GetBranchId())
	unlock := k.locks.lock(string(key))
	defer unlock()

	var res prepareResult
	err := k.db.View(func(tx *bbolt.Tx) (err error) {
		res, err = k.preparePlan(tx, key, req)
		return err
	})
	if err == nil && res.vote == VoteUnspecified && res.err == nil {
		res, err = k.prepareWrite(key, req)
	}
	if err != nil {
		return nil, storeError(err)
	}
	if res.err != nil {
		return nil, res.err
	}
	if res.rec != nil && res.rec.State == StatePrepared {
		k.resolver.add(res.rec, arrival.Add(res.rec.ResolveAfter+k.cfg.Grace))
	}
	k.log.Debug("participant: prepare", "tx_id", req.GetTxId(), "branch_id", req.GetBranchId(),
		"vote", res.vote, "reason", res.reason)
	return &tmv1.PrepareResponse{Vote: tmv1.Vote(res.vote), Reason: res.reason}, nil
}

// preparePlan answers without writing when it can: a branch already voted
// on, or a stale term. A zero result means a write is needed.
func (k *Kit) preparePlan(tx *bbolt.Tx, key []byte, req *tmv1.PrepareRequest) (prepareResult, error) {
	rec, err := getRecord(tx, key)
	switch {
	case err != nil:
		return prepareResult{}, err
	case rec != nil && rec.State != StateTombstone:
		return answerVoted(rec, req), nil
	case rec == nil && req.GetTerm() < termOf(tx, req.GetClusterId()):
		return prepareResult{err: staleTerm(tx, req)}, nil
	}
	return prepareResult{}, nil
}

// prepareWrite records the vote, running the hook for a first Prepare.
func (k *Kit) prepareWrite(key []byte, req *tmv1.PrepareRequest) (prepareResult, error) {
	var res prepareResult
	err := k.db.Batch(func(tx *bbolt.Tx) (err error) {
		res, err = k.prepareTx(tx, key, req)
		return err
	})
	var rb *errRollback
	if !errors.As(err, &rb) {
		return res, err
	}
	err = k.db.Update(func(tx *bbolt.Tx) (err error) {
		res, err = k.preparePlan(tx, key, req)
		if err != nil || res.vote != VoteUnspecified || res.err != nil {
			return err
		}
		old, err := getRecord(tx, key)
		if err != nil {
			return err
		}
		res, err = k.recordVote(tx, old, req, rb.vote, rb.reason)
		return err
	})
	return res, err
}

// prepareTx is the write transaction of a Prepare. It re-checks everything
// preparePlan checked, since the branch lock does not cover other branches'
// terms.
func (k *Kit) prepareTx(tx *bbolt.Tx, key []byte, req *tmv1.PrepareRequest) (prepareResult, error) {
	res, err := k.preparePlan(tx, key, req)
	if err != nil || res.vote != VoteUnspecified || res.err != nil {
		return res, err
	}
	old, err := getRecord(tx, key)
	if err != nil {
		return res, err
	}
	if old != nil { // a tombstone
		return k.recordVote(tx, old, req, VoteNo, reasonTombstone)
	}
	if ra := req.GetResolveAfter(); ra.CheckValid() != nil || ra.AsDuration() <= 0 {
		return k.recordVote(tx, nil, req, VoteNo, reasonNoResolveAfter)
	}
	vote, reason, err := k.callPrepare(tx, req)
	switch {
	case err != nil:
		return res, &errRollback{vote: VoteNo, reason: "prepare failed: " + err.Error()}
	case vote == VoteNo || vote == VoteReadOnly:
		return res, &errRollback{vote: vote, reason: reason}
	case vote != VoteYes:
		return res, &errRollback{vote: VoteNo, reason: fmt.Sprintf("prepare hook returned %v", vote)}
	}
	return k.recordVote(tx, nil, req, VoteYes, "")
}

// callPrepare runs the Prepare hook, turning a panic into an error.
func (k *Kit) callPrepare(tx *bbolt.Tx, req *tmv1.PrepareRequest) (vote Vote, reason string, err error) {
	defer func() {
		if p := recover(); p != nil {
			vote, err = VoteUnspecified, fmt.Errorf("hook panicked: %v", p)
		}
	}()
	return k.cfg.Hooks.Prepare(tx, Branch{TxID: req.GetTxId(), BranchID: req.GetBranchId(), Payload: req.GetPayload()})
}

// recordVote writes the record of a first vote (replacing old, a tombstone,
// if any), counts it and raises the cluster's term.
func (k *Kit) recordVote(tx *bbolt.Tx, old *record, req *tmv1.PrepareRequest, vote Vote, reason string) (prepareResult, error) {
	now := time.Now()
	rec := &record{
		TxID: req.GetTxId(), BranchID: req.GetBranchId(), Participant: req.GetParticipant(),
		Payload: req.GetPayload(), ClusterID: req.GetClusterId(), Term: req.GetTerm(),
		Endpoints: req.GetCoordinatorEndpoints(), ResolveAfter: req.GetResolveAfter().AsDuration(),
		State: stateOfVote(vote), Reason: reason, VoteTime: now.UnixNano(),
	}
	if rec.State != StatePrepared {
		rec.EndTime = now.UnixNano()
		rec.PurgeAt = now.Add(k.cfg.Retention).UnixNano()
	}
	if old != nil && old.PurgeAt > rec.PurgeAt {
		rec.PurgeAt = old.PurgeAt
	}
	if err := putRecord(tx, old, rec); err != nil {
		return prepareResult{}, err
	}
	if err := countTransition(tx, StateUnknown, rec.State); err != nil {
		return prepareResult{}, err
	}
	return prepareResult{vote: vote, reason: reason, rec: rec}, raiseTerm(tx, req.GetClusterId(), req.GetTerm())
}

func stateOfVote(v Vote) State {
	switch v {
	case VoteYes:
		return StatePrepared
	case VoteReadOnly:
		return StateReadOnly
	}
	return StateVotedNo
}

// answerVoted repeats the vote of a branch already voted on, or rejects a
// different payload.
func answerVoted(rec *record, req *tmv1.PrepareRequest) prepareResult {
	if !bytes.Equal(rec.Payload, req.GetPayload()) {
		return prepareResult{err: branchError(tmv1.ReasonPayloadMismatch,
			"branch was prepared with a different payload", rec.TxID, rec.BranchID, rec.State)}
	}
	return prepareResult{vote: rec.State.vote(), reason: rec.Reason}
}

func staleTerm(tx *bbolt.Tx, req *tmv1.PrepareRequest) error {
	return statusError(codes.FailedPrecondition, tmv1.ReasonStaleTerm,
		fmt.Sprintf("term %d is older than term %d already seen from cluster %q",
			req.GetTerm(), termOf(tx, req.GetClusterId()), req.GetClusterId()),
		map[string]string{tmv1.MetaTxID: req.GetTxId(), metaBranchID: req.GetBranchId()})
}
