// Command tmchaos runs tmcluster's chaos tier: 3 tmd nodes and 3 bankd
// participants as real processes on 127.0.0.1, concurrent transfers through
// random nodes, and faults at random (SIGKILL of the leader, of a follower,
// of a participant, SIGSTOP of a node, SIGKILL of every node at once). At
// the end it checks conservation, atomicity, durability, exactly once,
// liveness and agreement, prints a summary table, and exits 1 on any
// violation, leaving the evidence in the report folder.
//
//	make chaos DURATION=10m SEED=42
//	go run ./chaos/cmd/tmchaos --bin bin --duration 3m
//
// It builds nothing: --bin names the folder holding tmd and bankd. Every
// process it starts is stopped when it ends, on an error, or on Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tmcluster/tmcluster/chaos"
)

// parseFlags parses the command line into a chaos.Config.
func parseFlags(args []string, stderr io.Writer) (chaos.Config, error) {
	var cfg chaos.Config
	var report string
	var seed uint64
	var faults string
	fs := flag.NewFlagSet("tmchaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&cfg.Duration, "duration", 5*time.Minute, "how long the load and the faults run")
	fs.Uint64Var(&seed, "seed", 0, "seed of the random choices (default: from the clock; always printed)")
	fs.StringVar(&cfg.BinDir, "bin", "bin", "folder holding the built tmd and bankd")
	fs.StringVar(&report, "report", "chaos-report", "folder under which each run gets its report folder")
	fs.IntVar(&cfg.Concurrency, "transfers-concurrency", 8, "transfers in flight at once")
	fs.IntVar(&cfg.Nodes, "nodes", 3, "number of tmd nodes")
	fs.IntVar(&cfg.Banks, "banks", 3, "number of bankd participants")
	fs.IntVar(&cfg.Accounts, "accounts", 20, "accounts per bank")
	fs.Int64Var(&cfg.InitialBalance, "initial-balance", 1000, "each account's initial balance")
	fs.DurationVar(&cfg.TxTimeout, "tx-timeout", 4*time.Second, "each transfer's transaction timeout")
	fs.DurationVar(&cfg.FaultGapMin, "fault-gap-min", 500*time.Millisecond, "least quiet time between faults")
	fs.DurationVar(&cfg.FaultGapMax, "fault-gap-max", 2*time.Second, "most quiet time between faults")
	fs.DurationVar(&cfg.QuiesceTimeout, "quiesce-timeout", 90*time.Second, "bound on the wait for quiescence at the end")
	fs.StringVar(&faults, "faults", "", "comma-separated fault kinds to draw from (default all: "+kindList()+")")
	fs.BoolVar(&cfg.KeepData, "keep-data", false, "keep the data dirs even when every check passes")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	for _, f := range strings.Split(faults, ",") {
		if f = strings.TrimSpace(f); f != "" {
			cfg.Faults = append(cfg.Faults, chaos.FaultKind(f))
		}
	}
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	cfg.Seed = seed
	cfg.ReportDir = filepath.Join(report, fmt.Sprintf("run-%s-seed-%d", time.Now().Format("20060102-150405"), seed))
	cfg.Progress = stderr
	return cfg, nil
}

// kindList names every fault kind, for the usage text.
func kindList() string {
	var names []string
	for _, k := range chaos.FaultKinds() {
		names = append(names, string(k))
	}
	return strings.Join(names, ",")
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tmchaos:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	res, err := chaos.Run(ctx, cfg)
	interrupted := ctx.Err() != nil
	stop()
	if res != nil {
		fmt.Println()
		res.WriteSummary(os.Stdout)
	}
	switch {
	case interrupted:
		fmt.Fprintf(os.Stderr, "tmchaos: interrupted (seed %d); every process it started was stopped\n", cfg.Seed)
		os.Exit(130)
	case err != nil:
		fmt.Fprintf(os.Stderr, "tmchaos: %v (seed %d)\n", err, cfg.Seed)
		os.Exit(1)
	case !res.Passed():
		os.Exit(1)
	}
}
