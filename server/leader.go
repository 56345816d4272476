package server

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
	"github.com/tmcluster/tmcluster/raftlog"
)

// leadership is one term of this node's leadership. Everything it starts
// runs under ctx, which is cancelled the moment leadership is lost.
type leadership struct {
	s      *Server
	ctx    context.Context
	cancel context.CancelFunc
	ready  chan struct{} // closed once the barrier applied and ids may be minted

	wgMu    sync.Mutex // guards wg.Add against stop's Wait
	wg      sync.WaitGroup
	stopped bool

	mu      sync.Mutex
	mint    raftlog.Mint       // term and index of the latest mint barrier; Seq counts up
	drivers map[string]*driver // running 2PC drivers by tx id
	byKey   map[string]*driver // running one-shot drivers by idempotency key

	phase2 *phase2

	// openRecords is the number of undecided records at the last sweep,
	// for admission (MaxOpenTransactions).
	openRecords atomic.Int64
}

// admit refuses new work past MaxOpenTransactions: undecided records (as
// of the last sweep, at most ReaperInterval old) plus drivers in flight.
func (l *leadership) admit() error {
	l.mu.Lock()
	inFlight := len(l.drivers)
	l.mu.Unlock()
	if open := int(l.openRecords.Load()) + inFlight; open >= l.s.cfg.MaxOpenTransactions {
		return apiError(codes.ResourceExhausted, tmv1.ReasonLimitExceeded,
			fmt.Sprintf("%d transactions are open, the most allowed (--max-open-transactions): retry later", open))
	}
	return nil
}

func newLeadership(s *Server) *leadership {
	ctx, cancel := context.WithCancel(context.Background())
	l := &leadership{
		s:       s,
		ctx:     ctx,
		cancel:  cancel,
		ready:   make(chan struct{}),
		drivers: make(map[string]*driver),
		byKey:   make(map[string]*driver),
	}
	l.phase2 = newPhase2(l)
	return l
}

// start runs the post-election barrier and then the leader's duties.
func (l *leadership) start() {
	l.go_(func() {
		if !l.barrier() {
			return
		}
		l.s.log.Info("leader ready", "term", l.term(), "mint_index", l.mintIndex())
		close(l.ready)
		l.go_(l.phase2.runAcks)
		l.go_(l.recover)
		l.go_(func() { l.every(l.s.cfg.ReaperInterval, l.reap) })
		l.go_(func() { l.every(l.s.cfg.GCInterval, l.collect) })
		l.go_(func() { l.every(l.s.cfg.MintRefresh, l.refreshMint) })
	})
}

// stop cancels every duty and waits for them to return. Nothing starts on
// this leadership afterwards.
func (l *leadership) stop() {
	l.wgMu.Lock()
	l.stopped = true
	l.wgMu.Unlock()
	l.cancel()
	l.wg.Wait()
}

// go_ runs f as one of this leadership's duties, unless it has stopped
// (then it reports false and f never runs).
func (l *leadership) go_(f func()) bool {
	l.wgMu.Lock()
	defer l.wgMu.Unlock()
	if l.stopped {
		return false
	}
	l.wg.Add(1)
	go func() { defer l.wg.Done(); f() }()
	return true
}

func (l *leadership) every(d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

// barrier appends the leader's no-op barrier (so the FSM holds every entry
// of earlier terms), fixes the cluster id at the first leadership, and
// records this node's address in the address book.
func (l *leadership) barrier() bool {
	s := l.s
	term, index, err := s.raft.Barrier()
	for wait := 50 * time.Millisecond; err != nil; wait = min(2*wait, time.Second) {
		// Lost leadership ends l.ctx; anything else (a transfer in
		// progress) is worth another try while we lead.
		s.log.Warn("leader barrier failed", "err", err)
		if !sleep(l.ctx, wait) {
			return false
		}
		term, index, err = s.raft.Barrier()
	}
	l.mu.Lock()
	l.mint = raftlog.Mint{Term: term, Index: index}
	l.mu.Unlock()
	if s.fsm.ClusterID() == "" {
		if _, err := s.raft.Propose(&tmlogv1.InitClusterCommand{ClusterId: uuid.NewString()}); err != nil {
			return false
		}
	}
	if n, ok := s.fsm.Node(s.cfg.NodeID); !ok || n.GetGrpcAddress() != s.cfg.GRPCAddr || n.GetRaftAddress() != s.cfg.RaftAddr {
		cmd := &tmlogv1.SetNodeCommand{Id: s.cfg.NodeID, GrpcAddress: s.cfg.GRPCAddr, RaftAddress: s.cfg.RaftAddr}
		if _, err := s.raft.Propose(cmd); err != nil {
			return false
		}
	}
	return true
}

// refreshMint takes a new barrier so that ids minted from now on carry a
// mint index above any record that collection may remove meanwhile: a
// long-lived leader never mints below the gc floor.
func (l *leadership) refreshMint() {
	term, index, err := l.s.raft.Barrier()
	if err != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if term == l.mint.Term && index > l.mint.Index {
		l.mint.Index = index
	}
}

func (l *leadership) term() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mint.Term
}

func (l *leadership) mintIndex() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mint.Index
}

// mintTxID returns a fresh tx id carrying this leadership's term and the
// latest mint barrier's index.
func (l *leadership) mintTxID() (string, raftlog.Mint) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mintLocked()
}

func (l *leadership) mintLocked() (string, raftlog.Mint) {
	l.mint.Seq++
	return raftlog.FormatTxID(l.mint), l.mint
}

// waitReady waits for the barrier, the leadership's end, ctx, or timeout.
func (l *leadership) waitReady(ctx context.Context) error {
	t := time.NewTimer(l.s.cfg.ReadyTimeout)
	defer t.Stop()
	select {
	case <-l.ready:
		return nil
	case <-l.ctx.Done():
		return noLeader("leadership lost")
	case <-ctx.Done():
		return applyError("", ctx.Err(), nil)
	case <-t.C:
		return noLeader("the new leader is not ready yet")
	}
}
