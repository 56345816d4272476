package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSmoke runs tmbench end to end on its in-process cluster for a few
// seconds, in both modes and with the raw Raft baseline, and checks that it
// committed transactions and printed sane figures.
func TestSmoke(t *testing.T) {
	// One level per mode, long enough that a slow moment of a loaded
	// machine under -race does not empty it; 1 s Raft timeouts make a
	// spurious election (which would stall a window) less likely.
	o, err := parseFlags([]string{
		"--mode", "execute,interactive", "--concurrency", "4", "--duration", "1500ms", "--warmup", "300ms",
		"--baseline", "raft", "--json", "--progress=false", "--data-dir", t.TempDir(),
		"--raft-heartbeat-timeout", "1s", "--raft-election-timeout", "1s",
	}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	if err := run(ctx, o, &out, &errOut); err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	var rep report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, out.String())
	}
	if got, want := len(rep.Levels), 3; got != want { // 2 modes + raft
		t.Fatalf("%d levels reported, want %d", got, want)
	}
	for _, l := range rep.Levels {
		checkLevel(t, l)
	}
	var commits int64
	for _, p := range rep.Participants {
		commits += p.Commits
	}
	if commits == 0 {
		t.Errorf("the participants received no Commit: %+v", rep.Participants)
	}

	// The table renders the same report.
	var table bytes.Buffer
	if err := rep.writeTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tx/s", "p99.9 ms", "entries/tx", "÷ raft", "execute", "interactive", "raft apply"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
}

// checkLevel checks that one level's figures are sane: something committed,
// nothing failed, latencies ordered, and the Raft entries per transaction
// what the mode writes.
func checkLevel(t *testing.T, l levelResult) {
	t.Helper()
	name := l.Mode + " c=" + strconv.Itoa(l.Concurrency)
	if l.Committed == 0 || l.TxPerSec <= 0 {
		t.Errorf("%s: nothing committed: %+v", name, l)
	}
	if l.Errors != 0 || l.Aborted != 0 {
		t.Errorf("%s: %d errors, %d aborts (first error %q)", name, l.Errors, l.Aborted, l.FirstError)
	}
	if !(0 < l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
		t.Errorf("%s: percentiles out of order: p50 %v p90 %v p99 %v p99.9 %v max %v", name, l.P50, l.P90, l.P99, l.P999, l.Max)
	}
	if l.CPUSeconds <= 0 || len(l.Spectrum) == 0 {
		t.Errorf("%s: no CPU time or latency spectrum", name)
	}
	// execute: the decision, plus a share of ack batches; interactive:
	// Begin, 2 Enlists, Prepare, the decision, plus acks; raft: one entry.
	// The windows are short, so acks spilling over from the level before
	// (and the leader's own entries) weigh on few transactions: loose bounds.
	lo, hi := map[string]float64{modeExecute: 0.9, modeInteractive: 4.5, modeRaft: 0.9}[l.Mode],
		map[string]float64{modeExecute: 4, modeInteractive: 12, modeRaft: 2}[l.Mode]
	if l.EntriesPerTx < lo || l.EntriesPerTx > hi {
		t.Errorf("%s: %.2f Raft entries per transaction, want %.1f to %.1f", name, l.EntriesPerTx, lo, hi)
	}
	if l.Mode != modeRaft && l.RatioToRaft <= 0 {
		t.Errorf("%s: no ratio to the Raft baseline", name)
	}
}

func TestParseFlagsRejects(t *testing.T) {
	for _, args := range [][]string{
		{"--mode", "batch"},
		{"--concurrency", "0"},
		{"--concurrency", ""},
		{"--baseline", "etcd"},
		{"--baseline", "raft", "--targets", "127.0.0.1:7001"},
		{"--participants", "bank-a"},
		{"--branches", "0"},
		{"--raft-batch-apply-ch", "maybe"},
	} {
		if _, err := parseFlags(args, &bytes.Buffer{}); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
}
