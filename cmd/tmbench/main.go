// Command tmbench is tmcluster's load generator. It drives payments through
// the Go SDK (package client), every request with an idempotency key as the
// SDK sends by default, and reports throughput, latency percentiles, Raft log
// entries per transaction and CPU time for each concurrency level.
//
// By default it starts its own cluster inside the process: three nodes over
// real TCP on 127.0.0.1 (raftlog.Open with raft-boltdb and fsync on, the
// production Raft settings, server.New and real gRPC), plus participants that
// vote YES at once, so what it measures is the coordinator. --targets and
// --participants point it at running tmd and participant processes instead.
//
//	tmbench                                    # execute, c=1,16,64,256
//	tmbench --mode execute,interactive --baseline raft --json
//	tmbench --targets 127.0.0.1:7001,127.0.0.1:7002 --participants bank-a=127.0.0.1:9101
//
// With --baseline raft it also measures raw Raft applies (a BarrierCommand
// proposed on the leader through raftlog.Node.Propose) at each concurrency on
// the same cluster, right after each level, and prints tx/s ÷ applies/s.
//
// design.md lists only client as this command's import: the in-process
// cluster that the benchmark issue asks for is why it also imports server and
// raftlog. The load itself goes only through client; server and raftlog are
// used to start the cluster and for the raw Raft baseline.
//
// It sends traffic only to 127.0.0.1 (or to the --targets given), and every
// load loop is bounded in time (--duration) and in count (--max-tx).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tmcluster/tmcluster/server"
)

// options is the parsed command line.
type options struct {
	modes        []string
	concurrency  []int
	duration     time.Duration
	warmup       time.Duration
	branches     int
	payload      int
	txTimeout    time.Duration
	maxTx        int
	baseline     string
	targets      []string
	participants []participantSpec
	jsonOut      bool
	progress     bool
	dataDir      string
	cpuProfile   string
	pprofAddr    string
	raft         raftTuning
	// streamWorkers is grpc.NumStreamWorkers for the in-process nodes.
	streamWorkers uint
	// ackBatchDelay is server.Config.AckBatchDelay for the in-process nodes.
	ackBatchDelay time.Duration
	// gcPercent is the process's GOGC: the in-process nodes', as cmd/tmd
	// sets it, and with them the load generator's and the participants'.
	gcPercent int
}

// participantSpec is one --participants entry: a registered name and the
// gRPC target it is served at.
type participantSpec struct{ name, target string }

