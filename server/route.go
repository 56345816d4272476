package server

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// forwardedKey marks a call a follower forwarded, so the receiver never
// forwards it again (no loops while leadership moves).
const forwardedKey = "tm-forwarded"

// route decides where a call that needs the leader runs: here (a ready
// leadership), or on the leader (a connection to forward on). A follower
// that knows no leader answers UNAVAILABLE NO_LEADER.
func (s *Server) route(ctx context.Context) (*leadership, *grpc.ClientConn, error) {
	for {
		l, changed := s.current()
		if l != nil {
			if err := l.waitReady(ctx); err != nil {
				return nil, nil, err
			}
			return l, nil, nil
		}
		id, _ := s.raft.Leader()
		switch {
		case id == "":
			return nil, nil, noLeader("no leader is known to node " + s.cfg.NodeID)
		case id == s.cfg.NodeID:
			// Raft made us leader and the news is on its way to
			// followLeadership: wait for it.
			if err := s.waitChange(ctx, changed); err != nil {
				return nil, nil, err
			}
			continue
		case wasForwarded(ctx):
			return nil, nil, noLeader("forwarded to node " + s.cfg.NodeID + ", which is not the leader")
		}
		n, ok := s.fsm.Node(id)
		if !ok || n.GetGrpcAddress() == "" {
			return nil, nil, noLeader("the leader's address (" + id + ") is not known yet")
		}
		conn, err := s.peers.get(n.GetGrpcAddress())
		if err != nil {
			return nil, nil, noLeader(err.Error())
		}
		return nil, conn, nil
	}
}

func (s *Server) waitChange(ctx context.Context, changed <-chan struct{}) error {
	select {
	case <-changed:
		return nil
	case <-ctx.Done():
		return applyError("", ctx.Err(), nil)
	case <-s.stop:
		return noLeader("node shutting down")
	}
}

func wasForwarded(ctx context.Context) bool {
	md, _ := metadata.FromIncomingContext(ctx)
	return len(md.Get(forwardedKey)) > 0
}

// forwardCtx is the outgoing context of a forwarded call: the caller's
// deadline and cancellation, and the forwarded mark.
func forwardCtx(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, forwardedKey, "1")
}

// participantClient returns a ParticipantService client for a registered
// participant name.
func (s *Server) participantClient(name string) (tmv1.ParticipantServiceClient, error) {
	target, ok := s.fsm.ParticipantTarget(name)
	if !ok {
		// UNAVAILABLE, not FAILED_PRECONDITION: phase two must keep trying
		// (the name may be registered again), never take this for the
		// participant refusing the decision.
		return nil, apiError(codes.Unavailable, tmv1.ReasonUnknownParticipant, "participant "+name+" is not registered")
	}
	c, err := s.participants.entry(target)
	if err != nil {
		return nil, err
	}
	return c.participant, nil
}

// connPool keeps one client connection per dial target: gRPC multiplexes
// every call to a target on it (one TCP connection, whose writer batches
// the frames of concurrent calls into few syscalls), which on a small
// machine costs less CPU than several connections would. Lookups, several
// per transaction from many goroutines, take a read lock only.
type connPool struct {
	opts  []grpc.DialOption
	mu    sync.RWMutex
	conns map[string]*pooledConn
}

// pooledConn is one target's connection and the clients made on it once.
type pooledConn struct {
	conn        *grpc.ClientConn
	participant tmv1.ParticipantServiceClient
}

func newConnPool(opts []grpc.DialOption) *connPool {
	return &connPool{opts: opts, conns: make(map[string]*pooledConn)}
}

func (p *connPool) get(target string) (*grpc.ClientConn, error) {
	c, err := p.entry(target)
	if err != nil {
		return nil, err
	}
	return c.conn, nil
}

// entry returns target's pooled connection, dialling it on first use.
func (p *connPool) entry(target string) (*pooledConn, error) {
	p.mu.RLock()
	c := p.conns[target]
	p.mu.RUnlock()
	if c != nil {
		return c, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.conns[target]; c != nil {
		return c, nil
	}
	opts := p.opts
	if len(opts) == 0 {
		opts = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	conn, err := grpc.NewClient(target, opts...)
	if err != nil {
		return nil, err
	}
	c = &pooledConn{conn: conn, participant: tmv1.NewParticipantServiceClient(conn)}
	p.conns[target] = c
	return c, nil
}

func (p *connPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for t, c := range p.conns {
		c.conn.Close()
		delete(p.conns, t)
	}
}
