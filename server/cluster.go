package server

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
)

// clusterService implements tm.v1.ClusterService. GetClusterStatus is
// answered by every node itself; the rest run on the leader.
type clusterService struct {
	tmv1.UnimplementedClusterServiceServer
	s *Server
}

// GetClusterStatus reports this node's own view.
func (c *clusterService) GetClusterStatus(ctx context.Context, req *tmv1.GetClusterStatusRequest) (*tmv1.GetClusterStatusResponse, error) {
	s := c.s
	leaderID, _ := s.raft.Leader()
	nodes, err := s.nodes(leaderID)
	if err != nil {
		return nil, err
	}
	resp := &tmv1.GetClusterStatusResponse{
		LeaderId:     leaderID,
		Nodes:        nodes,
		Term:         s.raft.Term(),
		CommitIndex:  s.raft.CommitIndex(),
		AppliedIndex: s.fsm.AppliedIndex(),
		ClusterId:    s.fsm.ClusterID(),
		NodeId:       s.cfg.NodeID,
	}
	if req.GetIncludeStateDigest() {
		resp.StateDigestIndex, resp.StateDigest = s.digest.get(s.fsm)
	}
	return resp, nil
}

// digestCache keeps the last state digest: encoding the whole state costs
// CPU in proportion to it (about half a second at 50,000 records on two
// cores), and pollers must not starve Raft's heartbeats. One computation
// runs at a time; a digest younger than digestMaxAge is reused even if
// entries applied since (the answer names its own index).
type digestCache struct {
	mu     sync.Mutex
	index  uint64
	digest string
	at     time.Time
}

const digestMaxAge = time.Second

func (c *digestCache) get(fsm interface {
	AppliedIndex() uint64
	DigestAt() (uint64, string)
}) (uint64, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.digest != "" && (c.index == fsm.AppliedIndex() || time.Since(c.at) < digestMaxAge) {
		return c.index, c.digest
	}
	c.index, c.digest = fsm.DigestAt()
	c.at = time.Now()
	return c.index, c.digest
}

func (s *Server) nodes(leaderID string) ([]*tmv1.Node, error) {
	servers, err := s.raft.Servers()
	if err != nil {
		return nil, apiError(codes.Unavailable, tmv1.ReasonNoLeader, "raft configuration unavailable: "+err.Error())
	}
	out := make([]*tmv1.Node, 0, len(servers))
	for _, sv := range servers {
		n := &tmv1.Node{Id: sv.ID, RaftAddress: sv.RaftAddress, Voter: sv.Voter, Leader: sv.ID == leaderID}
		if a, ok := s.fsm.Node(sv.ID); ok {
			n.GrpcAddress = a.GetGrpcAddress()
		}
		out = append(out, n)
	}
	return out, nil
}

// AddMember adds a node: its address book entry first (so it can be
// forwarded to as soon as it leads), then its Raft membership.
func (c *clusterService) AddMember(ctx context.Context, req *tmv1.AddMemberRequest) (*tmv1.AddMemberResponse, error) {
	s := c.s
	_, conn, err := s.route(ctx)
	if err != nil {
		return nil, err
	}
	if conn != nil {
		return tmv1.NewClusterServiceClient(conn).AddMember(forwardCtx(ctx), req)
	}
	if err := validateName("id", req.GetId()); err != nil {
		return nil, err
	}
	if req.GetRaftAddress() == "" {
		return nil, invalidField("raft_address", "required")
	}
	if req.GetGrpcAddress() == "" {
		return nil, invalidField("grpc_address", "required")
	}
	if _, err := s.raft.Propose(&tmlogv1.SetNodeCommand{Id: req.GetId(), GrpcAddress: req.GetGrpcAddress(), RaftAddress: req.GetRaftAddress()}); err != nil {
		return nil, applyError("", err, nil)
	}
	add := s.raft.AddVoter
	if req.GetNonVoter() {
		add = s.raft.AddNonvoter
	}
	if err := add(req.GetId(), req.GetRaftAddress()); err != nil {
		return nil, apiError(codes.Unavailable, tmv1.ReasonNotLeader, "add member: "+err.Error())
	}
	leaderID, _ := s.raft.Leader()
	nodes, err := s.nodes(leaderID)
	return &tmv1.AddMemberResponse{Nodes: nodes}, err
}

// RemoveMember removes a node from the Raft configuration.
func (c *clusterService) RemoveMember(ctx context.Context, req *tmv1.RemoveMemberRequest) (*tmv1.RemoveMemberResponse, error) {
	s := c.s
	_, conn, err := s.route(ctx)
	if err != nil {
		return nil, err
	}
	if conn != nil {
		return tmv1.NewClusterServiceClient(conn).RemoveMember(forwardCtx(ctx), req)
	}
	if err := validateName("id", req.GetId()); err != nil {
		return nil, err
	}
	if req.GetId() == s.cfg.NodeID {
		// The leader removing itself hands leadership over first, so the
		// cluster never waits out an election for it.
		return s.removeSelf(ctx, req)
	}
	if err := s.raft.RemoveServer(req.GetId()); err != nil {
		return nil, apiError(codes.Unavailable, tmv1.ReasonNotLeader, "remove member: "+err.Error())
	}
	if req.GetId() != s.cfg.NodeID {
		if _, err := s.raft.Propose(&tmlogv1.RemoveNodeCommand{Id: req.GetId()}); err != nil {
			s.log.Warn("address book entry not removed", "id", req.GetId(), "err", err)
		}
	}
	leaderID, _ := s.raft.Leader()
	nodes, err := s.nodes(leaderID)
	return &tmv1.RemoveMemberResponse{Nodes: nodes}, err
}

