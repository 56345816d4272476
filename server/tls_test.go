package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tmcluster/tmcluster/certs/devca"
	"github.com/tmcluster/tmcluster/client"
	"github.com/tmcluster/tmcluster/client/participant"
	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	"github.com/tmcluster/tmcluster/raftlog"
)

// The mutual-TLS cluster: three nodes whose gRPC API, Raft transport and
// dials to participants and peers all run over TLS 1.3 with certificates of
// one development CA made in t.TempDir() by certs/devca (as `make certs`
// does), "admin" as the only admin identity, and participants built on the
// kit serving and dialling over TLS too.

// tlsIdentities are the certificates the tests issue from the cluster's CA.
var tlsIdentities = []string{"n1", "n2", "n3", "bank-a", "bank-b", "admin", "client"}

type tlsNode struct {
	id, grpcAddr, raftAddr string
	node                   *raftlog.Node
	srv                    *Server
	gs                     *grpc.Server
}

type tlsCluster struct {
	t      *testing.T
	caFile string
	files  map[string]devca.Files
	// foreign are certificates of another CA, with the same names.
	foreignCA string
	foreign   map[string]devca.Files
	nodes     []*tlsNode
}

func newTLSCluster(t *testing.T) *tlsCluster {
	t.Helper()
	caFile, files, err := devca.Write(t.TempDir(), tlsIdentities...)
	if err != nil {
		t.Fatal(err)
	}
	foreignCA, foreign, err := devca.Write(t.TempDir(), tlsIdentities...)
	if err != nil {
		t.Fatal(err)
	}
	c := &tlsCluster{t: t, caFile: caFile, files: files, foreignCA: foreignCA, foreign: foreign}
	t.Cleanup(c.stop)
	c.start("n1", true)
	c.waitLeader()
	// n2 joins through the leader, n3 through the follower n2: an admin's
	// AddMember is accepted at the first hop and forwarded on n2's own
	// certificate, which the leader trusts as a node identity.
	for i, through := range []int{0, 1} {
		tn := c.start(fmt.Sprintf("n%d", i+2), false)
		ctx := ctxT(t, 20*time.Second)
		_, err := tmv1.NewClusterServiceClient(c.dial("admin", through)).AddMember(ctx,
			&tmv1.AddMemberRequest{Id: tn.id, RaftAddress: tn.raftAddr, GrpcAddress: tn.grpcAddr})
		if err != nil {
			t.Fatalf("admin AddMember %s through %s: %v", tn.id, c.nodes[through].id, err)
		}
		c.waitApplied()
	}
	return c
}

// tlsConfig is the node's LoadTLSConfig, as tmd makes it.
func (c *tlsCluster) tlsConfig(name string) *tls.Config {
	c.t.Helper()
	cfg, err := LoadTLSConfig(c.files[name].Cert, c.files[name].Key, c.caFile)
	if err != nil {
		c.t.Fatal(err)
	}
	return cfg
}

func (c *tlsCluster) start(id string, bootstrap bool) *tlsNode {
	t := c.t
	t.Helper()
	tn := &tlsNode{id: id, raftAddr: freeAddr(t)}
	tc := c.tlsConfig(id)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tn.grpcAddr = lis.Addr().String()
	rc := testRaftConfig(id, tn.raftAddr, t.TempDir(), bootstrap)
	rc.TLS = tc.Clone()
	if tn.node, err = raftlog.Open(rc); err != nil {
		t.Fatalf("open %s: %v", id, err)
	}
	dial := []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(tc.Clone()))}
	tn.srv, err = New(Config{NodeID: id, GRPCAddr: tn.grpcAddr, RaftAddr: tn.raftAddr, Raft: tn.node,
		ParticipantDialOptions: dial, PeerDialOptions: dial, AdminIdentities: []string{"admin"},
		ReaperInterval: 100 * time.Millisecond, ResolveGrace: 200 * time.Millisecond,
		RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	tn.gs = grpc.NewServer(grpc.Creds(credentials.NewTLS(tc.Clone())), grpc.ChainUnaryInterceptor(tn.srv.UnaryInterceptor()))
	tn.srv.Register(tn.gs)
	tn.srv.Start()
	go tn.gs.Serve(lis)
	c.nodes = append(c.nodes, tn)
	return tn
}

func (c *tlsCluster) stop() {
	for _, tn := range c.nodes {
		tn.gs.Stop()
		tn.node.Shutdown()
		tn.srv.Close()
	}
}

// dial connects to node i presenting name's certificate, through the SDK's
// helper.
func (c *tlsCluster) dial(name string, i int) *grpc.ClientConn {
	c.t.Helper()
	opt, err := client.WithTLS(c.files[name].Cert, c.files[name].Key, c.caFile)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.connect(c.nodes[i].grpcAddr, opt)
}

func (c *tlsCluster) connect(addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	c.t.Helper()
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { conn.Close() })
	return conn
}

