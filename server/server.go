package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	"github.com/tmcluster/tmcluster/raftlog"
)

// Server is one node's services. New wires it; Register puts its services
// on a grpc.Server; Start follows leadership until Close.
type Server struct {
	cfg    Config
	raft   Raft
	fsm    *raftlog.FSM
	log    *slog.Logger
	health *health.Server

	participants *connPool // dial targets of registered participants
	peers        *connPool // other nodes, for forwarding

	acked   *broadcast // fires after each applied acknowledgement batch
	metrics *metrics
	digest  digestCache

	mu   sync.Mutex
	lead *leadership   // nil unless this node leads
	tick chan struct{} // closed and replaced whenever lead changes

	stop      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// New checks cfg and returns a Server that is not yet started.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	if cfg.Raft == nil || cfg.NodeID == "" || cfg.GRPCAddr == "" {
		return nil, errors.New("server: Raft, NodeID and GRPCAddr are required")
	}
	if margin := cfg.MaxTimeout + cfg.MintRefresh + cfg.GCInterval; cfg.Retention <= margin {
		return nil, fmt.Errorf("server: retention %v must exceed the longest timeout plus margin (%v)", cfg.Retention, margin)
	}
	s := &Server{
		cfg:          cfg,
		raft:         cfg.Raft,
		fsm:          cfg.Raft.FSM(),
		log:          cfg.Logger,
		health:       health.NewServer(),
		participants: newConnPool(cfg.ParticipantDialOptions),
		peers:        newConnPool(cfg.PeerDialOptions),
		acked:        newBroadcast(),
		tick:         make(chan struct{}),
		stop:         make(chan struct{}),
	}
	s.metrics = newMetrics(s)
	return s, nil
}

// ServerOptions are the options of the grpc.Server that Register
// populates, besides the transport's (credentials) and message sizes: the
// interceptor enforcing auth.go's rules, and a fixed pool of stream
// workers — without one gRPC starts a goroutine per call, whose stack then
// grows, which on a loaded node cost about a tenth of the allocations per
// payment (BENCHMARKS.md).
func (s *Server) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(s.UnaryInterceptor()),
		grpc.NumStreamWorkers(uint32(runtime.GOMAXPROCS(0))),
	}
}

// Register puts TransactionService, ClusterService, health and reflection
// on gs.
func (s *Server) Register(gs *grpc.Server) {
	tmv1.RegisterTransactionServiceServer(gs, &txService{s: s})
	tmv1.RegisterClusterServiceServer(gs, &clusterService{s: s})
	healthpb.RegisterHealthServer(gs, s.health)
	reflection.Register(gs)
}

// Start follows leadership changes until Close: it takes up the leader's
// duties on gaining leadership and drops them at once on losing it.
func (s *Server) Start() {
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.followLeadership() }()
	go func() { defer s.wg.Done(); s.watchHealth() }()
}

// Close stops the leader's duties and closes connections. It does not stop
// the grpc.Server or the Raft node; their owner does.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.stop)
		s.wg.Wait()
		s.stepDown()
		s.participants.close()
		s.peers.close()
	})
}

func (s *Server) followLeadership() {
	changes := s.raft.LeadershipChanges()
	for {
		select {
		case <-s.stop:
			return
		case leader := <-changes:
			if leader {
				s.becomeLeader()
			} else {
				s.stepDown()
			}
		}
	}
}

// current returns the leadership epoch, or nil, and a channel closed at the
// next change.
func (s *Server) current() (*leadership, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lead, s.tick
}

func (s *Server) setLead(l *leadership) *leadership {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.lead
	s.lead = l
	close(s.tick)
	s.tick = make(chan struct{})
	return old
}

func (s *Server) becomeLeader() {
	if l, _ := s.current(); l != nil {
		return
	}
	l := newLeadership(s)
	s.setLead(l)
	s.metrics.leaderChanges.Inc()
	s.log.Info("gained leadership", "node", s.cfg.NodeID)
	l.start()
}

func (s *Server) stepDown() {
	if l, _ := s.current(); l == nil {
		return
	}
	old := s.setLead(nil)
	s.metrics.leaderChanges.Inc()
	s.log.Info("lost leadership", "node", s.cfg.NodeID)
	old.stop()
}

// broadcast is a level-triggered wake-up: wait returns a channel that is
// closed at the next fire.
type broadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

func newBroadcast() *broadcast { return &broadcast{ch: make(chan struct{})} }

func (b *broadcast) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ch
}

func (b *broadcast) fire() {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.ch)
	b.ch = make(chan struct{})
}

// sleep waits d or until ctx ends; false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
