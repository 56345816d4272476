package participant

import "sync"

// branchLocks serializes the kit's work on one branch, so that two RPCs (or
// an RPC and the resolver) for the same branch never both decide to run a
// hook. Work on different branches runs concurrently.
type branchLocks struct {
	mu    sync.Mutex
	locks map[string]*branchLock
}

type branchLock struct {
	mu   sync.Mutex
	refs int // holders and waiters; the entry is dropped at zero
}

func newBranchLocks() *branchLocks {
	return &branchLocks{locks: make(map[string]*branchLock)}
}

// lock locks the branch and returns the function that unlocks it.
func (l *branchLocks) lock(key string) (unlock func()) {
	l.mu.Lock()
	bl := l.locks[key]
	if bl == nil {
		bl = new(branchLock)
		l.locks[key] = bl
	}
	bl.refs++
	l.mu.Unlock()

	bl.mu.Lock()
	return func() {
		bl.mu.Unlock()
		l.mu.Lock()
		bl.refs--
		if bl.refs == 0 {
			delete(l.locks, key)
		}
		l.mu.Unlock()
	}
}
