package participant

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// Racing Prepares, Commits and Aborts for the same branch never run a hook
// twice, and end the branch one way only.
func TestConcurrentRPCsForOneBranch(t *testing.T) {
	t.Parallel()
	hooks := newTestHooks()
	k := openKit(t, Config{Hooks: hooks})
	c := serveKit(t, k)

	const rounds, racers = 20, 8
	for r := range rounds {
		tx := fmt.Sprintf("tx%d", r)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				_, _ = c.Prepare(context.Background(), prepareReq(tx, "b1", "pay"))
				var err error
				if i%2 == 0 {
					err = commit(c, tx, "b1")
				} else {
					err = abort(c, tx, "b1")
				}
				if code := status.Code(err); code != codes.OK && code != codes.FailedPrecondition {
					t.Errorf("%s: %v", tx, err)
				}
			})
		}
		wg.Wait()
		p, commits, aborts := hooks.calls(tx + "/b1")
		if p > 1 || commits+aborts > 1 || (p == 1) != (commits+aborts == 1) {
			t.Errorf("%s: hooks committed %d prepares, %d commits, %d aborts", tx, p, commits, aborts)
		}
	}
}

// Many branches prepared and committed at once all end committed, each hook
// once, with counts that add up.
func TestConcurrentBranches(t *testing.T) {
	t.Parallel()
	hooks := newTestHooks()
	k := openKit(t, Config{Hooks: hooks})
	c := serveKit(t, k)

	const n = 64
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			tx := fmt.Sprintf("tx%02d", i)
			payload := "pay"
			if i%4 == 3 {
				payload = "no"
			}
			resp, err := c.Prepare(context.Background(), prepareReq(tx, "b1", payload))
			if err != nil {
				t.Error(err)
				return
			}
			if resp.Vote == tmv1.Vote_VOTE_YES {
				err = commit(c, tx, "b1")
			} else {
				err = abort(c, tx, "b1")
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i := range n {
		p, commits, _ := hooks.calls(fmt.Sprintf("tx%02d/b1", i))
		if want := map[bool]int{true: 0, false: 1}[i%4 == 3]; p != want || commits != want {
			t.Errorf("tx%02d: %d prepares, %d commits committed, want %d", i, p, commits, want)
		}
	}
	if pending, committed, aborted := k.Stats(); pending != 0 || committed != 48 || aborted != 16 {
		t.Errorf("Stats = %d, %d, %d; want 0, 48, 16", pending, committed, aborted)
	}
}
