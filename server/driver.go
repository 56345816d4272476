package server

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
	"github.com/tmcluster/tmcluster/raftlog"
)

// plan is what a driver needs to run 2PC for one transaction: the frozen
// branch list and what its decision entry must carry.
type plan struct {
	txID        string
	mint        raftlog.Mint
	branches    []*tmv1.Branch // participant and payload; states are the driver's to fill
	key         string
	fingerprint []byte
	labels      map[string]string
	createTime  time.Time
	deadline    time.Time
}

// driver runs phase one and the decision of one transaction on the leader.
// There is at most one per tx id (leadership.drivers). done closes once the
// decision applied (res) or the attempt failed (err); err is then a gRPC
// status to give the caller, and nothing was sent to participants.
type driver struct {
	plan plan
	done chan struct{}
	res  raftlog.Result
	err  error
}

// startDriver returns the driver running for p.txID, starting one if none.
func (l *leadership) startDriver(p plan) *driver {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.startDriverLocked(p)
}

func (l *leadership) startDriverLocked(p plan) *driver {
	if d := l.drivers[p.txID]; d != nil {
		return d
	}
	d := &driver{plan: p, done: make(chan struct{})}
	if !l.go_(func() { l.drive(d) }) {
		d.err = noLeader("leadership lost")
		close(d.done)
		return d
	}
	l.drivers[p.txID] = d
	if p.key != "" && l.byKey[p.key] == nil {
		l.byKey[p.key] = d
	}
	return d
}

func (l *leadership) finishDriver(d *driver) {
	l.mu.Lock()
	delete(l.drivers, d.plan.txID)
	if l.byKey[d.plan.key] == d {
		delete(l.byKey, d.plan.key)
	}
	l.mu.Unlock()
	close(d.done)
}

// drivesFor reports whether a running driver has a branch at participant.
func (l *leadership) drivesFor(participant string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, d := range l.drivers {
		for _, b := range d.plan.branches {
			if b.GetParticipant() == participant {
				return true
			}
		}
	}
	return false
}

// runningDriver returns the driver for txID, or nil.
func (l *leadership) runningDriver(txID string) *driver {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.drivers[txID]
}

// drive is the 2PC driver: verify leadership, prepare every branch, propose
// the decision, and act only on what Apply returned (rule 1). Before the
// decision is proposed any NO, error or timeout decides ABORT; once it is
// proposed a failed Apply means the outcome is unknown: nothing is sent to
// participants and the caller is told OUTCOME_UNKNOWN (rule 3).
func (l *leadership) drive(d *driver) {
	defer l.finishDriver(d)
	p := d.plan
	if p.mint.Index <= l.s.fsm.GCFloor() {
		// The decision entry would be refused (TX_TOO_OLD): prepare nothing.
		d.err = applyError(p.txID, raftlog.ErrTxTooOld, nil)
		return
	}
	if err := l.s.raft.VerifyLeader(); err != nil {
		d.err = noLeader("leadership not verified: " + err.Error())
		return
	}
	branches, outcome, reason := l.prepareAll(p)
	cmd := &tmlogv1.DecideCommand{
		TxId:               p.txID,
		MintTerm:           p.mint.Term,
		MintIndex:          p.mint.Index,
		Outcome:            outcome,
		Kind:               tmlogv1.DecideKind_DECIDE_KIND_DRIVER,
		Branches:           branches,
		AbortReason:        reason,
		IdempotencyKey:     p.key,
		Fingerprint:        p.fingerprint,
		CreateTimeUnixNano: p.createTime.UnixNano(),
		DeadlineUnixNano:   p.deadline.UnixNano(),
		DecideTimeUnixNano: l.s.cfg.Now().UnixNano(),
		Labels:             p.labels,
	}
	res, err := l.s.raft.Propose(cmd)
	if err != nil {
		l.s.log.Warn("decision outcome unknown", "tx_id", p.txID, "err", err)
		d.err = outcomeUnknown(p.txID, err)
		return
	}
	if res.Err != nil {
		d.err = applyError(p.txID, res.Err, res.Tx)
		return
	}
	d.res = res
	if res.Decided {
		l.s.metrics.noteDecision(res.Tx, "driver")
	}
	l.phase2.start(res.Tx)
}

