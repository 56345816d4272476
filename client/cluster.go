package client

import (
	"context"

	"google.golang.org/grpc"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// clusterCall runs one ClusterService call under policy p. A call that
// changes state (mutates) reports an *UnknownOutcomeError when retrying
// stopped after an attempt went out.
func clusterCall[T any](ctx context.Context, c *Client, p policy, mutates bool,
	call func(context.Context, tmv1.ClusterServiceClient) (T, error)) (T, error) {
	var out T
	r := c.retry(ctx, p, func(ctx context.Context, cc *grpc.ClientConn) (err error) {
		out, err = call(ctx, tmv1.NewClusterServiceClient(cc))
		return err
	})
	err := r.plainErr()
	if mutates {
		err = r.outcomeErr("", "")
	}
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// Status returns a node's view of the cluster. With endpoint "" any node
// answers (with failover and retries); otherwise exactly that node is asked,
// once, so its own applied index and leader view come back (it need not be
// one of Config.Endpoints).
func (c *Client) Status(ctx context.Context, endpoint string) (*tmv1.GetClusterStatusResponse, error) {
	return clusterCall(ctx, c, policy{pinned: endpoint}, false,
		func(ctx context.Context, cs tmv1.ClusterServiceClient) (*tmv1.GetClusterStatusResponse, error) {
			return cs.GetClusterStatus(ctx, &tmv1.GetClusterStatusRequest{})
		})
}

// StateDigest asks the node at endpoint for a digest of its replicated
// state and the applied index it was taken at: nodes at the same index must
// report the same digest. It costs the node CPU in proportion to its state
// (cached for up to a second): compare replicas with it, don't poll it.
func (c *Client) StateDigest(ctx context.Context, endpoint string) (index uint64, digest string, err error) {
	st, err := clusterCall(ctx, c, policy{pinned: endpoint}, false,
		func(ctx context.Context, cs tmv1.ClusterServiceClient) (*tmv1.GetClusterStatusResponse, error) {
			return cs.GetClusterStatus(ctx, &tmv1.GetClusterStatusRequest{IncludeStateDigest: true})
		})
	return st.GetStateDigestIndex(), st.GetStateDigest(), err
}

// RegisterParticipant registers name at the gRPC dial target, or
// re-targets it (the new target must serve the same 2PC store), and
// returns the registration. Idempotent.
func (c *Client) RegisterParticipant(ctx context.Context, name, target string) (*tmv1.Participant, error) {
	return c.RegisterParticipantWithIdentity(ctx, name, target, "")
}

// RegisterParticipantWithIdentity is RegisterParticipant that also records
// the participant's certificate identity (the Subject CommonName of the
// certificate it presents): with mutual TLS on, the cluster answers
// ResolveTransaction for name only to that identity. "" registers none (and
// clears one registered before).
func (c *Client) RegisterParticipantWithIdentity(ctx context.Context, name, target, identity string) (*tmv1.Participant, error) {
	in := &tmv1.RegisterParticipantRequest{Name: name, Target: target, Identity: identity}
	out, err := clusterCall(ctx, c, policy{}, true,
		func(ctx context.Context, cs tmv1.ClusterServiceClient) (*tmv1.RegisterParticipantResponse, error) {
			return cs.RegisterParticipant(ctx, in)
		})
	return out.GetParticipant(), err
}

// ListParticipants returns the registered participants.
func (c *Client) ListParticipants(ctx context.Context) ([]*tmv1.Participant, error) {
	out, err := clusterCall(ctx, c, policy{}, false,
		func(ctx context.Context, cs tmv1.ClusterServiceClient) (*tmv1.ListParticipantsResponse, error) {
			return cs.ListParticipants(ctx, &tmv1.ListParticipantsRequest{})
		})
	return out.GetParticipants(), err
}

// RemoveParticipant removes participant name: ErrParticipantBusy while it
// has incomplete branches. A removal retried after an unanswered attempt
// that did apply reports ErrUnknownParticipant.
func (c *Client) RemoveParticipant(ctx context.Context, name string) error {
	_, err := clusterCall(ctx, c, policy{}, true,
		func(ctx context.Context, cs tmv1.ClusterServiceClient) (*tmv1.RemoveParticipantResponse, error) {
			return cs.RemoveParticipant(ctx, &tmv1.RemoveParticipantRequest{Name: name})
		})
	return err
}

// AddMember adds node id (Raft transport at raftAddr, gRPC API at
// grpcAddr) to the Raft configuration, as a non-voter if nonVoter, and
// returns the members after the change.
func (c *Client) AddMember(ctx context.Context, id, raftAddr, grpcAddr string, nonVoter bool) ([]*tmv1.Node, error) {
	in := &tmv1.AddMemberRequest{Id: id, RaftAddress: raftAddr, GrpcAddress: grpcAddr, NonVoter: nonVoter}
	out, err := clusterCall(ctx, c, policy{}, true,
		func(ctx context.Context, cs tmv1.ClusterServiceClient) (*tmv1.AddMemberResponse, error) {
			return cs.AddMember(ctx, in)
		})
	return out.GetNodes(), err
}

// RemoveMember removes node id from the Raft configuration and returns the
// members after the change.
func (c *Client) RemoveMember(ctx context.Context, id string) ([]*tmv1.Node, error) {
	out, err := clusterCall(ctx, c, policy{}, true,
		func(ctx context.Context, cs tmv1.ClusterServiceClient) (*tmv1.RemoveMemberResponse, error) {
			return cs.RemoveMember(ctx, &tmv1.RemoveMemberRequest{Id: id})
		})
	return out.GetNodes(), err
}

// TransferLeadership hands leadership to voter id (any voter when id is
// "") and returns the new leader's id.
func (c *Client) TransferLeadership(ctx context.Context, id string) (string, error) {
	out, err := clusterCall(ctx, c, policy{}, true,
		func(ctx context.Context, cs tmv1.ClusterServiceClient) (*tmv1.TransferLeadershipResponse, error) {
			return cs.TransferLeadership(ctx, &tmv1.TransferLeadershipRequest{Id: id})
		})
	return out.GetLeaderId(), err
}
