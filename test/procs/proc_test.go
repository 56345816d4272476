package procs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeCluster returns a Cluster whose "tmd" is a shell script that logs a
// line and sleeps (or, given --exit, fails at once), and whose "bankd"
// ignores SIGTERM, so the process life cycle is tested without the real
// binaries.
func fakeCluster(t *testing.T) *Cluster {
	t.Helper()
	bin := t.TempDir()
	scripts := map[string]string{
		"tmd":   "#!/bin/sh\n[ \"$1\" = --exit ] && { echo bad flag >&2; exit 2; }\necho hello \"$@\"\nexec sleep 60\n",
		"bankd": "#!/bin/sh\ntrap '' TERM\necho stubborn\nwhile :; do sleep 0.05; done\n",
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c, err := New(Config{BinDir: bin, Dir: t.TempDir(), StopTimeout: 300 * time.Millisecond, KeepSignals: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	return c
}

// track registers p with c, as Start and StartBank do.
func track(c *Cluster, p *Proc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nodes = append(c.nodes, &Node{Proc: p, ID: p.name})
}

// procState returns the state letter of /proc/PID/stat (R, S, T, Z…).
func procState(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return "gone"
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])[0]
}

func TestProcLifecycle(t *testing.T) {
	c := fakeCluster(t)
	p := c.newProc("x", "tmd", []string{"--flag", "v"})
	track(c, p)
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	pid := p.PID()
	if pid == 0 || !p.Running() {
		t.Fatalf("not running after start: pid %d", pid)
	}
	waitFor(t, func() bool { return strings.Contains(p.LogTail(1), "hello --flag v") }, "output in the log")
	if err := p.Pause(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return procState(t, pid) == "T" }, "stopped state")
	if !p.Paused() {
		t.Error("Paused() = false after Pause")
	}
	if err := p.Resume(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return procState(t, pid) != "T" }, "continued state")
	if err := p.Restart(context.Background()); !errors.Is(err, ErrRunning) {
		t.Errorf("Restart while running = %v, want ErrRunning", err)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if p.Running() || p.PID() != 0 {
		t.Error("still running after Kill")
	}
	if err := p.Kill(); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Kill of a dead process = %v, want ErrNotRunning", err)
	}
	if err := p.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p.PID() == pid || p.PID() == 0 {
		t.Errorf("Restart: pid %d, was %d", p.PID(), pid)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if p.Running() {
		t.Error("running after Cluster.Stop")
	}
	tail := p.LogTail(10)
	for _, want := range []string{"start #1", "hello --flag v", "signal: killed", "start #2", "exited"} {
		if !strings.Contains(tail, want) {
			t.Errorf("log tail lacks %q:\n%s", want, tail)
		}
	}
	if err := p.Restart(context.Background()); !errors.Is(err, ErrStopped) {
		t.Errorf("Restart after Stop = %v, want ErrStopped", err)
	}
}

// TestStopEscalates: a process that ignores SIGTERM (and one that is
// paused) is SIGKILLed after StopTimeout.
func TestStopEscalates(t *testing.T) {
	c := fakeCluster(t)
	stubborn := c.newProc("stubborn", "bankd", nil)
	paused := c.newProc("paused", "tmd", nil)
	for _, p := range []*Proc{stubborn, paused} {
		track(c, p)
		if err := p.start(); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return strings.Contains(stubborn.LogTail(1), "stubborn") }, "trap installed")
	if err := paused.Pause(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if stubborn.Running() || paused.Running() {
		t.Fatal("still running after Stop")
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 5*time.Second {
		t.Errorf("Stop took %v; want about StopTimeout (300ms)", d)
	}
	if !strings.Contains(stubborn.LogTail(1), "signal: killed") {
		t.Errorf("stubborn was not SIGKILLed: %s", stubborn.LogTail(3))
	}
}

// TestRestartReportsEarlyExit: a process that dies while its readiness is
// awaited fails at once, with its last words.
func TestRestartReportsEarlyExit(t *testing.T) {
	c := fakeCluster(t)
	p := c.newProc("early", "tmd", []string{"--exit"})
	p.ready = func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	track(c, p)
	start := time.Now()
	err := p.Restart(context.Background())
	if err == nil || !strings.Contains(err.Error(), "bad flag") {
		t.Fatalf("Restart = %v, want the exit with its log", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Restart took %v to notice the exit", d)
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
