package raftlog

import (
	"testing"

	"go.uber.org/goleak"
)

// Every Node test shuts its nodes down: no goroutine may outlive the tests,
// but for one kind. hashicorp/raft never answers a proposal still in its
// buffered apply channel when it shuts down (BatchApplyCh; its Apply sets
// no ShutdownCh on the future), so the goroutine Node.await left waiting
// on such a future stays blocked (await itself returned ErrRaftShutdown to
// the proposer). Only those are allowed to remain.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/tmcluster/tmcluster/raftlog.(*Node).await.func1"))
}
