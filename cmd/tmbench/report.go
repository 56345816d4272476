package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tmcluster/tmcluster/server"
)

// report is everything one run measured, as --json prints it.
type report struct {
	Started      time.Time          `json:"started"`
	Machine      machine            `json:"machine"`
	Setup        setupInfo          `json:"setup"`
	Levels       []levelResult      `json:"levels"`
	Participants []participantCount `json:"participants,omitempty"`
}

// machine describes where the run happened.
type machine struct {
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUModel   string `json:"cpu_model"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
}

// setupInfo is the run's configuration.
type setupInfo struct {
	Cluster        string   `json:"cluster"`
	Modes          []string `json:"modes"`
	Concurrency    []int    `json:"concurrency"`
	Branches       int      `json:"branches"`
	PayloadBytes   int      `json:"payload_bytes"`
	WindowSeconds  float64  `json:"window_s"`
	WarmupSeconds  float64  `json:"warmup_s"`
	Baseline       string   `json:"baseline,omitempty"`
	RaftTuning     string   `json:"tuning,omitempty"` // settings that differ from cmd/tmd's
	CPUAccountedTo string   `json:"cpu_accounted_to"`
}

// participantCount is what one in-process participant received.
type participantCount struct {
	Name     string `json:"name"`
	Prepares int64  `json:"prepares"`
	Commits  int64  `json:"commits"`
	Aborts   int64  `json:"aborts"`
}

func newReport(o *options) *report {
	s := setupInfo{
		Cluster: "in-process: 3 nodes, raft-boltdb with fsync, TCP and gRPC on 127.0.0.1; in-process YES participants",
		Modes:   o.modes, Concurrency: o.concurrency, Branches: o.branches, PayloadBytes: o.payload,
		WindowSeconds: o.duration.Seconds(), WarmupSeconds: o.warmup.Seconds(), Baseline: o.baseline,
		CPUAccountedTo: "the whole tmbench process: cluster, participants and load",
	}
	if len(o.targets) > 0 {
		s.Cluster = "targets: " + strings.Join(o.targets, ",")
		s.CPUAccountedTo = "the tmbench process only (load generator and any in-process participants)"
	}
	t := o.raft
	if t.commit != 0 || t.maxAppendEntries != 0 || t.batchApplyCh != "" || t.heartbeat != 500*time.Millisecond ||
		t.election != 500*time.Millisecond || o.streamWorkers != 0 || o.ackBatchDelay != 0 || o.gcPercent != server.DefaultGCPercent {
		s.RaftTuning = fmt.Sprintf("heartbeat=%v election=%v commit=%v max_append_entries=%d batch_apply_ch=%q grpc_stream_workers=%d ack_batch_delay=%v gc_percent=%d",
			t.heartbeat, t.election, t.commit, t.maxAppendEntries, t.batchApplyCh, o.streamWorkers, o.ackBatchDelay, o.gcPercent)
	}
	return &report{
		Started: time.Now().UTC(),
		Machine: machine{CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), CPUModel: cpuModel(),
			GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH},
		Setup: s,
	}
}

// cpuModel is the first "model name" of /proc/cpuinfo, or "unknown".
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// writeTable prints one row per level, grouped by mode, and the ratio
// column when the raw Raft baseline ran.
func (r *report) writeTable(w io.Writer) error {
	fmt.Fprintf(w, "tmbench: %s; %d branch(es) of %d B; %v window after %v warm-up\n",
		r.Setup.Cluster, r.Setup.Branches, r.Setup.PayloadBytes, r.Setup.WindowSeconds, r.Setup.WarmupSeconds)
	fmt.Fprintf(w, "machine: %d CPU (%s), %s; CPU column: %s\n\n", r.Machine.CPUs, r.Machine.CPUModel, r.Machine.GoVersion, r.Setup.CPUAccountedTo)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	ratio := r.Setup.Baseline != ""
	head := "mode\tconc\ttx/s\tp50 ms\tp90 ms\tp99 ms\tp99.9 ms\terrors\taborts\tentries/tx\tCPU s\tCPU ms/tx\tallocs/tx\tload\t"
	if ratio {
		head += "÷ raft\t"
	}
	fmt.Fprintln(tw, head)
	modes := slices.Clone(r.Setup.Modes)
	if !slices.Contains(modes, modeRaft) {
		modes = append(modes, modeRaft)
	}
	for _, mode := range modes {
		for _, l := range r.Levels {
			if l.Mode != mode {
				continue
			}
			name := l.Mode
			if name == modeRaft {
				name = "raft apply"
			}
			row := fmt.Sprintf("%s\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%d\t%.2f\t%.2f\t%.3f\t%.0f\t%.1f\t",
				name, l.Concurrency, l.TxPerSec, l.P50, l.P90, l.P99, l.P999, l.Errors, l.Aborted, l.EntriesPerTx,
				l.CPUSeconds, l.CPUPerTx, l.AllocsPerTx, l.LoadAvg)
			if ratio {
				if l.RatioToRaft > 0 {
					row += fmt.Sprintf("%.2f\t", l.RatioToRaft)
				} else {
					row += "-\t"
				}
			}
			fmt.Fprintln(tw, row)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, l := range r.Levels {
		if l.FirstError != "" {
			fmt.Fprintf(w, "\n%s c=%d first error: %s", l.Mode, l.Concurrency, l.FirstError)
		}
	}
	fmt.Fprintln(w, "\nload: the machine's 1-minute load average at the end of the window (2 CPUs: above 2, something else competed).")
	if ratio {
		fmt.Fprintln(w, "÷ raft: tx/s divided by raw Raft applies/s (BarrierCommand on the leader) at the same concurrency, same cluster, same run.")
	}
	return nil
}
