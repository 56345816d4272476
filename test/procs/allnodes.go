package procs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// This file holds what the chaos tier needs beyond the system tests: losing
// every node at once and bringing the cluster back, and reading each node's
// state digest for the agreement check.

// KillNodes SIGKILLs every running tmd node at once — all signals are sent
// before any is awaited, so no node outlives another by more than the
// kernel's delivery — and waits until all are reaped. A paused node is
// killed too. Nodes that are not running are skipped.
func (c *Cluster) KillNodes() error {
	var killed []*Node
	var errs []error
	for _, n := range c.Nodes() {
		err := n.signal(syscall.SIGKILL)
		switch {
		case errors.Is(err, ErrNotRunning):
		case err != nil:
			errs = append(errs, err)
		default:
			killed = append(killed, n)
		}
	}
	for _, n := range killed {
		errs = append(errs, n.wait(reapTimeout))
	}
	return errors.Join(errs...)
}

// RestartNodes starts every tmd node that is not running, all at once, with
// the command line each was first started with, then waits until every node
// answers GetClusterStatus and knows a leader. Restarting the nodes of a
// fully stopped cluster one by one with Restart cannot work: the first
// waits for a leader that needs a majority. The wait is bounded by ctx and
// ReadyTimeout.
func (c *Cluster) RestartNodes(ctx context.Context) error {
	if c.isStopped() {
		return ErrStopped
	}
	var started []*Node
	for _, n := range c.Nodes() {
		if n.Running() {
			continue
		}
		if err := n.start(); err != nil {
			return err
		}
		started = append(started, n)
	}
	errs := make([]error, len(started))
	var wg sync.WaitGroup
	for i, n := range started {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = n.waitReady(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// StateDigest asks this node (and only it) for its status with the state
// digest (include_state_digest), within timeout. The digest encodes the
// whole replicated state, so this is for agreement checks, not polling.
func (n *Node) StateDigest(ctx context.Context, timeout time.Duration) (*tmv1.GetClusterStatusResponse, error) {
	conn, err := n.dial()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, err := tmv1.NewClusterServiceClient(conn).GetClusterStatus(ctx,
		&tmv1.GetClusterStatusRequest{IncludeStateDigest: true})
	if err != nil {
		return nil, fmt.Errorf("%s: GetClusterStatus: %w", n.ID, err)
	}
	return st, nil
}
