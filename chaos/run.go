package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bankv1 "github.com/tmcluster/tmcluster/proto/bank/v1"
	"github.com/tmcluster/tmcluster/test/procs"
)

// Result is what a run did and found.
type Result struct {
	Seed      uint64 `json:"seed"`
	ReportDir string `json:"report_dir"`
	// Load is how long the workload and the faults ran.
	Load        time.Duration     `json:"load"`
	Elapsed     time.Duration     `json:"elapsed"`
	Faults      []FaultEvent      `json:"faults"`
	Tx          TxCounts          `json:"transactions"`
	Leaderless  leaderlessStats   `json:"leaderless"`
	Checks      []CheckResult     `json:"checks"`
	MoneyBefore int64             `json:"money_before"`
	MoneyAfter  int64             `json:"money_after"`
	Interrupted bool              `json:"interrupted,omitempty"`
	FaultCounts map[FaultKind]int `json:"fault_counts"`
	Notes       map[string]string `json:"-"`
	// Problems are what kept the end phase from doing its part (the
	// checks that could not run are marked so).
	Problems []string `json:"problems,omitempty"`
}

// Passed reports whether every check ran and found nothing.
func (r *Result) Passed() bool {
	if r.Interrupted || len(r.Checks) == 0 {
		return false
	}
	for _, c := range r.Checks {
		if !c.Pass {
			return false
		}
	}
	return true
}

// Run runs the chaos tier as cfg says: start the processes, run the load and
// the faults for cfg.Duration, heal, settle every key, wait for quiescence,
// check, and write the report folder. It returns an error only when the run
// could not be carried out (the processes did not start, ctx ended); a
// violation is a Result that did not pass. Every process it started is
// stopped before it returns.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg = cfg.withDefaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if err := prepareReportDir(cfg); err != nil {
		return nil, err
	}
	res := &Result{Seed: cfg.Seed, ReportDir: cfg.ReportDir}
	began := time.Now()
	hist, err := NewHistory(filepath.Join(cfg.ReportDir, "history.jsonl"))
	if err != nil {
		return nil, err
	}
	defer hist.Close()
	faults, err := os.Create(filepath.Join(cfg.ReportDir, "faults.jsonl"))
	if err != nil {
		return nil, err
	}
	defer faults.Close()

	fmt.Fprintf(cfg.Progress, "chaos: seed %d, report folder %s\n", cfg.Seed, cfg.ReportDir)
	e, err := setUp(ctx, cfg)
	if e != nil {
		defer func() { stopAndClean(e, res, cfg) }()
	}
	if err != nil {
		return nil, fmt.Errorf("chaos: set-up: %w (logs in %s)", err, clusterDir(cfg.ReportDir))
	}
	runErr := runAll(ctx, e, hist, faults, res)
	res.Elapsed = time.Since(began)
	res.Interrupted = ctx.Err() != nil
	if err := writeReport(cfg, res); err != nil && runErr == nil {
		runErr = err
	}
	return res, runErr
}

// runAll runs the load, the faults, the end phase and the checks.
func runAll(ctx context.Context, e *env, hist *History, faults *os.File, res *Result) error {
	cfg := e.cfg
	v := newViolations()
	ledgers, err := e.ledgers(ctx)
	if err != nil {
		return err
	}
	res.MoneyBefore = sumMoney(ledgers)
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	lw := &leaderWatch{cluster: e.cluster}
	go lw.run(watchCtx)

	w := newWorkload(e, hist)
	loadStart := time.Now()
	in := newInjector(e, w, v, faults, loadStart)
	fmt.Fprintf(cfg.Progress, "chaos: %d nodes and %d banks up; load and faults for %v\n", cfg.Nodes, cfg.Banks, cfg.Duration)
	stop := make(chan struct{})
	timer := time.AfterFunc(cfg.Duration, func() { close(stop) })
	defer timer.Stop()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); w.run(ctx, stop) }()
	go func() { defer wg.Done(); in.run(ctx, stop) }()
	wg.Wait()
	res.Load = time.Since(loadStart)
	res.Faults = in.faultEvents()
	if ctx.Err() == nil {
		endPhase(ctx, e, w, v, res)
	}
	stopWatch()
	res.FaultCounts = map[FaultKind]int{}
	for _, f := range res.Faults {
		res.FaultCounts[f.Kind]++
	}
	res.Leaderless = lw.stats()
	res.Tx = countTx(hist.Ops())
	if ctx.Err() != nil {
		return ctx.Err()
	}
	res.Checks = v.results(res.Notes)
	return hist.Flush()
}

// sumMoney adds up every balance of every ledger.
func sumMoney(ledgers []*bankv1.GetLedgerResponse) int64 {
	var sum int64
	for _, l := range ledgers {
		sum += procs.Total(l)
	}
	return sum
}

// prepareReportDir creates the report folder, refusing one that holds an
// earlier run (its data dirs would be reused), and writes seed.txt.
func prepareReportDir(cfg Config) error {
	if _, err := os.Stat(clusterDir(cfg.ReportDir)); err == nil {
		return fmt.Errorf("chaos: %s already holds a run; choose another report folder", cfg.ReportDir)
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(cfg.ReportDir, 0o755); err != nil {
		return fmt.Errorf("chaos: report folder: %w", err)
	}
	seed := fmt.Sprintf("%d\n\nreproduce with: go run ./chaos/cmd/tmchaos --seed %d --duration %v\n",
		cfg.Seed, cfg.Seed, cfg.Duration)
	return os.WriteFile(filepath.Join(cfg.ReportDir, "seed.txt"), []byte(seed), 0o644)
}
