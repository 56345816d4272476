package procs

import (
	"context"
	"strings"
	"testing"
)

// TestKillAndRestartAllNodes: KillNodes leaves no node running (a paused
// one included), and RestartNodes starts them all again with their command
// lines, without waiting for one before starting the next.
func TestKillAndRestartAllNodes(t *testing.T) {
	c := fakeCluster(t)
	var procs []*Proc
	for _, name := range []string{"n1", "n2", "n3"} {
		p := c.newProc(name, "tmd", []string{"--id", name})
		track(c, p)
		if err := p.start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	pids := map[string]int{}
	for _, p := range procs {
		waitFor(t, func() bool { return strings.Contains(p.LogTail(1), "hello --id") }, p.Name()+" started")
		pids[p.Name()] = p.PID()
	}
	if err := procs[1].Pause(); err != nil {
		t.Fatal(err)
	}
	if err := c.KillNodes(); err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		if p.Running() {
			t.Errorf("%s still running after KillNodes", p.Name())
		}
	}
	if err := c.KillNodes(); err != nil {
		t.Errorf("KillNodes with none running = %v, want nil", err)
	}
	if err := c.RestartNodes(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		if !p.Running() || p.PID() == pids[p.Name()] {
			t.Errorf("%s: running %v, pid %d (was %d) after RestartNodes", p.Name(), p.Running(), p.PID(), pids[p.Name()])
		}
		if !strings.Contains(p.LogTail(10), "start #2") {
			t.Errorf("%s: no second start in its log:\n%s", p.Name(), p.LogTail(10))
		}
	}
}