// raftTuning are the Raft settings of the in-process cluster; zero values
// take raftlog's defaults, which are the production ones.
type raftTuning struct {
	heartbeat, election, commit time.Duration
	maxAppendEntries            int
	batchApplyCh                string // "", "true" or "false": "" keeps raftlog's default
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	var modes, conc, targets, parts string
	fs := flag.NewFlagSet("tmbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&modes, "mode", "execute", "comma-separated modes: execute (ExecuteTransaction), interactive (Begin, Enlist, Commit), raft (raw Raft applies only)")
	fs.StringVar(&conc, "concurrency", "1,16,64,256", "comma-separated concurrency levels (transactions in flight)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per level")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before each level")
	fs.IntVar(&o.branches, "branches", 2, "branches per transaction")
	fs.IntVar(&o.payload, "payload", 64, "bytes of payload per branch")
	fs.DurationVar(&o.txTimeout, "tx-timeout", 10*time.Second, "transaction timeout sent with each request")
	fs.IntVar(&o.maxTx, "max-tx", 2_000_000, "at most this many transactions per level (warm-up included)")
	fs.StringVar(&o.baseline, "baseline", "", `"raft": also measure raw Raft applies at each level (in-process cluster only)`)
	fs.StringVar(&targets, "targets", "", "comma-separated gRPC addresses of running tmd nodes (default: an in-process 3-node cluster)")
	fs.StringVar(&parts, "participants", "", "comma-separated name=target of running participants to register and use (default: in-process YES voters)")
	fs.BoolVar(&o.jsonOut, "json", false, "print the results as JSON on stdout instead of a table")
	fs.BoolVar(&o.progress, "progress", true, "show a progress bar on stderr")
	fs.StringVar(&o.dataDir, "data-dir", "", "where the in-process nodes keep their Raft data (default: a temporary dir, removed at exit)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the load (every level, cluster start-up excluded) to this file")
	fs.StringVar(&o.pprofAddr, "pprof", "", "serve net/http/pprof on this loopback address while running (mutex and block profiles sampled too)")
	fs.DurationVar(&o.raft.heartbeat, "raft-heartbeat-timeout", 500*time.Millisecond, "Raft heartbeat timeout (in-process cluster)")
	fs.DurationVar(&o.raft.election, "raft-election-timeout", 500*time.Millisecond, "Raft election timeout (in-process cluster)")
	fs.DurationVar(&o.raft.commit, "raft-commit-timeout", 0, "Raft commit timeout (in-process cluster; 0: raftlog's default)")
	fs.IntVar(&o.raft.maxAppendEntries, "raft-max-append-entries", 0, "Raft MaxAppendEntries (in-process cluster; 0: raftlog's default)")
	fs.DurationVar(&o.ackBatchDelay, "ack-batch-delay", 0, "server AckBatchDelay of the in-process nodes (0: server's default, as cmd/tmd)")
	fs.UintVar(&o.streamWorkers, "grpc-stream-workers", 0, "grpc.NumStreamWorkers of the in-process nodes' gRPC servers (0: GOMAXPROCS, as cmd/tmd)")
	fs.IntVar(&o.gcPercent, "gc-percent", server.DefaultGCPercent, "garbage collector target of the whole process, as cmd/tmd --gc-percent (Go's default is 100)")
	fs.StringVar(&o.raft.batchApplyCh, "raft-batch-apply-ch", "", "true or false: Raft BatchApplyCh (in-process cluster; empty: raftlog's default, true)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	var err error
	if o.modes, err = parseModes(modes); err != nil {
		return nil, err
	}
	if o.concurrency, err = parseInts(conc); err != nil {
		return nil, fmt.Errorf("--concurrency: %w", err)
	}
	o.targets = splitList(targets)
	if o.participants, err = parseParticipants(parts); err != nil {
		return nil, err
	}
	return o, o.check()
}

// check rejects combinations that cannot run.
func (o *options) check() error {
	switch {
	case o.duration <= 0:
		return errors.New("--duration must be positive")
	case o.warmup < 0:
		return errors.New("--warmup must not be negative")
	case o.branches < 1 || o.branches > 64:
		return errors.New("--branches must be 1 to 64")
	case o.payload < 0 || o.payload > 1<<20:
		return errors.New("--payload must be 0 to 1 MiB")
	case o.maxTx < 1:
		return errors.New("--max-tx must be positive")
	case o.baseline != "" && o.baseline != "raft":
		return fmt.Errorf("--baseline %q: only raft is known", o.baseline)
	case (o.baseline == "raft" || slices.Contains(o.modes, modeRaft)) && len(o.targets) > 0:
		return errors.New("raw Raft applies need the in-process cluster (no --targets)")
	case o.raft.batchApplyCh != "" && o.raft.batchApplyCh != "true" && o.raft.batchApplyCh != "false":
		return errors.New("--raft-batch-apply-ch must be true or false")
	}
	return nil
}

func parseModes(s string) ([]string, error) {
	modes := splitList(s)
	if len(modes) == 0 {
		return nil, errors.New("--mode is empty")
	}
	for _, m := range modes {
		if m != modeExecute && m != modeInteractive && m != modeRaft {
			return nil, fmt.Errorf("--mode %q: want execute, interactive or raft", m)
		}
	}
	return modes, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 10_000 {
			return nil, fmt.Errorf("%q is not a number from 1 to 10000", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("empty list")
	}
	return out, nil
}

func parseParticipants(s string) ([]participantSpec, error) {
	var out []participantSpec
	for _, f := range splitList(s) {
		name, target, ok := strings.Cut(f, "=")
		if !ok || name == "" || target == "" {
			return nil, fmt.Errorf("--participants: %q is not name=target", f)
		}
		out = append(out, participantSpec{name: name, target: target})
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tmbench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tmbench:", err)
		os.Exit(1)
	}
}
