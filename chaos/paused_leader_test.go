package chaos

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tmcluster/tmcluster/test/testbin"
)

// Timing of the paused-leader test: a short transaction timeout (tmd's
// --default-timeout and every request's), bankd's default in-doubt grace,
// and the slack allowed on top for one Resolve round trip, the new leader's
// ABORT entry and the poller's interval.
const (
	pausedTxTimeout = 3 * time.Second
	kitGrace        = time.Second
	resolveSlack    = 2 * time.Second
	pollInterval    = 100 * time.Millisecond
)

// TestPausedLeader SIGSTOPs the leader while transfers are in flight and
// its prepares are out (bank-0 is stopped first, so the leader's drivers
// wait on it), waits for a new leader, lets bank-0 go on — it then answers
// prepares the deposed leader sent — runs more transfers, and SIGCONTs the
// old leader. Then: atomicity, conservation, no pending branch, every key
// settled; every branch seen prepared ended within its deadline plus grace
// (plus slack); and every branch of the deposed leader's term first seen
// prepared after it lost leadership ended ABORTED.
func TestPausedLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos tier: builds the binaries and runs processes")
	}
	bin := testbin.Build(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := Config{BinDir: bin, ReportDir: reportDir(t), Seed: 7, Banks: 2, Accounts: 10,
		TxTimeout: pausedTxTimeout, NodeArgs: []string{"--default-timeout", pausedTxTimeout.String()},
		Progress: newTestLog(t)}.withDefaults()
	if err := prepareReportDir(cfg); err != nil {
		t.Fatal(err)
	}
	e, err := setUp(ctx, cfg)
	if e != nil {
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("process logs:\n%s", e.cluster.LogTails(30))
			}
			_ = e.close()
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	hist, err := NewHistory(filepath.Join(cfg.ReportDir, "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer hist.Close()
	pollCtx, stopPoll := context.WithCancel(ctx)
	defer stopPoll()
	poller := startBranchPoller(pollCtx, e.banks, pollInterval)
	w := newWorkload(e, hist)
	stop, loadDone := make(chan struct{}), make(chan struct{})
	go func() { w.run(ctx, stop); close(loadDone) }()

	sc := pauseLeaderScenario(ctx, t, e)
	close(stop)
	<-loadDone
	settle(ctx, t, e, w)
	stopPoll()
	checkDeposedBranches(t, poller, sc)
}

// scenario is what pauseLeaderScenario did: the old leader's term, when it
// was paused and when another node was known to lead.
type scenario struct {
	oldTerm             uint64
	pausedAt, deposedAt time.Time
}

// pauseLeaderScenario runs the pauses.
func pauseLeaderScenario(ctx context.Context, t *testing.T, e *env) scenario {
	t.Helper()
	sleepCtx(ctx, 2*time.Second) // transfers flowing
	old, err := e.cluster.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, err := old.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bank0 := e.banks[0]
	must(t, bank0.Pause())
	sleepCtx(ctx, 300*time.Millisecond) // the leader's prepares to bank-0 pile up
	must(t, old.Pause())
	pausedAt := time.Now()
	next, err := e.cluster.AwaitLeader(ctx, leaderPoll, old.ID)
	if err != nil {
		t.Fatal(err)
	}
	deposedAt := time.Now()
	must(t, bank0.Resume()) // answers the deposed leader's queued prepares
	t.Logf("leader %s (term %d) paused; %s leads after %v; bank-0 resumed", old.ID, st.GetTerm(), next.ID,
		deposedAt.Sub(pausedAt).Round(time.Millisecond))
	sleepCtx(ctx, 1500*time.Millisecond)
	must(t, old.Resume())
	t.Logf("%s resumed after %v stopped", old.ID, time.Since(pausedAt).Round(time.Millisecond))
	sleepCtx(ctx, 3*time.Second)
	return scenario{oldTerm: st.GetTerm(), pausedAt: pausedAt, deposedAt: deposedAt}
}

// settle heals, settles every key, waits for quiescence and runs the
// chaos tier's end checks, failing the test on any violation.
func settle(ctx context.Context, t *testing.T, e *env, w *workload) {
	t.Helper()
	if err := e.heal(ctx); err != nil {
		t.Fatal(err)
	}
	w.finalize(ctx)
	qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_, qerr := e.cluster.WaitQuiescent(qctx, 200*time.Millisecond)
	records, rerr := waitCompleted(qctx, e.admin)
	cancel()
	if qerr != nil || rerr != nil {
		t.Errorf("not quiescent: %v %v", qerr, rerr)
	}
	v := newViolations()
	res := &Result{Notes: map[string]string{}}
	runChecks(ctx, e, w, v, res, records, 0)
	for _, p := range res.Problems {
		t.Errorf("end checks: %s", p)
	}
	for _, c := range v.results(res.Notes) {
		if !c.Pass {
			t.Errorf("check %s failed (%d violations):\n  %s", c.Name, c.Violations, strings.Join(c.Details, "\n  "))
		}
	}
	tc := countTx(w.h.Ops())
	t.Logf("%d transfers: %d committed, %d aborted (%d for funds), %d unknown then settled",
		tc.Transfers, tc.Committed, tc.AbortedFunds+tc.AbortedOther, tc.AbortedFunds, tc.Unknown)
}

// checkDeposedBranches: every branch seen prepared ended within its
// deadline plus grace (bounded by when it was first seen prepared plus the
// transaction timeout: its deadline cannot be later), and every branch of
// the deposed leader's term that a bank recorded after it lost leadership
// (a listing that started after that did not hold it yet) ended ABORTED.
func checkDeposedBranches(t *testing.T, p *branchPoller, sc scenario) {
	t.Helper()
	oldTerm := sc.oldTerm
	seen := p.seenPrepared()
	var deposed, oldAborted int
	for _, s := range seen {
		term, ok := mintTerm(s.txID)
		if !ok {
			t.Fatalf("tx id %q is not in the documented tx-<term>-<index>-<seq> form", s.txID)
		}
		bound := s.prepared.Add(pausedTxTimeout + kitGrace + resolveSlack)
		if s.ended.IsZero() || s.ended.After(bound) {
			t.Errorf("tx %s branch %s at %s: seen prepared at %s, ended %s at %s: later than its deadline plus grace (%s)",
				s.txID, s.branchID, s.bank, s.prepared.Format("15:04:05.000"), s.outcome,
				s.ended.Format("15:04:05.000"), bound.Format("15:04:05.000"))
		}
		if term != oldTerm {
			continue
		}
		if s.outcome == "ABORTED" && s.ended.After(sc.pausedAt) {
			oldAborted++
		}
		if s.notBefore.After(sc.deposedAt) {
			deposed++
			if s.outcome != "ABORTED" {
				t.Errorf("tx %s branch %s at %s: prepared for the deposed leader (term %d) after it lost leadership, ended %s",
					s.txID, s.branchID, s.bank, oldTerm, s.outcome)
			}
		}
	}
	t.Logf("%d branches seen prepared; %d of the deposed leader's term (%d) were seen prepared and aborted after its pause, "+
		"%d of them recorded by their bank after it lost leadership", len(seen), oldAborted, oldTerm, deposed)
	if oldAborted == 0 {
		t.Error("no branch of the deposed leader's term was seen prepared and aborted after its pause: the pause caught no prepare in flight")
	}
}

// must fails the test at once on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
