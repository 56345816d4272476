package main

import (
	"fmt"
	"io"
)

// writeSummary prints the markdown table: for each mode and concurrency the
// median of the runs and, in brackets, their minimum–maximum.
func writeSummary(w io.Writer, rs *runs) error {
	m := rs.first.Machine
	s := rs.first.Setup
	fmt.Fprintf(w, "%d runs; %s; %d CPUs (%s), %s; %d branch(es) of %d B; %gs window after %gs warm-up.\n\n",
		rs.n, s.Cluster, m.CPUs, m.CPUModel, m.Go, s.Branches, s.PayloadBytes, s.WindowSeconds, s.WarmupSeconds)
	fmt.Fprintln(w, "| mode | conc | tx/s | p50 ms | p90 ms | p99 ms | p99.9 ms | errors | entries/tx | CPU ms/tx | tx/s ÷ raft | load |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, mode := range rs.modes {
		for _, c := range rs.concs {
			ls := rs.cells[key{mode, c}]
			if len(ls) == 0 {
				continue
			}
			ratio := "–"
			if mode != "raft" {
				ratio = rangeOf(statOf(ls, func(l level) float64 { return l.RatioToRaft }), "%.2f")
			}
			errs := statOf(ls, func(l level) float64 { return float64(l.Errors + l.Aborted) })
			fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s | %.0f | %.2f | %.3f | %s | %.1f |\n",
				mode, c,
				rangeOf(statOf(ls, func(l level) float64 { return l.TxPerSec }), "%.0f"),
				rangeOf(statOf(ls, func(l level) float64 { return l.P50 }), "%.2f"),
				rangeOf(statOf(ls, func(l level) float64 { return l.P90 }), "%.2f"),
				rangeOf(statOf(ls, func(l level) float64 { return l.P99 }), "%.2f"),
				rangeOf(statOf(ls, func(l level) float64 { return l.P999 }), "%.2f"),
				errs.hi,
				statOf(ls, func(l level) float64 { return l.EntriesPerTx }).med,
				statOf(ls, func(l level) float64 { return l.CPUPerTx }).med,
				ratio,
				statOf(ls, func(l level) float64 { return l.LoadAvg }).med)
		}
	}
	fmt.Fprintln(w, "\nEach cell: median of the runs (min–max). errors: the most errors and aborts in any run. "+
		"entries/tx, CPU ms/tx and load (1-minute load average at the window's end): medians. "+
		"tx/s ÷ raft: the level's tx/s over the raw Raft applies/s at the same concurrency in the same run.")
	return nil
}

// rangeOf formats a stat as "median (min–max)".
func rangeOf(s stat, f string) string {
	return fmt.Sprintf(f+" ("+f+"–"+f+")", s.med, s.lo, s.hi)
}
