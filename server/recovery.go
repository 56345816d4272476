package server

import (
	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
)

// recover takes over the unfinished work of earlier leaders: phase two of
// every decided, incomplete transaction; a new driver for every PREPARING
// one inside its deadline (prepares are idempotent); ABORT for ACTIVE or
// PREPARING ones past their deadline. One-shot transactions that never
// reached a decision have no record: their branches learn ABORTED through
// Resolve at their deadline.
func (l *leadership) recover() {
	recs := l.s.fsm.Unfinished()
	if len(recs) > 0 {
		l.s.log.Info("recovering unfinished transactions", "count", len(recs))
	}
	l.sweep(true)
}

// reap is the periodic sweep: expired undecided transactions are aborted,
// and decided incomplete ones get phase two again if no delivery runs.
func (l *leadership) reap() { l.sweep(false) }

func (l *leadership) sweep(redrive bool) {
	s := l.s
	now := s.cfg.Now()
	unfinished := s.fsm.Unfinished()
	open := 0
	for _, r := range unfinished {
		if !decided(r.Tx) {
			open++
		}
	}
	l.openRecords.Store(int64(open))
	for _, r := range unfinished {
		if l.ctx.Err() != nil {
			return
		}
		tx := r.Tx
		switch {
		case decided(tx):
			l.phase2.start(tx)
		case l.runningDriver(tx.GetTxId()) != nil:
			// Its driver decides.
		case !tx.GetDeadline().AsTime().After(now):
			if _, err := l.proposeAbort(r, tmlogv1.DecideKind_DECIDE_KIND_REAPER, "deadline passed before a decision"); err != nil {
				s.log.Warn("reaper abort failed", "tx_id", tx.GetTxId(), "err", err)
				return
			}
		case redrive && tx.GetState() == tmv1.TransactionState_TRANSACTION_STATE_PREPARING:
			l.startDriver(s.recordPlan(r))
		}
	}
}

// collect removes what the retention window allows (rule 6).
func (l *leadership) collect() {
	s := l.s
	cutoff := s.cfg.Now().Add(-s.cfg.Retention)
	if _, err := s.raft.Propose(&tmlogv1.CollectCommand{CutoffUnixNano: cutoff.UnixNano()}); err != nil {
		s.log.Warn("collection not logged", "err", err)
	}
}
