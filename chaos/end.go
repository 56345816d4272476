package chaos

import (
	"context"
	"fmt"
	"time"

	"github.com/tmcluster/tmcluster/client"
	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// getWorkers is how many GetTransaction calls the durability check runs at
// once.
const getWorkers = 16

// endPhase runs once the load and the faults have stopped: heal, settle
// every key, wait for quiescence, then run every check. What cannot be done
// (a bank that does not answer) leaves its checks not run, which fails
// them, and is noted in res.Problems.
func endPhase(ctx context.Context, e *env, w *workload, v *violations, res *Result) {
	cfg := e.cfg
	out := cfg.Progress
	res.Notes = map[string]string{}
	fmt.Fprintf(out, "chaos: load stopped after %v; healing every process\n", res.Load.Round(time.Second))
	if err := e.heal(ctx); err != nil {
		v.add(CheckService, "the final heal failed: %v", err)
		res.Problems = append(res.Problems, "final heal: "+err.Error())
	}
	keys := countKeys(w.h.Ops())
	fmt.Fprintf(out, "chaos: re-executing %d keys for their final outcomes\n", keys)
	start := time.Now()
	w.finalize(ctx)
	fmt.Fprintf(out, "chaos: final outcomes in %v; waiting for quiescence (at most %v)\n",
		time.Since(start).Round(time.Millisecond), cfg.QuiesceTimeout)

	start = time.Now()
	qctx, cancel := context.WithTimeout(ctx, cfg.QuiesceTimeout)
	_, qerr := e.cluster.WaitQuiescent(qctx, 200*time.Millisecond)
	records, rerr := waitCompleted(qctx, e.admin)
	cancel()
	quiet := time.Since(start).Round(time.Millisecond)
	if qerr != nil || rerr != nil {
		fmt.Fprintf(out, "chaos: not quiescent after %v: %v\n", quiet, joinText(errText(qerr), errText(rerr)))
	} else {
		fmt.Fprintf(out, "chaos: quiescent after %v; checking\n", quiet)
	}
	runChecks(ctx, e, w, v, res, records, quiet)
}

// runChecks reads the banks and the cluster and runs every check.
func runChecks(ctx context.Context, e *env, w *workload, v *violations, res *Result, records map[string]*tmv1.Transaction, quiet time.Duration) {
	cfg := e.cfg
	notes := res.Notes
	ops := w.h.Ops()
	checkService(v, ops)
	scanLogs(v, e.cluster)
	ledgers, err := e.ledgers(ctx)
	if err != nil {
		res.Problems = append(res.Problems, "reading the ledgers: "+err.Error())
		return
	}
	res.MoneyAfter = sumMoney(ledgers)
	view, err := readBanks(ctx, e.banks)
	if err != nil {
		res.Problems = append(res.Problems, "reading the branches: "+err.Error())
		return
	}
	if records == nil {
		if records, err = readRecords(ctx, e.admin); err != nil {
			res.Problems = append(res.Problems, "reading the records: "+err.Error())
			return
		}
	}
	var names []string
	for _, b := range e.banks {
		names = append(names, b.Name())
	}
	checkConservation(v, cfg, ledgers, names, view)
	notes[CheckConservation] = fmt.Sprintf("total %d, started with %d", res.MoneyAfter, cfg.totalMoney())
	checkAtomicity(v, view, records)
	notes[CheckAtomicity] = fmt.Sprintf("%d transactions at the banks, %d records", len(view), len(records))
	cv := newClientView(ops)
	told := cv.toldCommitted()
	got, getErrs := getAll(ctx, e.admin, sortedKeys(told), getWorkers)
	checkDurability(v, cv, got, getErrs, view)
	notes[CheckDurability] = fmt.Sprintf("%d transactions told COMMITTED", len(told))
	checkExactlyOnce(v, cv, view, records)
	notes[CheckExactlyOnce] = fmt.Sprintf("%d keys", len(cv.byKey))
	checkLiveness(v, ledgers, names, view, records)
	notes[CheckLiveness] = fmt.Sprintf("quiescent after %v", quiet)
	notes[CheckAgreement] = checkAgreement(ctx, v, e.cluster)
	notes[CheckService] = fmt.Sprintf("%d faults healed; logs scanned", len(res.Faults))
}

// checkService: no request got a final error (an answer that is neither an
// outcome nor an unknown outcome). The faults' heals are checked as they
// happen.
func checkService(v *violations, ops []*Op) {
	v.markRan(CheckService)
	for _, op := range ops {
		if op.Outcome == OutcomeError {
			v.add(CheckService, "key %s got a final error: %s", op.Key, describeOp(op))
		}
	}
}

// waitCompleted polls the cluster's records until every one is decided and
// completed (every branch acknowledged phase two), or ctx ends; it returns
// the last records read.
func waitCompleted(ctx context.Context, c *client.Client) (map[string]*tmv1.Transaction, error) {
	var last map[string]*tmv1.Transaction
	for {
		records, err := readRecords(ctx, c)
		if err == nil {
			last = records
			open := 0
			for _, tx := range records {
				if !tx.GetCompleted() {
					open++
				}
			}
			if open == 0 {
				return records, nil
			}
			err = fmt.Errorf("%d records not completed", open)
		}
		if ctx.Err() != nil {
			return last, err
		}
		sleepCtx(ctx, 500*time.Millisecond)
	}
}

// countKeys is the number of distinct keys the load used.
func countKeys(ops []*Op) int {
	n := 0
	for _, op := range ops {
		if op.Kind == OpTransfer {
			n++
		}
	}
	return n
}

// errText is err's message, or "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
