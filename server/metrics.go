package server

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// metrics are one node's Prometheus metrics, in a registry of its own (no
// global state: several nodes may share a process in tests). Counters of
// decisions and phase two count what this node did while it led.
type metrics struct {
	reg            *prometheus.Registry
	decided        *prometheus.CounterVec   // outcome, by
	commitLatency  prometheus.Histogram     // request to applied decision
	prepareLatency *prometheus.HistogramVec // participant
	retries        *prometheus.CounterVec   // participant
	hazards        *prometheus.CounterVec   // participant
	leaderChanges  prometheus.Counter
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		decided: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tmcluster_transactions_decided_total",
			Help: "Decisions applied by this node as leader, by outcome and by who proposed them (driver, user, resolve, reaper).",
		}, []string{"outcome", "by"}),
		commitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tmcluster_commit_latency_seconds",
			Help:    "Time from an Execute or Commit request to its applied decision, on the leader.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		prepareLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tmcluster_prepare_latency_seconds",
			Help:    "Prepare round trips to each participant.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2, 16),
		}, []string{"participant"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tmcluster_phase2_retries_total",
			Help: "Phase-two Commit or Abort attempts that failed and will be retried.",
		}, []string{"participant"}),
		hazards: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tmcluster_heuristic_hazards_total",
			Help: "Branches a participant refused to end as decided (atomicity alarms).",
		}, []string{"participant"}),
		leaderChanges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tmcluster_leader_changes_total",
			Help: "Times this node gained or lost leadership.",
		}),
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	m.reg.MustRegister(m.decided, m.commitLatency, m.prepareLatency, m.retries, m.hazards, m.leaderChanges,
		gauge("tmcluster_raft_term", "Current Raft term.", func() float64 { return float64(s.raft.Term()) }),
		gauge("tmcluster_raft_commit_index", "Raft commit index.", func() float64 { return float64(s.raft.CommitIndex()) }),
		gauge("tmcluster_raft_applied_index", "Index of the last entry the FSM applied.", func() float64 { return float64(s.fsm.AppliedIndex()) }),
		gauge("tmcluster_is_leader", "1 while this node leads.", func() float64 {
			if l, _ := s.current(); l != nil {
				return 1
			}
			return 0
		}),
		gauge("tmcluster_inflight_transactions", "2PC drivers running on this node (it leads).", func() float64 {
			if l, _ := s.current(); l != nil {
				l.mu.Lock()
				defer l.mu.Unlock()
				return float64(len(l.drivers))
			}
			return 0
		}),
		gauge("tmcluster_fsm_transactions", "Transaction records in the replicated state.", func() float64 { return float64(s.fsm.Len()) }),
		gauge("tmcluster_fsm_idempotency_keys", "Idempotency key bindings in the replicated state.", func() float64 { return float64(s.fsm.KeyCount()) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// MetricsHandler serves this node's metrics in the Prometheus text format.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})
}

// noteDecision counts an applied decision this leader acted on.
func (m *metrics) noteDecision(tx *tmv1.Transaction, by string) {
	outcome := "aborted"
	if tx.GetState() == tmv1.TransactionState_TRANSACTION_STATE_COMMITTED {
		outcome = "committed"
	}
	m.decided.WithLabelValues(outcome, by).Inc()
}

func (m *metrics) observeCommit(start time.Time) {
	m.commitLatency.Observe(time.Since(start).Seconds())
}