// prepareAll sends Prepare to every branch in parallel and returns the
// branches with their votes, and the outcome to propose. The first NO or
// failure cancels the prepares still in flight: the decision is ABORT. The
// first branch is prepared on the driver's own goroutine, the others on one
// goroutine each; what every request shares is built once.
func (l *leadership) prepareAll(p plan) ([]*tmv1.Branch, tmlogv1.Outcome, string) {
	s := l.s
	now := s.cfg.Now()
	// A duration on the leader's clock (cfg.Now), so the prepares' deadline
	// agrees with the transaction's deadline whatever that clock says.
	ctx, cancel := context.WithTimeout(l.ctx, min(p.deadline.Sub(now), s.cfg.PrepareTimeout))
	defer cancel()
	shared := &prepareShared{
		deadline:  timestamppb.New(p.deadline),
		endpoints: s.fsm.CoordinatorEndpoints(),
		clusterID: s.fsm.ClusterID(),
		term:      l.term(),
	}

	out := make([]*tmv1.Branch, len(p.branches))
	var mu sync.Mutex
	reason := ""
	prepare := func(nb *tmv1.Branch) {
		state, why := s.prepareOne(ctx, p, nb, shared)
		mu.Lock()
		defer mu.Unlock()
		nb.State, nb.Reason = state, why
		if state != tmv1.BranchState_BRANCH_STATE_PREPARED && state != tmv1.BranchState_BRANCH_STATE_READ_ONLY {
			if reason == "" {
				reason = fmt.Sprintf("branch %s: %s", nb.GetBranchId(), why)
			}
			cancel()
		}
	}
	var wg sync.WaitGroup
	for i, b := range p.branches {
		nb := &tmv1.Branch{BranchId: b.GetBranchId(), Participant: b.GetParticipant(), Payload: b.GetPayload(),
			State: tmv1.BranchState_BRANCH_STATE_ENLISTED}
		out[i] = nb
		if i > 0 {
			wg.Add(1)
			go func() { defer wg.Done(); prepare(nb) }()
		}
	}
	if len(out) > 0 {
		prepare(out[0])
	}
	wg.Wait()
	if reason != "" {
		return out, tmlogv1.Outcome_OUTCOME_ABORT, reason
	}
	return out, tmlogv1.Outcome_OUTCOME_COMMIT, ""
}

// prepareShared is what every Prepare of one transaction carries alike. The
// requests share its messages, which nobody modifies.
type prepareShared struct {
	deadline  *timestamppb.Timestamp
	endpoints []string
	clusterID string
	term      uint64
}

// prepareOne asks one participant to prepare. A YES is PREPARED, READ_ONLY
// is READ_ONLY, NO or VOTE_UNSPECIFIED is VOTED_NO; an RPC error leaves the
// branch ENLISTED (the participant may still have voted YES: it gets Abort).
func (s *Server) prepareOne(ctx context.Context, p plan, b *tmv1.Branch, sh *prepareShared) (tmv1.BranchState, string) {
	client, err := s.participantClient(b.GetParticipant())
	if err != nil {
		return tmv1.BranchState_BRANCH_STATE_ENLISTED, err.Error()
	}
	req := &tmv1.PrepareRequest{
		TxId:                 p.txID,
		BranchId:             b.GetBranchId(),
		Payload:              b.GetPayload(),
		Deadline:             sh.deadline,
		CoordinatorEndpoints: sh.endpoints,
		Term:                 sh.term,
		ResolveAfter:         durationpb.New(p.deadline.Sub(s.cfg.Now())),
		ClusterId:            sh.clusterID,
		Participant:          b.GetParticipant(),
	}
	sent := time.Now()
	resp, err := client.Prepare(ctx, req)
	s.metrics.prepareLatency.WithLabelValues(b.GetParticipant()).Observe(time.Since(sent).Seconds())
	if err != nil {
		return tmv1.BranchState_BRANCH_STATE_ENLISTED, "prepare failed: " + err.Error()
	}
	switch resp.GetVote() {
	case tmv1.Vote_VOTE_YES:
		return tmv1.BranchState_BRANCH_STATE_PREPARED, ""
	case tmv1.Vote_VOTE_READ_ONLY:
		return tmv1.BranchState_BRANCH_STATE_READ_ONLY, ""
	case tmv1.Vote_VOTE_NO:
		return tmv1.BranchState_BRANCH_STATE_VOTED_NO, "voted NO: " + resp.GetReason()
	}
	return tmv1.BranchState_BRANCH_STATE_VOTED_NO, "vote unspecified (counts as NO)"
}

// planFromRecord re-drives a recorded PREPARING transaction.
func planFromRecord(r raftlog.Record, key string, fp []byte) plan {
	tx := r.Tx
	return plan{
		txID:        tx.GetTxId(),
		mint:        raftlog.Mint{Term: r.MintTerm, Index: r.MintIndex},
		branches:    cloneBranches(tx.GetBranches()),
		key:         key,
		fingerprint: fp,
		labels:      tx.GetLabels(),
		createTime:  tx.GetCreateTime().AsTime(),
		deadline:    tx.GetDeadline().AsTime(),
	}
}

func cloneBranches(bs []*tmv1.Branch) []*tmv1.Branch {
	out := make([]*tmv1.Branch, len(bs))
	for i, b := range bs {
		out[i] = proto.Clone(b).(*tmv1.Branch)
	}
	return out
}

// wait waits for the driver, or ctx. The driver goes on when ctx ends.
func (d *driver) wait(ctx context.Context) error {
	select {
	case <-d.done:
		return d.err
	case <-ctx.Done():
		return applyError(d.plan.txID, ctx.Err(), nil)
	}
}
