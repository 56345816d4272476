package procs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Errors of Proc's methods.
var (
	// ErrNotRunning is returned when a process is signalled (Kill, Pause,
	// Resume) while it is not running.
	ErrNotRunning = errors.New("procs: process not running")
	// ErrRunning is returned by Restart while the process still runs.
	ErrRunning = errors.New("procs: process still running")
	// errExited cancels a readiness probe whose process exited.
	errExited = errors.New("procs: process exited")
)

// reapTimeout bounds how long Kill waits for a SIGKILLed process to be
// reaped; the kernel needs milliseconds, so hitting it means something is
// badly wrong (an uninterruptible sleep on a dying disk).
const reapTimeout = 10 * time.Second

// Proc is one OS process the harness started, with the command line it is
// restarted with. Its stdout and stderr are appended to a log file, with a
// "=== procs:" line at every start and exit. All methods are safe for
// concurrent use.
type Proc struct {
	name    string
	path    string
	args    []string
	dir     string
	logPath string
	sp      *spawner
	ready   func(ctx context.Context) error // readiness probe; nil: none
	timeout time.Duration                   // bounds ready in Restart

	mu     sync.Mutex
	cmd    *exec.Cmd     // the current (or last) process; nil before the first start
	exited chan struct{} // closed once the current process is reaped
	paused bool
	starts int
}

// Name returns the name the harness gave the process ("n1", "bank-a").
func (p *Proc) Name() string { return p.name }

// Args returns a copy of the command line after the binary's path.
func (p *Proc) Args() []string { return append([]string(nil), p.args...) }

// LogPath returns the file that collects the process's stdout and stderr.
func (p *Proc) LogPath() string { return p.logPath }

// PID returns the current process's id, or 0 when it is not running.
func (p *Proc) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.runningLocked() {
		return 0
	}
	return p.cmd.Process.Pid
}

// Running reports whether the process has been started and not yet reaped.
// A paused process is running.
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.runningLocked()
}

// Paused reports whether the process is stopped by Pause.
func (p *Proc) Paused() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paused && p.runningLocked()
}

// Exited returns a channel closed when the current process has exited and
// been reaped (already closed when it is not running).
func (p *Proc) Exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return p.exited
}

func (p *Proc) runningLocked() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// start launches the process; it must not be running.
func (p *Proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.runningLocked() {
		return fmt.Errorf("%s: %w", p.name, ErrRunning)
	}
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("%s: log: %w", p.name, err)
	}
	p.starts++
	fmt.Fprintf(f, "=== procs: start #%d at %s: %s %s\n", p.starts,
		time.Now().Format(time.RFC3339Nano), p.path, strings.Join(p.args, " "))
	cmd := exec.Command(p.path, p.args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = p.dir, f, f
	if err := p.sp.start(cmd); err != nil {
		fmt.Fprintf(f, "=== procs: start failed: %v\n", err)
		f.Close()
		return fmt.Errorf("%s: start: %w", p.name, err)
	}
	exited := make(chan struct{})
	p.cmd, p.exited, p.paused = cmd, exited, false
	go func() {
		err := cmd.Wait()
		fmt.Fprintf(f, "=== procs: exited at %s: %v\n", time.Now().Format(time.RFC3339Nano), exitText(err))
		f.Close()
		close(exited)
	}()
	return nil
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// signal sends sig to the current process (by its PID only, never to a
// group).
func (p *Proc) signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.runningLocked() {
		return fmt.Errorf("%s: %w", p.name, ErrNotRunning)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("%s: %w", p.name, ErrNotRunning)
		}
		return fmt.Errorf("%s: %v: %w", p.name, sig, err)
	}
	switch sig {
	case syscall.SIGSTOP:
		p.paused = true
	case syscall.SIGCONT:
		p.paused = false
	}
	return nil
}

// Kill sends SIGKILL and waits until the process is reaped, so Restart may
// follow at once.
func (p *Proc) Kill() error {
	if err := p.signal(syscall.SIGKILL); err != nil {
		return err
	}
	return p.wait(reapTimeout)
}

// Pause stops the process with SIGSTOP; it keeps its sockets and state.
func (p *Proc) Pause() error { return p.signal(syscall.SIGSTOP) }

// Resume continues a paused process with SIGCONT.
func (p *Proc) Resume() error { return p.signal(syscall.SIGCONT) }

// Restart starts the process again with the same command line (and so the
// same data dir and addresses), then waits until it is ready: for a node,
// it answers GetClusterStatus and knows a leader; for a bank, its health
// check is SERVING. The wait is bounded by ctx and the Cluster's
// ReadyTimeout. The process must have exited (Kill or Stop first).
func (p *Proc) Restart(ctx context.Context) error {
	if err := p.start(); err != nil {
		return err
	}
	return p.waitReady(ctx)
}

// waitReady runs the readiness probe, bounded by ctx and p.timeout.
func (p *Proc) waitReady(ctx context.Context) error {
	if p.ready == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	exited := p.Exited()
	probeCtx, cancelProbe := context.WithCancelCause(ctx)
	defer cancelProbe(nil)
	go func() {
		select {
		case <-exited:
			cancelProbe(errExited)
		case <-probeCtx.Done():
		}
	}()
	if err := p.ready(probeCtx); err != nil {
		if errors.Is(context.Cause(probeCtx), errExited) {
			return fmt.Errorf("%s exited while starting (see %s): %s", p.name, p.logPath, p.LogTail(3))
		}
		return fmt.Errorf("%s not ready after %v (see %s): %w", p.name, p.timeout, p.logPath, err)
	}
	return nil
}

// Stop ends the process: SIGTERM (with SIGCONT, in case it is paused), then
// SIGKILL if it has not exited within timeout. It returns nil when the
// process is not running.
func (p *Proc) Stop(timeout time.Duration) error {
	if err := p.signal(syscall.SIGTERM); errors.Is(err, ErrNotRunning) {
		return nil
	} else if err != nil {
		return err
	}
	_ = p.signal(syscall.SIGCONT)
	if p.wait(timeout) == nil {
		return nil
	}
	if err := p.signal(syscall.SIGKILL); err != nil && !errors.Is(err, ErrNotRunning) {
		return err
	}
	return p.wait(reapTimeout)
}

// wait waits up to d for the current process to be reaped.
func (p *Proc) wait(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.Exited():
		return nil
	case <-t.C:
		return fmt.Errorf("%s: still running %v after the signal", p.name, d)
	}
}

// tailBytes bounds how much of a log LogTail reads from its end.
const tailBytes = 256 << 10

// LogTail returns the last lines of the process's log (stdout and stderr
// of every run, with the harness's "=== procs:" lines), or a note saying
// why it could not be read.
func (p *Proc) LogTail(lines int) string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(log: %v)", err)
	}
	from := max(info.Size()-tailBytes, 0)
	buf, err := io.ReadAll(io.NewSectionReader(f, from, info.Size()-from))
	if err != nil {
		return fmt.Sprintf("(log: %v)", err)
	}
	return string(lastLines(buf, lines))
}

// lastLines returns the last n lines of b (without a trailing newline).
func lastLines(b []byte, n int) []byte {
	b = bytes.TrimRight(b, "\n")
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			n--
			if n == 0 {
				return b[i+1:]
			}
		}
	}
	return b
}
