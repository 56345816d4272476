package chaos

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/tmcluster/tmcluster/test/procs"
)

// leaderPoll is how often the watcher asks the nodes who leads.
const leaderPoll = 50 * time.Millisecond

// leaderWatch measures the time without a leader by polling: every
// leaderPoll it asks every running, unpaused node for its status; there is
// a leader when some node answers that it is the leader. Each stretch of
// polls without one is an episode, measured from the first poll that found
// none to the first that found one again.
type leaderWatch struct {
	cluster *procs.Cluster

	mu       sync.Mutex
	episodes []time.Duration
	since    time.Time // start of the current episode; zero while a leader is known
	polls    int
}

// run polls until ctx ends.
func (lw *leaderWatch) run(ctx context.Context) {
	t := time.NewTicker(leaderPoll)
	defer t.Stop()
	for {
		lw.observe(time.Now(), lw.hasLeader(ctx))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// hasLeader asks every running, unpaused node in parallel.
func (lw *leaderWatch) hasLeader(ctx context.Context) bool {
	var wg sync.WaitGroup
	found := make(chan struct{}, 1)
	for _, n := range lw.cluster.Nodes() {
		if !n.Running() || n.Paused() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := n.Status(ctx)
			if err == nil && st.GetLeaderId() == n.ID {
				select {
				case found <- struct{}{}:
				default:
				}
			}
		}()
	}
	wg.Wait()
	return len(found) > 0
}

// observe records one poll's result.
func (lw *leaderWatch) observe(at time.Time, leader bool) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	lw.polls++
	switch {
	case !leader && lw.since.IsZero():
		lw.since = at
	case leader && !lw.since.IsZero():
		lw.episodes = append(lw.episodes, at.Sub(lw.since))
		lw.since = time.Time{}
	}
}

// leaderlessStats summarizes the episodes without a leader.
type leaderlessStats struct {
	Episodes int           `json:"episodes"`
	P50      time.Duration `json:"p50"`
	Max      time.Duration `json:"max"`
	Total    time.Duration `json:"total"`
	// Open is the length of an episode still running when the stats were
	// taken (the end of the run found no leader).
	Open time.Duration `json:"open,omitempty"`
}

// stats returns the episodes so far.
func (lw *leaderWatch) stats() leaderlessStats {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	eps := slices.Clone(lw.episodes)
	slices.Sort(eps)
	s := leaderlessStats{Episodes: len(eps)}
	if !lw.since.IsZero() {
		s.Open = time.Since(lw.since)
	}
	if len(eps) == 0 {
		return s
	}
	s.P50, s.Max = eps[(len(eps)-1)/2], eps[len(eps)-1]
	for _, d := range eps {
		s.Total += d
	}
	return s
}
