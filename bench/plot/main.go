// Command plot turns the --json reports of several tmbench runs into the
// figures of BENCHMARKS.md: a markdown table of medians with min–max, a plot
// of throughput against concurrency, and plots of the latency distribution.
//
//	go run ./bench/plot --out bench bench/results/run-*.json
//
// It reads only the files it is given and writes only under --out.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
)

// report is the part of tmbench's --json output that the plots use.
type report struct {
	Machine struct {
		CPUs     int    `json:"cpus"`
		CPUModel string `json:"cpu_model"`
		Go       string `json:"go_version"`
	} `json:"machine"`
	Setup struct {
		Cluster       string  `json:"cluster"`
		Branches      int     `json:"branches"`
		PayloadBytes  int     `json:"payload_bytes"`
		WindowSeconds float64 `json:"window_s"`
		WarmupSeconds float64 `json:"warmup_s"`
	} `json:"setup"`
	Levels []level `json:"levels"`
}

// level is one measured level of one run.
type level struct {
	Mode         string     `json:"mode"`
	Concurrency  int        `json:"concurrency"`
	TxPerSec     float64    `json:"tx_per_sec"`
	P50          float64    `json:"p50_ms"`
	P90          float64    `json:"p90_ms"`
	P99          float64    `json:"p99_ms"`
	P999         float64    `json:"p999_ms"`
	Errors       int64      `json:"errors"`
	Aborted      int64      `json:"aborted"`
	EntriesPerTx float64    `json:"raft_entries_per_tx"`
	CPUPerTx     float64    `json:"cpu_ms_per_tx"`
	AllocsPerTx  float64    `json:"allocs_per_tx"`
	RatioToRaft  float64    `json:"ratio_to_raft"`
	LoadAvg      float64    `json:"loadavg_1m"`
	Spectrum     []quantile `json:"spectrum"`
}

type quantile struct {
	Q  float64 `json:"q"`
	Ms float64 `json:"ms"`
}

// key names one (mode, concurrency) cell across runs.
type key struct {
	mode string
	conc int
}

// runs holds every run's levels, cell by cell.
type runs struct {
	first report
	n     int
	cells map[key][]level
	modes []string
	concs []int
}

func main() {
	out := flag.String("out", "bench", "directory for summary.md and the PNG plots")
	flag.Parse()
	if err := run(*out, flag.Args(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "plot:", err)
		os.Exit(1)
	}
}

func run(out string, files []string, stdout io.Writer) error {
	if len(files) == 0 {
		return errors.New("no tmbench --json files given")
	}
	rs, err := load(files)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if err := plotThroughput(rs, filepath.Join(out, "throughput.png")); err != nil {
		return err
	}
	for _, mode := range rs.modes {
		if mode == "raft" {
			continue
		}
		if err := plotLatency(rs, mode, filepath.Join(out, "latency-"+mode+".png")); err != nil {
			return err
		}
	}
	f, err := os.Create(filepath.Join(out, "summary.md"))
	if err != nil {
		return err
	}
	defer f.Close()
	if err := writeSummary(io.MultiWriter(f, stdout), rs); err != nil {
		return err
	}
	return f.Close()
}

// load reads the reports and groups their levels by mode and concurrency.
func load(files []string) (*runs, error) {
	rs := &runs{cells: map[key][]level{}}
	for i, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		var r report
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if i == 0 {
			rs.first = r
		}
		rs.n++
		for _, l := range r.Levels {
			k := key{l.Mode, l.Concurrency}
			rs.cells[k] = append(rs.cells[k], l)
			if !slices.Contains(rs.modes, l.Mode) {
				rs.modes = append(rs.modes, l.Mode)
			}
			if !slices.Contains(rs.concs, l.Concurrency) {
				rs.concs = append(rs.concs, l.Concurrency)
			}
		}
	}
	sort.Ints(rs.concs)
	// raft last, whatever order the runs had
	sort.SliceStable(rs.modes, func(i, j int) bool { return rs.modes[j] == "raft" && rs.modes[i] != "raft" })
	return rs, nil
}

// stat is the median, minimum and maximum of one figure across runs.
type stat struct{ med, lo, hi float64 }

func statOf(ls []level, f func(level) float64) stat {
	v := make([]float64, len(ls))
	for i, l := range ls {
		v[i] = f(l)
	}
	sort.Float64s(v)
	if len(v) == 0 {
		return stat{}
	}
	med := v[len(v)/2]
	if len(v)%2 == 0 {
		med = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return stat{med: med, lo: v[0], hi: v[len(v)-1]}
}

func modeTitle(mode string) string {
	switch mode {
	case "execute":
		return "execute (ExecuteTransaction)"
	case "interactive":
		return "interactive (Begin, Enlist, Commit)"
	case "raft":
		return "raw Raft apply (baseline)"
	}
	return mode
}
