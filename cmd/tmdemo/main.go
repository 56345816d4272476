// Command tmdemo shows tmcluster surviving the loss of its leader: it starts
// a 3-node cluster and two bankd participants on 127.0.0.1, runs payments
// between the banks with a progress bar, SIGKILLs the leader halfway,
// restarts it, and checks that no money was created or lost.
//
//	make build && bin/tmdemo --bin bin
//
// It builds nothing: --bin names the folder holding tmd and bankd. Every
// process it starts is stopped when it ends, on an error, or on Ctrl-C;
// their logs and data dirs stay in --dir.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"
)

// options are the command line.
type options struct {
	bin, dir    string
	transfers   int
	concurrency int
	seed        uint64
	txTimeout   time.Duration
	quiesce     time.Duration
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("tmdemo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.bin, "bin", "bin", "folder holding the built tmd and bankd")
	fs.StringVar(&o.dir, "dir", "", "scratch folder for data dirs and logs (default: a new folder under ./.demo/)")
	fs.IntVar(&o.transfers, "transfers", 1000, "number of transfers to run")
	fs.IntVar(&o.concurrency, "concurrency", 8, "transfers in flight at once")
	fs.Uint64Var(&o.seed, "seed", 0, "seed of the random transfers (default: from the clock)")
	fs.DurationVar(&o.txTimeout, "tx-timeout", 5*time.Second, "each transfer's transaction timeout")
	fs.DurationVar(&o.quiesce, "quiesce-timeout", time.Minute, "how long to wait for the banks to settle at the end")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	case o.transfers < 2:
		return nil, errors.New("--transfers must be at least 2")
	case o.concurrency < 1:
		return nil, errors.New("--concurrency must be at least 1")
	}
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	if o.dir == "" {
		if err := os.MkdirAll(".demo", 0o755); err != nil {
			return nil, err
		}
		dir, err := os.MkdirTemp(".demo", "run-")
		if err != nil {
			return nil, err
		}
		o.dir = dir
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tmdemo:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ok, err := run(ctx, o, os.Stdout, os.Stderr)
	interrupted := ctx.Err() != nil
	stop()
	switch {
	case err != nil && interrupted:
		fmt.Fprintln(os.Stderr, "tmdemo: interrupted; every process it started was stopped")
		os.Exit(130)
	case err != nil:
		fmt.Fprintln(os.Stderr, "tmdemo:", err)
		os.Exit(1)
	case !ok:
		os.Exit(1)
	}
}

// run starts the processes, runs the demo and prints the report to stdout
// (progress and notes go to stderr). It reports whether money was
// conserved; every process it started is stopped before it returns.
func run(ctx context.Context, o *options, stdout, stderr io.Writer) (ok bool, err error) {
	fmt.Fprintf(stderr, "tmdemo: seed %d, scratch folder %s\n", o.seed, o.dir)
	env, err := setUp(ctx, o, stderr)
	if env != nil {
		defer func() {
			if stopErr := env.cluster.Stop(); stopErr != nil && err == nil {
				err = fmt.Errorf("stopping the processes: %w", stopErr)
			}
			fmt.Fprintf(stderr, "tmdemo: all processes stopped; logs in %s\n", o.dir)
		}()
	}
	if err != nil {
		return false, err
	}
	defer env.client.Close()

	before, err := env.money(ctx)
	if err != nil {
		return false, err
	}
	rep := &report{transfers: o.transfers, before: before}
	rep.tally, rep.failover = runTransfers(ctx, env, o, stderr)
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	qctx, cancel := context.WithTimeout(ctx, o.quiesce)
	ledgers, qerr := env.cluster.WaitQuiescent(qctx, 200*time.Millisecond)
	cancel()
	if qerr != nil {
		rep.problems = append(rep.problems, qerr.Error())
		if ledgers, err = env.ledgers(ctx); err != nil {
			return false, err
		}
	}
	rep.after = sumLedgers(ledgers)
	return rep.print(stdout), nil
}

// report is the demo's result.
type report struct {
	transfers     int
	tally         *tally
	failover      failover
	before, after int64
	problems      []string // what makes the run fail besides the money
}

// print writes the table and the verdict line, and reports whether the run
// passed: money conserved, the leader's loss shown, the banks settled.
func (r *report) print(w io.Writer) bool {
	t, f := r.tally, r.failover
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "transfers\t%d\n", r.transfers)
	fmt.Fprintf(tw, "committed\t%d\n", t.committed)
	fmt.Fprintf(tw, "aborted (insufficient funds)\t%d\n", t.insufficient)
	fmt.Fprintf(tw, "aborted (other)\t%d\n", t.abortedOther)
	fmt.Fprintf(tw, "failed (outcome unknown after retries)\t%d\n", t.unknown)
	if t.errored > 0 {
		fmt.Fprintf(tw, "failed (other error)\t%d\n", t.errored)
	}
	fmt.Fprintf(tw, "leader killed\t%s\n", leaderLine(f))
	fmt.Fprintf(tw, "time without a leader\t%s\n", gapLine(f))
	fmt.Fprintf(tw, "total money before\t%d\n", r.before)
	fmt.Fprintf(tw, "total money after\t%d\n", r.after)
	tw.Flush()
	for _, s := range t.samples {
		fmt.Fprintln(w, "  e.g.", s)
	}
	problems := r.problems
	if f.err != nil {
		problems = append(problems, "leader failover: "+f.err.Error())
	}
	switch {
	case r.before != r.after:
		fmt.Fprintf(w, "FAIL: money changed by %+d (before %d, after %d)\n", r.after-r.before, r.before, r.after)
		return false
	case len(problems) > 0:
		fmt.Fprintln(w, "FAIL:", problems[0])
		for _, p := range problems[1:] {
			fmt.Fprintln(w, "  and:", p)
		}
		return false
	}
	fmt.Fprintln(w, "OK: no money was created or lost")
	return true
}

func leaderLine(f failover) string {
	switch {
	case f.killed == "":
		return "no"
	case f.newLeader == "":
		return f.killed + ", no new leader"
	case !f.restarted:
		return fmt.Sprintf("%s (new leader %s; restart failed)", f.killed, f.newLeader)
	}
	return fmt.Sprintf("%s (new leader %s; %s restarted and rejoined)", f.killed, f.newLeader, f.killed)
}

func gapLine(f failover) string {
	if f.newLeader == "" {
		return "-"
	}
	return f.gap.Round(time.Millisecond).String()
}
