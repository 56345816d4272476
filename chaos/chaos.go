// Package chaos is tmcluster's chaos tier (tier 4): it runs 3 tmd nodes and
// several bankd participants as real processes on 127.0.0.1 (through
// test/procs), drives concurrent transfers between the banks through random
// nodes with idempotency keys, injects faults at random (SIGKILL of the
// leader, of a follower, of a participant, SIGSTOP of a node for longer than
// the election timeout, SIGKILL of every node at once), records every
// operation in a history, and at the end checks the invariants of design.md
// from the outside: conservation, atomicity, durability, exactly once,
// liveness and agreement of the replicas.
//
// What it owns: the workload, the fault injector, the history recorder, the
// checker and the report folder. What it must never do: import server or
// raftlog (it sees the cluster only as a client and an operator would),
// signal a process it did not start, or weaken a check to pass: a violation
// is reported with the evidence that shows it (tx id, key, what each party
// says) and makes the run fail.
//
// Run is the entry point; cmd/tmchaos is its command line.
package chaos

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// Config configures a chaos run. BinDir and ReportDir are required; zero
// values take the defaults noted beside them.
type Config struct {
	// BinDir holds the built tmd and bankd binaries.
	BinDir string
	// ReportDir is the run's report folder: history.jsonl, faults.jsonl,
	// seed.txt, summary.txt and, under cluster/, every process's log and
	// data dir. It is created; it must not hold an earlier run.
	ReportDir string
	// Duration is how long the workload and the faults run: default 5m.
	Duration time.Duration
	// Seed seeds the workload's and the fault injector's random choices.
	Seed uint64
	// Concurrency is the number of transfer workers: default 8.
	Concurrency int
	// Nodes is the number of tmd nodes: default 3.
	Nodes int
	// Banks is the number of bankd participants (bank-0, bank-1, …):
	// default 3.
	Banks int
	// Accounts per bank (default 20) and each one's initial balance
	// (default 1000).
	Accounts       int
	InitialBalance int64
	// MaxAmount is the largest transfer (default 60% of InitialBalance), so
	// that some debits overdraw and their bank votes NO.
	MaxAmount int64
	// TxTimeout is each transfer's transaction timeout: default 4s.
	TxTimeout time.Duration
	// NodeArgs are extra tmd flags, after the chaos tier's own
	// (--default-timeout 5s; Raft timeouts stay at tmd's 500 ms defaults).
	NodeArgs []string
	// Faults are the kinds of fault to draw from: default all of
	// FaultKinds.
	Faults []FaultKind
	// FaultGapMin and FaultGapMax bound the random quiet time between the
	// end of one fault's check and the next fault: default 0.5s and 3s.
	FaultGapMin, FaultGapMax time.Duration
	// DownMin and DownMax bound how long a killed process stays down, and
	// PauseMin and PauseMax how long a node stays SIGSTOPped (longer than
	// the election timeout): defaults 0.5–3s and 1–3s.
	DownMin, DownMax   time.Duration
	PauseMin, PauseMax time.Duration
	// QuiesceTimeout bounds the wait at the end for the banks to settle and
	// every record to complete: default 90s.
	QuiesceTimeout time.Duration
	// MaxOps bounds the number of transfers started: default 1,000,000.
	MaxOps int
	// KeepData keeps the data dirs when every check passes (they are always
	// kept on a failure).
	KeepData bool
	// Progress receives a line per fault and the phase changes; nil
	// discards them.
	Progress io.Writer
}

// withDefaults returns cfg with its zero values replaced by the defaults.
func (cfg Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Duration, 5*time.Minute)
	def(&cfg.TxTimeout, 4*time.Second)
	def(&cfg.FaultGapMin, 500*time.Millisecond)
	def(&cfg.FaultGapMax, 3*time.Second)
	def(&cfg.DownMin, 500*time.Millisecond)
	def(&cfg.DownMax, 3*time.Second)
	def(&cfg.PauseMin, time.Second)
	def(&cfg.PauseMax, 3*time.Second)
	def(&cfg.QuiesceTimeout, 90*time.Second)
	defInt := func(n *int, v int) {
		if *n <= 0 {
			*n = v
		}
	}
	defInt(&cfg.Concurrency, 8)
	defInt(&cfg.Nodes, 3)
	defInt(&cfg.Banks, 3)
	defInt(&cfg.Accounts, 20)
	defInt(&cfg.MaxOps, 1_000_000)
	if cfg.InitialBalance <= 0 {
		cfg.InitialBalance = 1000
	}
	if cfg.MaxAmount <= 0 {
		cfg.MaxAmount = max(1, cfg.InitialBalance*6/10)
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	if len(cfg.Faults) == 0 {
		cfg.Faults = FaultKinds()
	}
	return cfg
}

// check reports what makes cfg unusable.
func (cfg Config) check() error {
	switch {
	case cfg.BinDir == "":
		return errors.New("chaos: Config.BinDir is empty")
	case cfg.ReportDir == "":
		return errors.New("chaos: Config.ReportDir is empty")
	case cfg.Nodes < 3:
		return fmt.Errorf("chaos: %d nodes: at least 3 are needed to lose one", cfg.Nodes)
	case cfg.Banks < 2:
		return fmt.Errorf("chaos: %d banks: at least 2 are needed", cfg.Banks)
	case cfg.FaultGapMax < cfg.FaultGapMin, cfg.DownMax < cfg.DownMin, cfg.PauseMax < cfg.PauseMin:
		return errors.New("chaos: a maximum duration is below its minimum")
	}
	for _, f := range cfg.Faults {
		if !slices.Contains(FaultKinds(), f) {
			return fmt.Errorf("chaos: unknown fault %q (known: %v)", f, FaultKinds())
		}
	}
	return nil
}

// totalMoney is what every bank holds together at the start.
func (cfg Config) totalMoney() int64 {
	return int64(cfg.Banks) * int64(cfg.Accounts) * cfg.InitialBalance
}

// bankName is the process and participant name of bank i.
func bankName(i int) string { return fmt.Sprintf("bank-%d", i) }

// accountName is the id of account i in every bank.
func accountName(i int) string { return fmt.Sprintf("acct-%d", i) }

// span draws a duration uniformly from [lo, hi] with rnd (a value in [0,1)).
func span(lo, hi time.Duration, rnd float64) time.Duration {
	return lo + time.Duration(rnd*float64(hi-lo))
}
