package procs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// LeaderPoll is how often Leader asks the nodes who leads.
const LeaderPoll = 50 * time.Millisecond

// errNoLeader is the last failure of a poll that found no leader.
var errNoLeader = errors.New("no node reports itself the leader")

// Leader waits until some node reports itself the leader, asking every
// running, unpaused node every LeaderPoll, and returns it. It waits at most
// ReadyTimeout (and ctx).
func (c *Cluster) Leader(ctx context.Context) (*Node, error) {
	return c.AwaitLeader(ctx, LeaderPoll)
}

// AwaitLeader is Leader with a chosen poll interval, ignoring the nodes
// whose ids are in exclude: after killing the leader, AwaitLeader(ctx,
// 50*time.Millisecond, old.ID) returns once a new leader answers. When
// several nodes claim to lead (a deposed leader that has not noticed yet),
// the one with the highest term wins.
func (c *Cluster) AwaitLeader(ctx context.Context, interval time.Duration, exclude ...string) (*Node, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ReadyTimeout)
	defer cancel()
	var leader *Node
	err := poll(ctx, interval, func() error {
		var nodes []*Node
		for _, n := range c.Nodes() {
			if !slices.Contains(exclude, n.ID) && n.Running() && !n.Paused() {
				nodes = append(nodes, n)
			}
		}
		var best uint64
		leader = nil
		for i, st := range statuses(ctx, nodes) {
			if st != nil && st.GetLeaderId() == nodes[i].ID && (leader == nil || st.GetTerm() > best) {
				leader, best = nodes[i], st.GetTerm()
			}
		}
		if leader == nil {
			return errNoLeader
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("procs: no leader: %w", err)
	}
	return leader, nil
}

// statuses asks every node in parallel; a node that did not answer has a
// nil entry.
func statuses(ctx context.Context, nodes []*Node) []*tmv1.GetClusterStatusResponse {
	out := make([]*tmv1.GetClusterStatusResponse, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], _ = n.Status(ctx)
		}()
	}
	wg.Wait()
	return out
}

// waitMembers polls until the leader's configuration holds every node and
// every node answers naming that leader.
func (c *Cluster) waitMembers(ctx context.Context, nodes []*Node) error {
	return poll(ctx, 100*time.Millisecond, func() error {
		sts := statuses(ctx, nodes)
		leaderID := ""
		for i, st := range sts {
			if st == nil {
				return fmt.Errorf("%s does not answer", nodes[i].ID)
			}
			if st.GetLeaderId() == "" {
				return fmt.Errorf("%s knows no leader", nodes[i].ID)
			}
			if leaderID != "" && st.GetLeaderId() != leaderID {
				return fmt.Errorf("nodes disagree on the leader: %s and %s", leaderID, st.GetLeaderId())
			}
			leaderID = st.GetLeaderId()
		}
		for i, n := range nodes {
			if n.ID == leaderID {
				return hasMembers(sts[i], nodes)
			}
		}
		return fmt.Errorf("leader %s is not one of the started nodes", leaderID)
	})
}

// hasMembers reports an error unless st's configuration lists every node
// as a voter.
func hasMembers(st *tmv1.GetClusterStatusResponse, nodes []*Node) error {
	for _, n := range nodes {
		if !slices.ContainsFunc(st.GetNodes(), func(m *tmv1.Node) bool { return m.GetId() == n.ID && m.GetVoter() }) {
			return fmt.Errorf("%s is not yet a voter", n.ID)
		}
	}
	return nil
}

// WaitAllKnowLeader polls until every running, unpaused node answers and
// names the same leader: after a Restart, the cluster is whole again. It
// waits at most ReadyTimeout (and ctx).
func (c *Cluster) WaitAllKnowLeader(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ReadyTimeout)
	defer cancel()
	var nodes []*Node
	for _, n := range c.Nodes() {
		if n.Running() && !n.Paused() {
			nodes = append(nodes, n)
		}
	}
	if err := c.waitMembers(ctx, nodes); err != nil {
		return fmt.Errorf("procs: cluster not whole: %w", err)
	}
	return nil
}
