package server

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
)

// phase2 delivers applied decisions to participants: one goroutine per
// branch retries with capped exponential backoff and jitter until the
// participant acknowledges, so one dead participant slows no other. The
// acknowledgements are logged in batches by runAcks.
type phase2 struct {
	l    *leadership
	acks chan queuedAck

	mu       sync.Mutex
	active   map[string]bool                 // tx ids being delivered
	attempts map[string]map[string]*attempts // tx id → branch id → what delivery has tried
}

// attempts is this leader's phase-two record of one branch, shown in
// GetTransaction; it is not replicated (a new leader starts counting anew).
type attempts struct {
	n       uint32
	lastErr string
}

func newPhase2(l *leadership) *phase2 {
	return &phase2{l: l, acks: make(chan queuedAck, 4096), active: make(map[string]bool),
		attempts: make(map[string]map[string]*attempts)}
}

// needsPhaseTwo reports whether branch b of a transaction decided with
// state must still hear the decision.
func needsPhaseTwo(state tmv1.TransactionState, b *tmv1.Branch) bool {
	switch b.GetState() {
	case tmv1.BranchState_BRANCH_STATE_PREPARED:
		return true
	case tmv1.BranchState_BRANCH_STATE_ENLISTED:
		// Never prepared as far as the log knows, but a Prepare may have
		// reached it: an abort must leave a tombstone there.
		return state == tmv1.TransactionState_TRANSACTION_STATE_ABORTED
	}
	return false
}

func decided(tx *tmv1.Transaction) bool {
	st := tx.GetState()
	return st == tmv1.TransactionState_TRANSACTION_STATE_COMMITTED || st == tmv1.TransactionState_TRANSACTION_STATE_ABORTED
}

// start delivers tx's applied decision to every branch that needs it, unless
// a delivery for tx is already running. tx must be a value Apply returned or
// the FSM holds: phase two never acts on a proposal (rule 1).
func (p *phase2) start(tx *tmv1.Transaction) {
	if tx == nil || !decided(tx) || tx.GetCompleted() {
		return
	}
	p.mu.Lock()
	if p.active[tx.GetTxId()] {
		p.mu.Unlock()
		return
	}
	p.active[tx.GetTxId()] = true
	p.mu.Unlock()

	var pending []*tmv1.Branch
	for _, b := range tx.GetBranches() {
		if needsPhaseTwo(tx.GetState(), b) {
			pending = append(pending, b)
		}
	}
	// The last delivery to end clears the transaction: no goroutine waits.
	var left atomic.Int32
	left.Store(int32(len(pending)))
	ended := func() {
		if left.Add(-1) == 0 {
			p.finish(tx.GetTxId())
		}
	}
	if len(pending) == 0 {
		p.finish(tx.GetTxId())
	}
	for _, b := range pending {
		if !p.l.go_(func() { defer ended(); p.deliver(tx, b) }) {
			ended()
		}
	}
}

// finish forgets the delivery of txID once every branch's delivery ended.
func (p *phase2) finish(txID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.active, txID)
	delete(p.attempts, txID)
}

// note records one delivery attempt of a branch and its error, if any.
func (p *phase2) note(txID, branchID string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	byBranch := p.attempts[txID]
	if byBranch == nil {
		byBranch = make(map[string]*attempts)
		p.attempts[txID] = byBranch
	}
	a := byBranch[branchID]
	if a == nil {
		a = &attempts{}
		byBranch[branchID] = a
	}
	a.n++
	if err != nil {
		a.lastErr = err.Error()
	}
}

// decorate adds the attempts and last errors of deliveries in progress to
// tx's branches (tx is the caller's copy).
func (p *phase2) decorate(tx *tmv1.Transaction) {
	p.mu.Lock()
	defer p.mu.Unlock()
	byBranch := p.attempts[tx.GetTxId()]
	for _, b := range tx.GetBranches() {
		if a := byBranch[b.GetBranchId()]; a != nil {
			b.Attempts = a.n
			if a.lastErr != "" && b.GetReason() == "" {
				b.Reason = "phase two: " + a.lastErr
			}
		}
	}
}

