package chaos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// TxCounts is what the clients were told, per key (a transfer's first
// answer, then what its retries and the final re-execution said).
type TxCounts struct {
	Transfers    int `json:"transfers"`
	Committed    int `json:"committed"`
	AbortedFunds int `json:"aborted_insufficient_funds"`
	AbortedOther int `json:"aborted_other"`
	// Unknown counts the transfers whose first answer was an unknown
	// outcome; the three after it say how each was resolved later.
	Unknown              int            `json:"unknown"`
	UnknownThenCommitted int            `json:"unknown_then_committed"`
	UnknownThenAborted   int            `json:"unknown_then_aborted"`
	StillUnknown         int            `json:"still_unknown"`
	Errors               int            `json:"errors"`
	Retries              int            `json:"retries"`
	OtherReasons         map[string]int `json:"other_abort_reasons,omitempty"`
}

// Abort reasons are grouped after rpcErrorRE shortens a gRPC error to its
// code and last words and digitsRE turns numbers into N. Both are
// read-only after initialization.
var (
	rpcErrorRE = regexp.MustCompile(`rpc error: code = (\w+) desc = .*?([^:"]+)"?$`)
	digitsRE   = regexp.MustCompile(`[0-9a-f]*[0-9][0-9a-f]*`)
)

// reasonGroup is the group an abort reason is counted in.
func reasonGroup(reason string) string {
	reason = rpcErrorRE.ReplaceAllString(reason, "$1:$2")
	return digitsRE.ReplaceAllString(reason, "N")
}

// countTx derives the counts from the history.
func countTx(ops []*Op) TxCounts {
	c := TxCounts{OtherReasons: map[string]int{}}
	cv := newClientView(ops)
	for _, key := range sortedKeys(cv.byKey) {
		first := cv.byKey[key][0]
		final := cv.final[key]
		c.Transfers++
		switch first.Outcome {
		case OutcomeCommitted:
			c.Committed++
		case OutcomeAborted:
			if strings.Contains(first.AbortReason, "insufficient funds") {
				c.AbortedFunds++
			} else {
				c.AbortedOther++
				c.OtherReasons[reasonGroup(first.AbortReason)]++
			}
		case OutcomeUnknown:
			c.Unknown++
			switch {
			case final != nil && final.Outcome == OutcomeCommitted:
				c.UnknownThenCommitted++
			case final != nil && final.Outcome == OutcomeAborted:
				c.UnknownThenAborted++
			default:
				c.StillUnknown++
			}
		default:
			c.Errors++
		}
		for _, op := range cv.byKey[key] {
			if op.Kind == OpRetry {
				c.Retries++
			}
		}
	}
	return c
}

// WriteSummary writes the run's summary table and verdict.
func (r *Result) WriteSummary(w io.Writer) {
	fmt.Fprintf(w, "tmcluster chaos run · seed %d · load %v · elapsed %v\nreport folder: %s\n\n",
		r.Seed, r.Load.Round(time.Second), r.Elapsed.Round(time.Second), r.ReportDir)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FAULTS\tCOUNT")
	total := 0
	for _, k := range FaultKinds() {
		fmt.Fprintf(tw, "  %s\t%d\n", k, r.FaultCounts[k])
		total += r.FaultCounts[k]
	}
	fmt.Fprintf(tw, "  total\t%d\n", total)
	t := r.Tx
	fmt.Fprintln(tw, "TRANSACTIONS\t")
	fmt.Fprintf(tw, "  transfers (idempotency keys)\t%d\n", t.Transfers)
	fmt.Fprintf(tw, "  committed\t%d\n", t.Committed)
	fmt.Fprintf(tw, "  aborted: insufficient funds\t%d\n", t.AbortedFunds)
	fmt.Fprintf(tw, "  aborted: other\t%d\n", t.AbortedOther)
	for _, reason := range topReasons(t.OtherReasons, 3) {
		fmt.Fprintf(tw, "    %s\t%d\n", clip(reason, 64), t.OtherReasons[reason])
	}
	fmt.Fprintf(tw, "  unknown at the client\t%d\n", t.Unknown)
	fmt.Fprintf(tw, "    then resolved COMMITTED\t%d\n", t.UnknownThenCommitted)
	fmt.Fprintf(tw, "    then resolved ABORTED\t%d\n", t.UnknownThenAborted)
	fmt.Fprintf(tw, "    still unknown\t%d\n", t.StillUnknown)
	fmt.Fprintf(tw, "  final errors\t%d\n", t.Errors)
	fmt.Fprintf(tw, "  retries with the same key\t%d\n", t.Retries)
	l := r.Leaderless
	fmt.Fprintf(tw, "TIME WITHOUT A LEADER\tp50 %v · max %v · %d episodes · %v in all\n",
		l.P50.Round(time.Millisecond), l.Max.Round(time.Millisecond), l.Episodes, l.Total.Round(time.Millisecond))
	fmt.Fprintf(tw, "MONEY\tbefore %d · after %d\n", r.MoneyBefore, r.MoneyAfter)
	fmt.Fprintln(tw, "CHECKS\t")
	for _, c := range r.Checks {
		verdict := "PASS"
		switch {
		case !c.Ran:
			verdict = "FAIL (not run)"
		case !c.Pass:
			verdict = fmt.Sprintf("FAIL (%d violations)", c.Violations)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", c.Name, verdict, c.Note)
	}
	tw.Flush()
	r.writeDetails(w)
}

// writeDetails lists the violations and problems, then the verdict line.
func (r *Result) writeDetails(w io.Writer) {
	for _, c := range r.Checks {
		for _, d := range c.Details {
			fmt.Fprintf(w, "  %s: %s\n", c.Name, d)
		}
		if more := c.Violations - len(c.Details); more > 0 {
			fmt.Fprintf(w, "  %s: … and %d more\n", c.Name, more)
		}
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  problem: %s\n", p)
	}
	switch {
	case r.Interrupted:
		fmt.Fprintln(w, "RESULT: INTERRUPTED (checks not run)")
	case r.Passed():
		fmt.Fprintln(w, "RESULT: PASS")
	default:
		fmt.Fprintf(w, "RESULT: FAIL — reproduce with --seed %d; evidence in %s\n", r.Seed, r.ReportDir)
	}
}

// clip shortens s to at most n runes, marking the cut with "…".
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// topReasons returns the n most frequent reasons.
func topReasons(m map[string]int, n int) []string {
	keys := sortedKeys(m)
	slices.SortStableFunc(keys, func(a, b string) int { return m[b] - m[a] })
	return keys[:min(n, len(keys))]
}

// writeReport writes summary.txt and result.json into the report folder.
func writeReport(cfg Config, r *Result) error {
	var buf bytes.Buffer
	r.WriteSummary(&buf)
	if err := os.WriteFile(filepath.Join(cfg.ReportDir, "summary.txt"), buf.Bytes(), 0o644); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(cfg.ReportDir, "result.json"), js, 0o644)
}

// stopAndClean stops every process and, when the run passed and the data
// is not to be kept, deletes the data dirs (logs, history and summary stay).
func stopAndClean(e *env, r *Result, cfg Config) {
	if err := e.close(); err != nil {
		fmt.Fprintf(cfg.Progress, "chaos: stopping the processes: %v\n", err)
	}
	if !r.Passed() || cfg.KeepData {
		return
	}
	for _, n := range e.cluster.Nodes() {
		_ = os.RemoveAll(n.DataDir)
	}
	for _, b := range e.cluster.Banks() {
		_ = os.RemoveAll(b.DataDir)
	}
}