// removeSelf transfers leadership away, then forwards the removal to the new
// leader.
func (s *Server) removeSelf(ctx context.Context, req *tmv1.RemoveMemberRequest) (*tmv1.RemoveMemberResponse, error) {
	if err := s.raft.TransferLeadership("", ""); err != nil {
		return nil, apiError(codes.Unavailable, tmv1.ReasonNotLeader, "remove member: hand leadership over first: "+err.Error())
	}
	for {
		if id, _ := s.raft.Leader(); id != "" && id != s.cfg.NodeID {
			if n, ok := s.fsm.Node(id); ok && n.GetGrpcAddress() != "" {
				conn, err := s.peers.get(n.GetGrpcAddress())
				if err != nil {
					return nil, noLeader(err.Error())
				}
				return tmv1.NewClusterServiceClient(conn).RemoveMember(forwardCtx(ctx), req)
			}
		}
		if !sleep(ctx, 20*time.Millisecond) {
			return nil, applyError("", ctx.Err(), nil)
		}
	}
}

// TransferLeadership hands leadership to the named voter, or any.
func (c *clusterService) TransferLeadership(ctx context.Context, req *tmv1.TransferLeadershipRequest) (*tmv1.TransferLeadershipResponse, error) {
	s := c.s
	_, conn, err := s.route(ctx)
	if err != nil {
		return nil, err
	}
	if conn != nil {
		return tmv1.NewClusterServiceClient(conn).TransferLeadership(forwardCtx(ctx), req)
	}
	addr := ""
	if req.GetId() != "" {
		servers, _ := s.raft.Servers()
		for _, sv := range servers {
			if sv.ID == req.GetId() {
				addr = sv.RaftAddress
			}
		}
		if addr == "" {
			return nil, invalidField("id", "%q is not a member", req.GetId())
		}
	}
	if err := s.raft.TransferLeadership(req.GetId(), addr); err != nil {
		return nil, apiError(codes.Unavailable, tmv1.ReasonNotLeader, "transfer leadership: "+err.Error())
	}
	id, _ := s.raft.Leader()
	return &tmv1.TransferLeadershipResponse{LeaderId: id}, nil
}

// RegisterParticipant adds or re-targets a participant name.
func (c *clusterService) RegisterParticipant(ctx context.Context, req *tmv1.RegisterParticipantRequest) (*tmv1.RegisterParticipantResponse, error) {
	s := c.s
	_, conn, err := s.route(ctx)
	if err != nil {
		return nil, err
	}
	if conn != nil {
		return tmv1.NewClusterServiceClient(conn).RegisterParticipant(forwardCtx(ctx), req)
	}
	if err := validateName("name", req.GetName()); err != nil {
		return nil, err
	}
	if req.GetTarget() == "" || len(req.GetTarget()) > 256 {
		return nil, invalidField("target", "a gRPC dial target of 1 to 256 bytes is required")
	}
	if len(req.GetIdentity()) > 256 {
		return nil, invalidField("identity", "a certificate identity is at most 256 bytes")
	}
	cmd := &tmlogv1.RegisterParticipantCommand{Name: req.GetName(), Target: req.GetTarget(), TimeUnixNano: s.cfg.Now().UnixNano(),
		Identity: req.GetIdentity()}
	if _, err := s.raft.Propose(cmd); err != nil {
		return nil, applyError("", err, nil)
	}
	p, _ := s.fsm.Participant(req.GetName())
	return &tmv1.RegisterParticipantResponse{Participant: p}, nil
}

// ListParticipants lists the registry.
func (c *clusterService) ListParticipants(ctx context.Context, req *tmv1.ListParticipantsRequest) (*tmv1.ListParticipantsResponse, error) {
	s := c.s
	_, conn, err := s.route(ctx)
	if err != nil {
		return nil, err
	}
	if conn != nil {
		return tmv1.NewClusterServiceClient(conn).ListParticipants(forwardCtx(ctx), req)
	}
	return &tmv1.ListParticipantsResponse{Participants: s.fsm.Participants()}, nil
}

// RemoveParticipant removes a participant with no incomplete branches.
func (c *clusterService) RemoveParticipant(ctx context.Context, req *tmv1.RemoveParticipantRequest) (*tmv1.RemoveParticipantResponse, error) {
	s := c.s
	l, conn, err := s.route(ctx)
	if err != nil {
		return nil, err
	}
	if conn != nil {
		return tmv1.NewClusterServiceClient(conn).RemoveParticipant(forwardCtx(ctx), req)
	}
	if err := validateName("name", req.GetName()); err != nil {
		return nil, err
	}
	if l.drivesFor(req.GetName()) {
		// One-shot transactions in flight have no record yet for the FSM's
		// own check to see.
		return nil, apiError(codes.FailedPrecondition, tmv1.ReasonParticipantBusy,
			"participant "+req.GetName()+" has transactions in flight")
	}
	res, err := s.raft.Propose(&tmlogv1.RemoveParticipantCommand{Name: req.GetName(), TimeUnixNano: s.cfg.Now().UnixNano()})
	if err != nil {
		return nil, applyError("", err, nil)
	}
	if res.Err != nil {
		return nil, applyError("", res.Err, nil)
	}
	return &tmv1.RemoveParticipantResponse{}, nil
}

// watchHealth keeps grpc.health.v1 true: the TransactionService is SERVING
// only while a leader is known.
func (s *Server) watchHealth() {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		st := healthpb.HealthCheckResponse_NOT_SERVING
		if id, _ := s.raft.Leader(); id != "" {
			st = healthpb.HealthCheckResponse_SERVING
		}
		s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
		s.health.SetServingStatus(tmv1.TransactionService_ServiceDesc.ServiceName, st)
		select {
		case <-s.stop:
			s.health.Shutdown()
			return
		case <-t.C:
		}
	}
}
