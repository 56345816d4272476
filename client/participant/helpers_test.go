package participant

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testBucket = []byte("test/effects")

// testHooks stages "staged/<key>" on YES, moves it to "committed/<key>" or
// "aborted/<key>", and counts the hook calls whose transaction committed.
// A payload "no" votes NO, "ro" READ_ONLY, "err" fails, "panic" panics; a
// NO or READ_ONLY hook writes too, to show that the kit rolls it back.
// invoked counts every Prepare call, committed or not.
type testHooks struct {
	mu                        sync.Mutex
	prepares, commits, aborts map[string]int
	invoked                   map[string]int
}

func newTestHooks() *testHooks {
	return &testHooks{prepares: map[string]int{}, commits: map[string]int{}, aborts: map[string]int{},
		invoked: map[string]int{}}
}

func (h *testHooks) invokedPrepare(b string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.invoked[b]
}

func (h *testHooks) count(tx *bbolt.Tx, m map[string]int, b Branch) {
	tx.OnCommit(func() {
		h.mu.Lock()
		m[b.TxID+"/"+b.BranchID]++
		h.mu.Unlock()
	})
}

func (h *testHooks) calls(b string) (prepares, commits, aborts int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.prepares[b], h.commits[b], h.aborts[b]
}

func (h *testHooks) Prepare(tx *bbolt.Tx, b Branch) (Vote, string, error) {
	bk, err := tx.CreateBucketIfNotExists(testBucket)
	if err != nil {
		return VoteUnspecified, "", err
	}
	h.mu.Lock()
	h.invoked[b.TxID+"/"+b.BranchID]++
	h.mu.Unlock()
	h.count(tx, h.prepares, b)
	if err := bk.Put([]byte("staged/"+b.TxID+"/"+b.BranchID), b.Payload); err != nil {
		return VoteUnspecified, "", err
	}
	switch string(b.Payload) {
	case "no":
		return VoteNo, "test says no", nil
	case "ro":
		return VoteReadOnly, "", nil
	case "err":
		return VoteUnspecified, "", errors.New("test hook failed")
	case "panic":
		panic("test hook panicked")
	}
	return VoteYes, "", nil
}

func (h *testHooks) Commit(tx *bbolt.Tx, b Branch) error {
	return h.end(tx, b, "committed/", h.commits)
}
func (h *testHooks) Abort(tx *bbolt.Tx, b Branch) error { return h.end(tx, b, "aborted/", h.aborts) }

func (h *testHooks) end(tx *bbolt.Tx, b Branch, prefix string, m map[string]int) error {
	bk := tx.Bucket(testBucket)
	staged := []byte("staged/" + b.TxID + "/" + b.BranchID)
	if bk == nil || bk.Get(staged) == nil {
		return fmt.Errorf("nothing staged for %s/%s", b.TxID, b.BranchID)
	}
	h.count(tx, m, b)
	if err := bk.Delete(staged); err != nil {
		return err
	}
	return bk.Put([]byte(prefix+b.TxID+"/"+b.BranchID), b.Payload)
}

// effect returns the value the hooks stored under name, nil if none.
func effect(t *testing.T, k *Kit, name string) []byte {
	t.Helper()
	var v []byte
	if err := k.DB().View(func(tx *bbolt.Tx) error {
		if bk := tx.Bucket(testBucket); bk != nil {
			v = bytesClone(bk.Get([]byte(name)))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return v
}

func bytesClone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// openKit opens a kit on a fresh file in t's temp dir (or on cfg.Path).
func openKit(t *testing.T, cfg Config) *Kit {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = filepath.Join(t.TempDir(), "kit.db")
	}
	if cfg.Hooks == nil {
		cfg.Hooks = newTestHooks()
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	k, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close() })
	return k
}

// serveKit serves k on 127.0.0.1:0 and returns a client to it.
func serveKit(t *testing.T, k *Kit) tmv1.ParticipantServiceClient {
	t.Helper()
	srv := grpc.NewServer()
	k.Register(srv)
	return tmv1.NewParticipantServiceClient(serve(t, srv))
}

// serve runs srv on 127.0.0.1:0 until the test ends and dials it.
func serve(t *testing.T, srv *grpc.Server) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(); srv.Stop(); <-done })
	return conn
}

// prepareReq is a first Prepare from term 1 of cluster c1 with a minute to
// its deadline.
func prepareReq(txID, branchID, payload string) *tmv1.PrepareRequest {
	return &tmv1.PrepareRequest{TxId: txID, BranchId: branchID, Payload: []byte(payload),
		Term: 1, ClusterId: "c1", Participant: "bank-a", ResolveAfter: durationpb.New(time.Minute)}
}

func mustPrepare(t *testing.T, c tmv1.ParticipantServiceClient, req *tmv1.PrepareRequest, want tmv1.Vote) *tmv1.PrepareResponse {
	t.Helper()
	resp, err := c.Prepare(context.Background(), req)
	if err != nil {
		t.Fatalf("Prepare(%s/%s): %v", req.TxId, req.BranchId, err)
	}
	if resp.Vote != want {
		t.Fatalf("Prepare(%s/%s) = %v (%q), want %v", req.TxId, req.BranchId, resp.Vote, resp.Reason, want)
	}
	return resp
}

func commit(c tmv1.ParticipantServiceClient, txID, branchID string) error {
	_, err := c.Commit(context.Background(), &tmv1.CommitRequest{TxId: txID, BranchId: branchID, DecisionIndex: 7, DecisionTerm: 1})
	return err
}

func abort(c tmv1.ParticipantServiceClient, txID, branchID string) error {
	_, err := c.Abort(context.Background(), &tmv1.AbortRequest{TxId: txID, BranchId: branchID, DecisionIndex: 7,
		DecisionTerm: 1, TombstoneTtl: durationpb.New(time.Minute)})
	return err
}

// wantReason fails unless err is code with an ErrorInfo of reason in the
// tmcluster domain, and returns the ErrorInfo's metadata.
func wantReason(t *testing.T, err error, code codes.Code, reason string) map[string]string {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != code {
		t.Fatalf("error %v: code %v, want %v", err, st.Code(), code)
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			if info.Reason != reason || info.Domain != tmv1.ErrorDomain {
				t.Fatalf("ErrorInfo %s/%s, want %s/%s", info.Domain, info.Reason, tmv1.ErrorDomain, reason)
			}
			return info.Metadata
		}
	}
	t.Fatalf("error %v has no ErrorInfo, want reason %s", err, reason)
	return nil
}

// stateOf returns the kit's state of a branch, StateUnknown if it has none.
func stateOf(t *testing.T, k *Kit, txID, branchID string) State {
	t.Helper()
	infos, _, err := k.ListBranches("", maxPageSize)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range infos {
		if b.TxID == txID && b.BranchID == branchID {
			return b.State
		}
	}
	return StateUnknown
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
