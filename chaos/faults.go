package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/tmcluster/tmcluster/test/procs"
)

// FaultKind names a fault the injector can cause.
type FaultKind string

// The faults, each followed by a heal and a check.
const (
	// FaultKillLeader SIGKILLs the leader, waits for another node to lead,
	// then restarts it on its data dir.
	FaultKillLeader FaultKind = "kill-leader"
	// FaultKillFollower SIGKILLs a follower, then restarts it.
	FaultKillFollower FaultKind = "kill-follower"
	// FaultKillParticipant SIGKILLs a bankd, then restarts it.
	FaultKillParticipant FaultKind = "kill-participant"
	// FaultPauseNode SIGSTOPs a node (the leader half of the time) for
	// longer than the election timeout, then SIGCONTs it.
	FaultPauseNode FaultKind = "pause-node"
	// FaultKillAllNodes SIGKILLs every node at once, then restarts them all.
	FaultKillAllNodes FaultKind = "kill-all-nodes"
)

// FaultKinds returns every fault kind, in the order the summary lists them.
func FaultKinds() []FaultKind {
	return []FaultKind{FaultKillLeader, FaultKillFollower, FaultKillParticipant, FaultPauseNode, FaultKillAllNodes}
}

// FaultEvent is one injected fault, as faults.jsonl records it.
type FaultEvent struct {
	Seq    int       `json:"seq"`
	Kind   FaultKind `json:"kind"`
	Target string    `json:"target"`
	Start  time.Time `json:"start"`
	// Healed is when every process was back and every node knew the
	// leader.
	Healed time.Time `json:"healed"`
	// Down is how long the target was killed or paused.
	Down time.Duration `json:"down"`
	// Failover is, for kill-leader, the time from the SIGKILL until another
	// node answered as leader.
	Failover  time.Duration `json:"failover,omitempty"`
	NewLeader string        `json:"new_leader,omitempty"`
	// Error is why the fault or its heal failed, if it did.
	Error string `json:"error,omitempty"`
	// Problems are what the check after the heal found.
	Problems []string `json:"problems,omitempty"`
	// Checked is how many transactions the check read at the banks, and
	// CheckTook how long the whole check took (the wait for a transfer to
	// get an outcome included).
	Checked   int           `json:"checked"`
	CheckTook time.Duration `json:"check_took"`
}

// faultPlan is a fault's random choices, drawn before it starts so that the
// seed fixes them whatever the timing.
type faultPlan struct {
	kind     FaultKind
	down     time.Duration
	pick     int  // which follower, bank or node
	atLeader bool // pause-node: pause the leader
}

// draw picks the next fault.
func (in *injector) draw(rng *rand.Rand) faultPlan {
	kinds := in.cfg.Faults
	p := faultPlan{kind: kinds[rng.IntN(len(kinds))], pick: rng.IntN(1 << 20), atLeader: rng.IntN(2) == 0}
	if p.kind == FaultPauseNode {
		p.down = span(in.cfg.PauseMin, in.cfg.PauseMax, rng.Float64())
	} else {
		p.down = span(in.cfg.DownMin, in.cfg.DownMax, rng.Float64())
	}
	return p
}

// inject causes the fault of p and undoes it (restart or resume); the heal
// of whatever remains comes after, in the injector's loop.
func (in *injector) inject(ctx context.Context, p faultPlan, ev *FaultEvent) error {
	cl := in.e.cluster
	switch p.kind {
	case FaultKillLeader:
		return in.killLeader(ctx, p, ev)
	case FaultKillFollower:
		leader, err := cl.Leader(ctx)
		if err != nil {
			return err
		}
		var followers []*procs.Node
		for _, n := range cl.Nodes() {
			if n.ID != leader.ID && n.Running() {
				followers = append(followers, n)
			}
		}
		if len(followers) == 0 {
			return fmt.Errorf("no follower of %s is running", leader.ID)
		}
		return in.killRestart(ctx, followers[p.pick%len(followers)].Proc, p, ev)
	case FaultKillParticipant:
		return in.killRestart(ctx, in.e.banks[p.pick%len(in.e.banks)].Proc, p, ev)
	case FaultPauseNode:
		return in.pause(ctx, p, ev)
	case FaultKillAllNodes:
		ev.Target = "all nodes"
		if err := cl.KillNodes(); err != nil {
			return err
		}
		sleepCtx(ctx, p.down)
		ev.Down = p.down
		return cl.RestartNodes(ctx)
	}
	return fmt.Errorf("unknown fault %q", p.kind)
}

// killLeader SIGKILLs the leader, measures the failover, and restarts it.
func (in *injector) killLeader(ctx context.Context, p faultPlan, ev *FaultEvent) error {
	cl := in.e.cluster
	leader, err := cl.Leader(ctx)
	if err != nil {
		return err
	}
	ev.Target = leader.ID
	start := time.Now()
	if err := leader.Kill(); err != nil {
		return err
	}
	next, err := cl.AwaitLeader(ctx, leaderPoll, leader.ID)
	if err != nil {
		return err
	}
	ev.Failover, ev.NewLeader = time.Since(start), next.ID
	sleepCtx(ctx, p.down-min(p.down, ev.Failover))
	ev.Down = time.Since(start)
	return leader.Restart(ctx)
}

// killRestart SIGKILLs p, keeps it down for the plan's time, restarts it.
func (in *injector) killRestart(ctx context.Context, proc *procs.Proc, p faultPlan, ev *FaultEvent) error {
	ev.Target = proc.Name()
	if err := proc.Kill(); err != nil {
		return err
	}
	sleepCtx(ctx, p.down)
	ev.Down = p.down
	return proc.Restart(ctx)
}

// pause SIGSTOPs the leader or a random node for the plan's time.
func (in *injector) pause(ctx context.Context, p faultPlan, ev *FaultEvent) error {
	cl := in.e.cluster
	nodes := cl.Nodes()
	target := nodes[p.pick%len(nodes)]
	if p.atLeader {
		leader, err := cl.Leader(ctx)
		if err != nil {
			return err
		}
		target = leader
	}
	ev.Target = target.ID
	if p.atLeader {
		ev.Target += " (leader)"
	}
	if err := target.Pause(); err != nil {
		return err
	}
	sleepCtx(ctx, p.down)
	ev.Down = p.down
	return target.Resume()
}
