package procs

import (
	"errors"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// ErrStopped is returned when a process is to be started or restarted after
// its Cluster was stopped.
var ErrStopped = errors.New("procs: cluster stopped")

// spawner starts every child of one Cluster from a single goroutine locked
// to its OS thread.
//
// Each child gets Setpgid (its own process group, so a Ctrl-C on the
// terminal reaches only the parent, which then stops the children in
// order) and Pdeathsig SIGKILL (so a parent that dies without cleaning up —
// a panic, a test timeout, a SIGKILL — leaves no orphan). Linux sends the
// death signal when the thread that forked the child exits, not the whole
// process (https://go.dev/issue/27505); forking from one locked thread that
// lives until the Cluster is stopped makes the signal mean "the harness is
// gone". When close returns, the locked goroutine exits without unlocking,
// so the runtime ends the thread and any child still alive gets SIGKILL.
type spawner struct {
	reqs chan spawnRequest
	quit chan struct{}
	once sync.Once
}

// spawnRequest asks the spawner's thread to start cmd and report on done.
type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

// newSpawner starts the spawner's locked goroutine.
func newSpawner() *spawner {
	s := &spawner{reqs: make(chan spawnRequest), quit: make(chan struct{})}
	ready := make(chan struct{})
	go s.loop(ready)
	<-ready
	return s
}

// loop runs on its own OS thread until close.
func (s *spawner) loop(ready chan<- struct{}) {
	runtime.LockOSThread() // never unlocked: see the type's comment
	close(ready)
	for {
		select {
		case r := <-s.reqs:
			r.done <- r.cmd.Start()
		case <-s.quit:
			return
		}
	}
}

// start starts cmd on the spawner's thread, with the process attributes
// described on spawner.
func (s *spawner) start(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	req := spawnRequest{cmd: cmd, done: make(chan error, 1)}
	select {
	case s.reqs <- req:
	case <-s.quit:
		return ErrStopped
	}
	return <-req.done
}

// close ends the spawner's thread. Call it only after every child has been
// stopped: any child still alive is killed by its death signal.
func (s *spawner) close() {
	s.once.Do(func() { close(s.quit) })
}
