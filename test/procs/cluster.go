// Package procs runs tmcluster's built binaries — tmd nodes and bankd
// participants — as real processes on 127.0.0.1, for the demo, the system
// tests and the chaos tier. It builds nothing: it is given the folder that
// holds the binaries.
//
// A Cluster owns a scratch folder: each process gets a data dir
// DIR/<name>/ and a log DIR/<name>.log that collects its stdout and stderr
// across restarts. Ports are picked free by listening on 127.0.0.1:0, and a
// process keeps its ports across restarts.
//
// What it must never do: signal a process it did not start (it signals by
// PID, never a group or a name), or leave one behind. Children run in their
// own process group with a parent-death signal (see spawner), Stop ends them
// all (SIGTERM, then SIGKILL after StopTimeout), and SIGINT or SIGTERM of the
// parent stops them before the signal is delivered again.
package procs

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Config configures a Cluster. BinDir and Dir are required.
type Config struct {
	// BinDir holds the built tmd and bankd binaries.
	BinDir string
	// Dir is the scratch folder; it is created if missing.
	Dir string
	// Nodes is the number of tmd nodes Start runs; default 3.
	Nodes int
	// NodeArgs are extra flags for every tmd (e.g. "--election-timeout",
	// "300ms"), appended after the ones the harness sets.
	NodeArgs []string
	// StopTimeout is how long Stop waits after SIGTERM before SIGKILL;
	// default 5 s.
	StopTimeout time.Duration
	// ReadyTimeout bounds each wait for a process to become ready (Start,
	// StartBank, Restart) and for the cluster to elect a leader; default
	// 30 s.
	ReadyTimeout time.Duration
	// KeepSignals, when true, leaves SIGINT and SIGTERM alone. By default
	// the Cluster stops its processes on either, then delivers the signal
	// again, so the parent's own handler (signal.NotifyContext) or the
	// default action (exit) still happens.
	KeepSignals bool
}

// Cluster is a set of tmd nodes and bankd participants started by the
// harness. Its methods are safe for concurrent use.
type Cluster struct {
	cfg Config
	sp  *spawner

	mu    sync.Mutex
	nodes []*Node
	banks []*Bank

	stopOnce sync.Once
	stopErr  error
	stopped  chan struct{}
}

// New checks cfg, creates the scratch folder and, unless KeepSignals,
// watches SIGINT and SIGTERM. It starts no process: see Start and
// StartBank. Call Stop when done, also on failure paths.
func New(cfg Config) (*Cluster, error) {
	if cfg.Nodes <= 0 {
		cfg.Nodes = 3
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = 5 * time.Second
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 30 * time.Second
	}
	if cfg.Dir == "" {
		return nil, errors.New("procs: Config.Dir is empty")
	}
	var err error
	if cfg.BinDir, err = filepath.Abs(cfg.BinDir); err != nil {
		return nil, err
	}
	for _, bin := range []string{"tmd", "bankd"} {
		if _, err := os.Stat(filepath.Join(cfg.BinDir, bin)); err != nil {
			return nil, fmt.Errorf("procs: binary %s: %w", bin, err)
		}
	}
	if cfg.Dir, err = filepath.Abs(cfg.Dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("procs: scratch dir: %w", err)
	}
	c := &Cluster{cfg: cfg, sp: newSpawner(), stopped: make(chan struct{})}
	if !cfg.KeepSignals {
		go c.stopOnSignal()
	}
	return c, nil
}

// Dir returns the scratch folder's absolute path.
func (c *Cluster) Dir() string { return c.cfg.Dir }

// stopOnSignal stops every process on SIGINT or SIGTERM, then delivers the
// signal to this process again.
func (c *Cluster) stopOnSignal() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(ch)
	select {
	case sig := <-ch:
		_ = c.Stop()
		signal.Stop(ch)
		if s, ok := sig.(syscall.Signal); ok {
			_ = syscall.Kill(os.Getpid(), s)
		}
	case <-c.stopped:
	}
}

// newProc prepares a process named name; it does not start it.
func (c *Cluster) newProc(name, bin string, args []string) *Proc {
	return &Proc{
		name:    name,
		path:    filepath.Join(c.cfg.BinDir, bin),
		args:    args,
		dir:     c.cfg.Dir,
		logPath: filepath.Join(c.cfg.Dir, name+".log"),
		sp:      c.sp,
		timeout: c.cfg.ReadyTimeout,
	}
}

// isStopped reports whether Stop has begun.
func (c *Cluster) isStopped() bool {
	select {
	case <-c.stopped:
		return true
	default:
		return false
	}
}

// Procs returns every process the Cluster started: nodes, then banks.
func (c *Cluster) Procs() []*Proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Proc, 0, len(c.nodes)+len(c.banks))
	for _, n := range c.nodes {
		out = append(out, n.Proc)
	}
	for _, b := range c.banks {
		out = append(out, b.Proc)
	}
	return out
}

// Stop ends every process the Cluster started, in parallel (SIGTERM, then
// SIGKILL after StopTimeout), and closes its connections. It is idempotent
// and safe to call from any goroutine; later calls return the first
// result. Start, StartBank and Restart fail after it.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		close(c.stopped)
		procs := c.Procs()
		errs := make([]error, len(procs))
		var wg sync.WaitGroup
		for i, p := range procs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = p.Stop(c.cfg.StopTimeout)
			}()
		}
		wg.Wait()
		c.sp.close()
		c.mu.Lock()
		for _, n := range c.nodes {
			errs = append(errs, n.close())
		}
		for _, b := range c.banks {
			errs = append(errs, b.close())
		}
		c.mu.Unlock()
		c.stopErr = errors.Join(errs...)
	})
	return c.stopErr
}

// LogTails returns the last lines of every process's log, each under a
// header naming the process and its log file: what a failed test prints.
func (c *Cluster) LogTails(lines int) string {
	var out []byte
	for _, p := range c.Procs() {
		out = fmt.Appendf(out, "----- %s (%s) -----\n%s\n", p.Name(), p.LogPath(), p.LogTail(lines))
	}
	return string(out)
}