func (c *tlsCluster) waitLeader() int {
	c.t.Helper()
	idx := -1
	eventually(c.t, 15*time.Second, func() bool {
		for i, tn := range c.nodes {
			if l, _ := tn.srv.current(); l != nil {
				select {
				case <-l.ready:
					idx = i
					return true
				default:
				}
			}
		}
		return false
	}, "a ready leader")
	return idx
}

func (c *tlsCluster) follower() int {
	lead := c.waitLeader()
	return (lead + 1) % len(c.nodes)
}

func (c *tlsCluster) waitApplied() {
	c.t.Helper()
	target := c.nodes[c.waitLeader()].node.FSM().AppliedIndex()
	eventually(c.t, 10*time.Second, func() bool {
		for _, tn := range c.nodes {
			if tn.node.FSM().AppliedIndex() < target {
				return false
			}
		}
		return true
	}, "all nodes applied")
}

// startParticipant serves a kit participant over mutual TLS with name's
// certificate (which it also presents when it resolves) and registers it,
// as admin, with identity.
func (c *tlsCluster) startParticipant(name, identity string) *testParticipant {
	t := c.t
	t.Helper()
	cert, key := c.files[name].Cert, c.files[name].Key
	dial, err := client.WithTLS(cert, key, c.caFile)
	if err != nil {
		t.Fatal(err)
	}
	serverCfg, err := client.TLSConfig(cert, key, c.caFile)
	if err != nil {
		t.Fatal(err)
	}
	p := &testParticipant{name: name, path: filepath.Join(t.TempDir(), name+".db"), prepares: map[string]int{}}
	p.kit, err = participant.Open(participant.Config{Path: p.path, Hooks: testHooks{}, Grace: 200 * time.Millisecond,
		DialOptions: []grpc.DialOption{dial}})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = lis.Addr().String()
	p.gs = grpc.NewServer(grpc.Creds(credentials.NewTLS(serverCfg)), grpc.UnaryInterceptor(p.intercept))
	p.kit.Register(p.gs)
	p.kit.Start(context.Background())
	go p.gs.Serve(lis)
	t.Cleanup(p.stop)
	c.register(name, p.addr, identity)
	return p
}

func (c *tlsCluster) register(name, target, identity string) {
	c.t.Helper()
	_, err := tmv1.NewClusterServiceClient(c.dial("admin", 0)).RegisterParticipant(ctxT(c.t, 10*time.Second),
		&tmv1.RegisterParticipantRequest{Name: name, Target: target, Identity: identity})
	if err != nil {
		c.t.Fatalf("register %s: %v", name, err)
	}
	c.waitApplied()
}

// wantDenied checks err is code with ErrorInfo reason.
func wantDenied(t *testing.T, err error, code codes.Code, reason string) {
	t.Helper()
	if status.Code(err) != code || reasonOf(err) != reason {
		t.Fatalf("got %v (reason %q), want %v %s", err, reasonOf(err), code, reason)
	}
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() != tmv1.ErrorDomain {
			t.Fatalf("ErrorInfo domain %q", info.GetDomain())
		}
	}
}

