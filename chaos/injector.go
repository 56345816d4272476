package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"time"
)

// progressLimit bounds the wait, after a fault is healed, for some transfer
// to get an outcome: the cluster serving again is part of each fault's
// check.
const progressLimit = 30 * time.Second

// agreementEvery spaces the state-digest samples taken while the load
// runs. A digest encodes a node's whole state, which grows with the run (a
// half-second of CPU per node at 100,000 records), so sampling after every
// fault would make each check slower than the last; the end of the run
// compares every node's digest whatever this says.
const agreementEvery = 30 * time.Second

// injector causes faults at random intervals, heals each and checks.
type injector struct {
	e     *env
	cfg   Config
	w     *workload
	v     *violations
	out   io.Writer
	start time.Time

	mu     sync.Mutex
	events []FaultEvent
	enc    *json.Encoder // faults.jsonl

	// Owned by the run goroutine: how far into the history the checks
	// have read, the transactions last seen with a branch still prepared,
	// and when the digests were last sampled.
	histMark   int
	unsettled  []string
	lastDigest time.Time
}

// newInjector returns an injector for e that records faults into the
// faults file and violations into v; start is when the load began.
func newInjector(e *env, w *workload, v *violations, faults *os.File, start time.Time) *injector {
	return &injector{e: e, cfg: e.cfg, w: w, v: v, out: e.cfg.Progress, start: start, enc: json.NewEncoder(faults)}
}

// run injects faults until stop closes or ctx ends. A fault in progress
// when stop closes is finished, healed and checked.
func (in *injector) run(ctx context.Context, stop <-chan struct{}) {
	rng := rand.New(rand.NewPCG(in.cfg.Seed, 0xfa017))
	for seq := 1; ; seq++ {
		gap := span(in.cfg.FaultGapMin, in.cfg.FaultGapMax, rng.Float64())
		p := in.draw(rng)
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-time.After(gap):
		}
		ev := FaultEvent{Seq: seq, Kind: p.kind, Start: time.Now()}
		if err := in.inject(ctx, p, &ev); err != nil {
			ev.Error = err.Error()
		}
		if err := in.e.heal(ctx); err != nil {
			ev.Error = joinText(ev.Error, "heal: "+err.Error())
		}
		ev.Healed = time.Now()
		if ctx.Err() != nil {
			return
		}
		if ev.Error != "" {
			in.v.add(CheckService, "fault #%d %s of %s: %s", ev.Seq, ev.Kind, ev.Target, ev.Error)
		}
		checkStart := time.Now()
		ev.Problems = in.check(ctx, &ev, stop)
		ev.CheckTook = time.Since(checkStart)
		if ctx.Err() != nil {
			return
		}
		in.record(ev)
	}
}

// check is what follows each heal: the cluster answers transfers again;
// no transaction is committed at one bank and aborted at another so far
// (branches still prepared are allowed while the load runs); and, every
// agreementEvery, nodes that stand at the same index report the same state
// digest. The atomicity check reads the transactions that ended since the
// last check, and those it then saw still prepared, not the whole history,
// so a check costs the same at the end of a long run as at its start; the
// end of the run reads every branch.
func (in *injector) check(ctx context.Context, ev *FaultEvent, stop <-chan struct{}) []string {
	var problems []string
	report := func(check, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		in.v.add(check, "after fault #%d (%s): %s", ev.Seq, ev.Kind, msg)
		problems = append(problems, check+": "+msg)
	}
	select {
	case <-stop:
	default:
		if !in.w.waitTold(ctx, ev.Healed, progressLimit) {
			report(CheckService, "no transfer got an outcome within %v of the heal", progressLimit)
		}
	}
	ids := in.recentTxIDs()
	ev.Checked = len(ids)
	view, err := readBanksOf(ctx, in.e.banks, ids)
	if err != nil {
		report(CheckService, "cannot read the banks' branches: %v", err)
		in.unsettled = ids // read them all again next time
		return problems
	}
	in.unsettled = in.unsettled[:0]
	for _, txID := range sortedKeys(view) {
		var committed, aborted []bankBranch
		prepared := false
		for _, b := range view[txID] {
			switch b.GetOutcome() {
			case branchCommitted:
				committed = append(committed, b)
			case branchAborted:
				aborted = append(aborted, b)
			case branchPrepared:
				prepared = true
			}
		}
		if len(committed) > 0 && len(aborted) > 0 {
			report(CheckAtomicity, "tx %s is committed at %v and aborted at %v", txID, committed, aborted)
		}
		if prepared {
			in.unsettled = append(in.unsettled, txID)
		}
	}
	if time.Since(in.lastDigest) >= agreementEvery {
		in.lastDigest = time.Now()
		before := in.v.count(CheckAgreement)
		sampleAgreement(ctx, in.v, in.e.cluster, fmt.Sprintf("after fault #%d (%s)", ev.Seq, ev.Kind), 1)
		if n := in.v.count(CheckAgreement) - before; n > 0 {
			problems = append(problems, fmt.Sprintf("agreement: %d digest mismatches", n))
		}
	}
	return problems
}

// recentTxIDs returns the transactions the check looks at: those of the
// operations that ended since the last check, and those the last check saw
// with a branch still prepared.
func (in *injector) recentTxIDs() []string {
	ops, mark := in.w.h.Since(in.histMark)
	in.histMark = mark
	seen := map[string]bool{}
	ids := slices.Clone(in.unsettled)
	for _, id := range ids {
		seen[id] = true
	}
	for _, op := range ops {
		if op.TxID != "" && !seen[op.TxID] {
			seen[op.TxID] = true
			ids = append(ids, op.TxID)
		}
	}
	return ids
}

// record keeps ev, writes it to faults.jsonl and prints its line.
func (in *injector) record(ev FaultEvent) {
	in.mu.Lock()
	in.events = append(in.events, ev)
	_ = in.enc.Encode(ev)
	in.mu.Unlock()
	t := in.w.tally()
	what := fmt.Sprintf("%s %s", ev.Kind, ev.Target)
	if ev.NewLeader != "" {
		what += fmt.Sprintf(" (new leader %s after %v)", ev.NewLeader, ev.Failover.Round(time.Millisecond))
	}
	verdict := "check ok"
	if ev.Error != "" || len(ev.Problems) > 0 {
		verdict = "PROBLEM: " + joinText(ev.Error, fmt.Sprint(ev.Problems))
	}
	fmt.Fprintf(in.out, "[%7s] fault #%d %s, down %v, healed in %v · ops %d (%d committed, %d aborted, %d unknown) · %s (%d tx in %v)\n",
		time.Since(in.start).Round(time.Second), ev.Seq, what, ev.Down.Round(10*time.Millisecond),
		ev.Healed.Sub(ev.Start).Round(10*time.Millisecond), t.ops, t.committed, t.aborted, t.unknown, verdict,
		ev.Checked, ev.CheckTook.Round(10*time.Millisecond))
}

// faultEvents returns the faults injected so far.
func (in *injector) faultEvents() []FaultEvent {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.events)
}

// joinText joins two messages with "; ", skipping empty ones.
func joinText(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
