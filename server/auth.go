package server

import (
	"context"
	"slices"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	"github.com/tmcluster/tmcluster/raftlog"
)

// Authorization under mutual TLS.
//
// A caller's identity is the Subject CommonName of the client certificate
// it presented, read from the verified chain only (so a certificate the CA
// did not sign never names anyone; with a CA configured it cannot reach a
// handler at all). DNS and IP SANs are not identities: they name hosts, and
// every development certificate carries localhost and 127.0.0.1.
//
// Two rules, both checked by UnaryInterceptor on the node that first
// receives the call:
//   - ClusterService calls that change anything are for Config.AdminIdentities
//     only (PERMISSION_DENIED, reason NOT_ADMIN). Without admin identities
//     configured, anyone may call them.
//   - ResolveTransaction naming participant P is answered only to P's
//     registered identity; when P was registered without one, to any
//     registered participant's identity (PERMISSION_DENIED, reason
//     IDENTITY_MISMATCH). Calls without a client certificate (mutual TLS
//     off) are not checked.
//
// Forwarding. A follower forwards these calls to the leader over its own
// mutually authenticated connection, so the leader sees the follower's
// certificate, not the caller's. Rather than carry the caller's identity in
// metadata for the leader to re-check, the first hop decides and the leader
// lets through a call that is marked forwarded (tm-forwarded) and comes
// from a node identity: an identity equal to the id of a cluster member
// (Raft configuration or address book). That is why a node's certificate
// must carry its node id as CommonName. A call marked forwarded from any
// other identity is checked like a first hop, so the mark grants nothing by
// itself. Every node should be given the same --admin-identities.

// UnaryInterceptor returns the interceptor that enforces the rules above;
// ServerOptions installs it.
func (s *Server) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := s.authorize(ctx, info.FullMethod, req); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// authorize decides whether the caller in ctx may call method with req.
func (s *Server) authorize(ctx context.Context, method string, req any) error {
	admin := adminOnly(method)
	resolve := method == tmv1.TransactionService_ResolveTransaction_FullMethodName
	if !admin && !resolve {
		return nil // open to every caller the transport admitted
	}
	id, verified := peerIdentity(ctx)
	if verified && wasForwarded(ctx) && s.isNodeIdentity(id) {
		return nil // decided by the node that received it first
	}
	if admin {
		return s.checkAdmin(id, verified, method)
	}
	r, _ := req.(*tmv1.ResolveTransactionRequest)
	return s.checkResolver(id, verified, r.GetParticipant())
}

// adminOnly reports whether method is a ClusterService call that changes
// something.
func adminOnly(method string) bool {
	switch method {
	case tmv1.ClusterService_AddMember_FullMethodName,
		tmv1.ClusterService_RemoveMember_FullMethodName,
		tmv1.ClusterService_TransferLeadership_FullMethodName,
		tmv1.ClusterService_RegisterParticipant_FullMethodName,
		tmv1.ClusterService_RemoveParticipant_FullMethodName:
		return true
	}
	return false
}

func (s *Server) checkAdmin(id string, verified bool, method string) error {
	if len(s.cfg.AdminIdentities) == 0 {
		return nil
	}
	if !verified {
		return apiError(codes.Unauthenticated, tmv1.ReasonUnauthenticated,
			method+" needs a client certificate naming an admin identity")
	}
	if !slices.Contains(s.cfg.AdminIdentities, id) {
		return apiError(codes.PermissionDenied, tmv1.ReasonNotAdmin,
			"identity "+id+" may not call "+method+": not an admin identity", tmv1.MetaIdentity, id)
	}
	return nil
}

// checkResolver admits a Resolve for participant name from id. Whether name
// may ask at all (registered, or removed within the retention window) is
// the handler's check.
func (s *Server) checkResolver(id string, verified bool, name string) error {
	if !verified {
		return nil
	}
	want, _ := s.fsm.ParticipantIdentity(name)
	switch {
	case want != "" && id == want:
		return nil
	case want == "" && s.fsm.IsParticipantIdentity(id):
		return nil
	}
	return apiError(codes.PermissionDenied, tmv1.ReasonIdentityMismatch,
		"identity "+id+" may not resolve transactions for participant "+name,
		tmv1.MetaIdentity, id, tmv1.MetaField, "participant")
}

// isNodeIdentity reports whether id is the id of a cluster member.
func (s *Server) isNodeIdentity(id string) bool {
	if id == "" {
		return false
	}
	if _, ok := s.fsm.Node(id); ok {
		return true
	}
	servers, err := s.raft.Servers()
	if err != nil {
		return false
	}
	return slices.ContainsFunc(servers, func(sv raftlog.Server) bool { return sv.ID == id })
}

// peerIdentity returns the Subject CommonName of the caller's verified
// client certificate; verified is false when the call came without one
// (plaintext, or TLS without client authentication).
func peerIdentity(ctx context.Context) (id string, verified bool) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return "", false
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return "", false
	}
	return info.State.VerifiedChains[0][0].Subject.CommonName, true
}