// wantRefused checks a call failed at the transport: the handshake was
// refused, so no handler ran.
func wantRefused(t *testing.T, err error) {
	t.Helper()
	if status.Code(err) != codes.Unavailable || reasonOf(err) != "" {
		t.Fatalf("got %v, want the connection refused (UNAVAILABLE without ErrorInfo)", err)
	}
}

func TestMutualTLS(t *testing.T) {
	c := newTLSCluster(t)
	// lead and fol are refreshed by each subtest: an election on a loaded
	// machine must not turn a "through a follower" case into a leader one.
	var lead, fol int
	roles := func() { lead, fol = c.waitLeader(), c.follower() }
	clusterStatus := func(conn *grpc.ClientConn) error {
		_, err := tmv1.NewClusterServiceClient(conn).GetClusterStatus(ctxT(t, 5*time.Second), &tmv1.GetClusterStatusRequest{})
		return err
	}

	t.Run("plaintext client refused", func(t *testing.T) {
		roles()
		wantRefused(t, clusterStatus(c.connect(c.nodes[lead].grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))))
	})

	t.Run("client without certificate refused", func(t *testing.T) {
		roles()
		opt, err := client.WithTLS("", "", c.caFile)
		if err != nil {
			t.Fatal(err)
		}
		wantRefused(t, clusterStatus(c.connect(c.nodes[lead].grpcAddr, opt)))
	})

	t.Run("certificate from another CA refused", func(t *testing.T) {
		roles()
		// The server is verified with the right CA; the client presents an
		// "admin" certificate that another CA signed.
		cfg, err := client.TLSConfig(c.foreign["admin"].Cert, c.foreign["admin"].Key, c.caFile)
		if err != nil {
			t.Fatal(err)
		}
		conn := c.connect(c.nodes[lead].grpcAddr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
		wantRefused(t, clusterStatus(conn))
		_, err = tmv1.NewClusterServiceClient(conn).RemoveMember(ctxT(t, 5*time.Second), &tmv1.RemoveMemberRequest{Id: "n3"})
		wantRefused(t, err)
	})

	t.Run("any identity of the CA reads", func(t *testing.T) {
		roles()
		if err := clusterStatus(c.dial("client", fol)); err != nil {
			t.Fatal(err)
		}
		if _, err := tmv1.NewClusterServiceClient(c.dial("bank-a", fol)).ListParticipants(ctxT(t, 5*time.Second), &tmv1.ListParticipantsRequest{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("non-admin changes denied", func(t *testing.T) {
		roles()
		calls := map[string]func(context.Context, tmv1.ClusterServiceClient) error{
			"AddMember": func(ctx context.Context, cs tmv1.ClusterServiceClient) error {
				_, err := cs.AddMember(ctx, &tmv1.AddMemberRequest{Id: "n9", RaftAddress: "127.0.0.1:1", GrpcAddress: "127.0.0.1:2"})
				return err
			},
			"RemoveMember": func(ctx context.Context, cs tmv1.ClusterServiceClient) error {
				_, err := cs.RemoveMember(ctx, &tmv1.RemoveMemberRequest{Id: "n3"})
				return err
			},
			"TransferLeadership": func(ctx context.Context, cs tmv1.ClusterServiceClient) error {
				_, err := cs.TransferLeadership(ctx, &tmv1.TransferLeadershipRequest{})
				return err
			},
			"RegisterParticipant": func(ctx context.Context, cs tmv1.ClusterServiceClient) error {
				_, err := cs.RegisterParticipant(ctx, &tmv1.RegisterParticipantRequest{Name: "evil", Target: "127.0.0.1:1"})
				return err
			},
			"RemoveParticipant": func(ctx context.Context, cs tmv1.ClusterServiceClient) error {
				_, err := cs.RemoveParticipant(ctx, &tmv1.RemoveParticipantRequest{Name: "bank-a"})
				return err
			},
		}
		for method, call := range calls {
			for _, who := range []string{"client", "bank-a", "n2"} {
				for _, at := range []int{lead, fol} {
					err := call(ctxT(t, 5*time.Second), tmv1.NewClusterServiceClient(c.dial(who, at)))
					if status.Code(err) != codes.PermissionDenied || reasonOf(err) != tmv1.ReasonNotAdmin {
						t.Errorf("%s by %s at %s: got %v, want PERMISSION_DENIED NOT_ADMIN", method, who, c.nodes[at].id, err)
					}
				}
			}
		}
		// The forwarded mark grants nothing to an identity that is not a
		// node's.
		ctx := metadata.AppendToOutgoingContext(ctxT(t, 5*time.Second), forwardedKey, "1")
		err := calls["AddMember"](ctx, tmv1.NewClusterServiceClient(c.dial("client", lead)))
		wantDenied(t, err, codes.PermissionDenied, tmv1.ReasonNotAdmin)
		c.waitApplied()
		if got := len(c.nodes[c.waitLeader()].node.FSM().Nodes()); got != 3 {
			t.Fatalf("address book has %d nodes after denied calls, want 3", got)
		}
	})

	t.Run("admin changes allowed", func(t *testing.T) {
		roles()
		// AddMember through the leader and through a follower already ran in
		// newTLSCluster; here a registration through a follower.
		_, err := tmv1.NewClusterServiceClient(c.dial("admin", fol)).RegisterParticipant(ctxT(t, 10*time.Second),
			&tmv1.RegisterParticipantRequest{Name: "bank-z", Target: "127.0.0.1:1", Identity: "bank-z"})
		if err != nil {
			t.Fatal(err)
		}
		c.waitApplied()
		for _, tn := range c.nodes {
			p, ok := tn.node.FSM().Participant("bank-z")
			if !ok || p.GetIdentity() != "bank-z" {
				t.Fatalf("%s's registry holds %v", tn.id, p)
			}
		}
		servers, err := c.nodes[c.waitLeader()].node.Servers()
		if err != nil || len(servers) != 3 {
			t.Fatalf("members %v, %v; want 3", servers, err)
		}
	})

	a := c.startParticipant("bank-a", "bank-a")
	b := c.startParticipant("bank-b", "bank-b")
	var paid *tmv1.Transaction

	t.Run("payment commits over TLS", func(t *testing.T) {
		roles()
		resp, err := tmv1.NewTransactionServiceClient(c.dial("client", fol)).ExecuteTransaction(ctxT(t, 20*time.Second),
			&tmv1.ExecuteTransactionRequest{
				Branches:          []*tmv1.Branch{branch("debit", "bank-a", "-10"), branch("credit", "bank-b", "+10")},
				IdempotencyKey:    "tls-pay-1",
				WaitForCompletion: true,
			})
		if err != nil {
			t.Fatal(err)
		}
		paid = resp.GetTransaction()
		if paid.GetState() != tmv1.TransactionState_TRANSACTION_STATE_COMMITTED || !paid.GetCompleted() {
			t.Fatalf("got %v completed=%v, want COMMITTED and completed", paid.GetState(), paid.GetCompleted())
		}
		waitBranches(t, paid.GetTxId(), "committed", map[string]*testParticipant{"debit": a, "credit": b})
	})

	t.Run("resolve only from the participant's identity", func(t *testing.T) {
		roles()
		if paid == nil {
			t.Skip("no payment")
		}
		resolve := func(who string, at int, txID, name string) (*tmv1.ResolveTransactionResponse, error) {
			return tmv1.NewTransactionServiceClient(c.dial(who, at)).ResolveTransaction(ctxT(t, 10*time.Second),
				&tmv1.ResolveTransactionRequest{TxId: txID, Participant: name})
		}
		for _, at := range []int{lead, fol} {
			for _, who := range []string{"bank-b", "client", "admin", "n2"} {
				_, err := resolve(who, at, paid.GetTxId(), "bank-a")
				wantDenied(t, err, codes.PermissionDenied, tmv1.ReasonIdentityMismatch)
			}
			resp, err := resolve("bank-a", at, paid.GetTxId(), "bank-a")
			if err != nil {
				t.Fatalf("bank-a resolving its own branch at %s: %v", c.nodes[at].id, err)
			}
			tx := resp.GetTransaction()
			if tx.GetState() != tmv1.TransactionState_TRANSACTION_STATE_COMMITTED || len(tx.GetBranches()) != 1 ||
				tx.GetBranches()[0].GetParticipant() != "bank-a" {
				t.Fatalf("bank-a got %v", tx)
			}
		}

		// An undecided transaction: the follower forwards the Resolve to the
		// leader on its own certificate, and the leader trusts it.
		begun, err := tmv1.NewTransactionServiceClient(c.dial("client", lead)).BeginTransaction(ctxT(t, 10*time.Second),
			&tmv1.BeginTransactionRequest{Branches: []*tmv1.Branch{branch("debit", "bank-a", "-1")}})
		if err != nil {
			t.Fatal(err)
		}
		txID := begun.GetTransaction().GetTxId()
		c.waitApplied()
		roles()
		resp, err := resolve("bank-a", fol, txID, "bank-a")
		if err != nil {
			t.Fatalf("forwarded Resolve from bank-a: %v", err)
		}
		if resp.GetTransaction().GetState() != tmv1.TransactionState_TRANSACTION_STATE_ACTIVE || resp.GetRetryAfter() == nil {
			t.Fatalf("forwarded Resolve answered %v", resp)
		}
		_, err = resolve("bank-b", fol, txID, "bank-a")
		wantDenied(t, err, codes.PermissionDenied, tmv1.ReasonIdentityMismatch)
	})

	t.Run("participant without identity: any participant identity", func(t *testing.T) {
		roles()
		if paid == nil {
			t.Skip("no payment")
		}
		c.register("bank-c", b.addr, "")
		ask := func(who string) error {
			_, err := tmv1.NewTransactionServiceClient(c.dial(who, fol)).ResolveTransaction(ctxT(t, 10*time.Second),
				&tmv1.ResolveTransactionRequest{TxId: paid.GetTxId(), Participant: "bank-c"})
			return err
		}
		if err := ask("bank-b"); err != nil {
			t.Fatalf("a registered participant's identity: %v", err)
		}
		wantDenied(t, ask("client"), codes.PermissionDenied, tmv1.ReasonIdentityMismatch)
	})

	t.Run("participant refuses plaintext coordinators", func(t *testing.T) {
		conn := c.connect(a.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		_, err := tmv1.NewParticipantServiceClient(conn).Abort(ctxT(t, 5*time.Second),
			&tmv1.AbortRequest{TxId: "x", BranchId: "y", DecisionIndex: 1, DecisionTerm: 1})
		wantRefused(t, err)
	})
}

// Without a verified client certificate (plaintext, or TLS without client
// authentication) nobody is an admin, and Resolve is not checked.
func TestAuthorizeWithoutCertificate(t *testing.T) {
	s := &Server{cfg: Config{AdminIdentities: []string{"admin"}}, fsm: raftlog.NewFSM()}
	ctx := context.Background()
	wantDenied(t, s.authorize(ctx, tmv1.ClusterService_AddMember_FullMethodName, &tmv1.AddMemberRequest{}),
		codes.Unauthenticated, tmv1.ReasonUnauthenticated)
	for _, m := range []string{
		tmv1.ClusterService_GetClusterStatus_FullMethodName,
		tmv1.ClusterService_ListParticipants_FullMethodName,
		tmv1.TransactionService_ExecuteTransaction_FullMethodName,
	} {
		if err := s.authorize(ctx, m, nil); err != nil {
			t.Errorf("%s: %v", m, err)
		}
	}
	if err := s.authorize(ctx, tmv1.TransactionService_ResolveTransaction_FullMethodName,
		&tmv1.ResolveTransactionRequest{Participant: "bank-a"}); err != nil {
		t.Errorf("Resolve without mutual TLS: %v", err)
	}
	s.cfg.AdminIdentities = nil
	if err := s.authorize(ctx, tmv1.ClusterService_RemoveMember_FullMethodName, &tmv1.RemoveMemberRequest{}); err != nil {
		t.Errorf("no admin identities configured: %v", err)
	}
}