// deliver sends Commit or Abort to one branch until it is acknowledged, the
// participant answers FAILED_PRECONDITION (a heuristic hazard), or
// leadership ends.
func (p *phase2) deliver(tx *tmv1.Transaction, b *tmv1.Branch) {
	s := p.l.s
	backoff := s.cfg.RetryMin
	for attempt := 1; ; attempt++ {
		err := s.sendDecision(p.l.ctx, tx, b)
		p.note(tx.GetTxId(), b.GetBranchId(), err)
		ack := &tmlogv1.Ack{TxId: tx.GetTxId(), BranchId: b.GetBranchId()}
		switch {
		case err == nil && tx.GetState() == tmv1.TransactionState_TRANSACTION_STATE_COMMITTED:
			ack.State = tmv1.BranchState_BRANCH_STATE_COMMITTED
		case err == nil:
			ack.State = tmv1.BranchState_BRANCH_STATE_ABORTED
		case status.Code(err) == codes.FailedPrecondition:
			s.metrics.hazards.WithLabelValues(b.GetParticipant()).Inc()
			ack.State, ack.Reason = tmv1.BranchState_BRANCH_STATE_HEURISTIC_HAZARD, status.Convert(err).Message()
			s.log.Error("HEURISTIC HAZARD: participant refused the decision", "tx_id", tx.GetTxId(),
				"branch", b.GetBranchId(), "participant", b.GetParticipant(), "decision", tx.GetState().String(), "err", err)
		default:
			if p.l.ctx.Err() != nil {
				return
			}
			s.metrics.retries.WithLabelValues(b.GetParticipant()).Inc()
			s.log.Debug("phase two retry", "tx_id", tx.GetTxId(), "branch", b.GetBranchId(), "attempt", attempt, "err", err)
			if !sleep(p.l.ctx, jitter(backoff)) {
				return
			}
			backoff = min(2*backoff, s.cfg.RetryMax)
			continue
		}
		// Wait until the batch holding the ack was proposed: until then the
		// transaction stays active, so a sweep does not deliver it again.
		q := queuedAck{ack: ack, logged: make(chan struct{})}
		select {
		case p.acks <- q:
			select {
			case <-q.logged:
			case <-p.l.ctx.Done():
			}
		case <-p.l.ctx.Done():
		}
		return
	}
}

// queuedAck is an acknowledgement waiting for its batch; logged closes once
// the batch was proposed (applied, or lost with the leadership).
type queuedAck struct {
	ack    *tmlogv1.Ack
	logged chan struct{}
}

// jitter spreads d over [d/2, d).
func jitter(d time.Duration) time.Duration {
	half := int64(d / 2)
	if half <= 0 {
		return d
	}
	return time.Duration(half + rand.Int64N(half))
}

// sendDecision sends the applied decision of tx to branch b.
func (s *Server) sendDecision(ctx context.Context, tx *tmv1.Transaction, b *tmv1.Branch) error {
	client, err := s.participantClient(b.GetParticipant())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.PrepareTimeout)
	defer cancel()
	if tx.GetState() == tmv1.TransactionState_TRANSACTION_STATE_COMMITTED {
		_, err = client.Commit(ctx, &tmv1.CommitRequest{TxId: tx.GetTxId(), BranchId: b.GetBranchId(),
			DecisionIndex: tx.GetDecisionIndex(), DecisionTerm: tx.GetDecisionTerm()})
		return err
	}
	ttl := tx.GetDeadline().AsTime().Sub(s.cfg.Now())
	if ttl < 0 {
		ttl = 0
	}
	_, err = client.Abort(ctx, &tmv1.AbortRequest{TxId: tx.GetTxId(), BranchId: b.GetBranchId(),
		DecisionIndex: tx.GetDecisionIndex(), DecisionTerm: tx.GetDecisionTerm(),
		TombstoneTtl: durationpb.New(ttl + s.cfg.PrepareTimeout)})
	return err
}

// runAcks logs acknowledgements in batches: it takes what has queued up in
// AckBatchDelay (at most AckBatchMax) and proposes one entry. A lost batch is
// harmless: the next leader finds the branches unacknowledged and delivers
// the decision again, which participants answer idempotently.
func (p *phase2) runAcks() {
	s := p.l.s
	for {
		var batch []queuedAck
		select {
		case <-p.l.ctx.Done():
			return
		case a := <-p.acks:
			batch = append(batch, a)
		}
		timer := time.NewTimer(s.cfg.AckBatchDelay)
	fill:
		for len(batch) < s.cfg.AckBatchMax {
			select {
			case a := <-p.acks:
				batch = append(batch, a)
			case <-timer.C:
				break fill
			}
		}
		timer.Stop()
		cmd := &tmlogv1.AckCommand{Acks: make([]*tmlogv1.Ack, len(batch))}
		for i, q := range batch {
			cmd.Acks[i] = q.ack
		}
		_, err := s.raft.Propose(cmd)
		for _, q := range batch {
			close(q.logged)
		}
		if err != nil {
			// The reaper's scan delivers these branches again.
			s.log.Warn("acknowledgement batch not logged", "acks", len(batch), "err", err)
			continue
		}
		s.acked.fire()
	}
}
