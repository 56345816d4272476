package participant

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// Directory timing: one RPC's timeout, how often a cluster's membership is
// re-read from a node that answers, and the least gap between re-reads when
// no node answers Resolve.
const (
	askTimeout          = 5 * time.Second
	refreshEvery        = 30 * time.Second
	refreshAfterFailure = time.Second
)

// directory knows where to ask: coordinator connections, the members learned
// per cluster id, and which cluster each address said it belongs to. A
// branch is only ever asked about at an address of its own cluster, so that
// another cluster cannot answer (and abort) for it.
type directory struct {
	dialOpts   []grpc.DialOption
	configured []string
	log        *slog.Logger

	mu        sync.Mutex
	conns     map[string]*grpc.ClientConn
	members   map[string][]string  // cluster id → node gRPC addresses
	clusterOf map[string]string    // address → cluster id it reported
	refreshed map[string]time.Time // cluster id → last membership read
}

func newDirectory(cfg Config, log *slog.Logger) *directory {
	return &directory{
		dialOpts: cfg.DialOptions, configured: slices.Clone(cfg.Coordinators), log: log,
		conns: make(map[string]*grpc.ClientConn), members: make(map[string][]string),
		clusterOf: make(map[string]string), refreshed: make(map[string]time.Time),
	}
}

// candidates lists, once each, where to ask about it: the endpoint that last
// answered first, then its Prepare's endpoints, the learned members and the
// configured coordinators.
func (d *directory) candidates(it *inDoubt) []string {
	d.mu.Lock()
	all := slices.Concat([]string{it.preferred}, it.endpoints, d.members[it.clusterID], d.configured)
	d.mu.Unlock()
	var out []string
	for _, ep := range all {
		if ep != "" && !slices.Contains(out, ep) {
			out = append(out, ep)
		}
	}
	return out
}

// ask sends ResolveTransaction to the candidates in turn until one answers.
func (d *directory) ask(ctx context.Context, it *inDoubt) (*tmv1.ResolveTransactionResponse, error) {
	eps := d.candidates(it)
	var lastErr error = errNoAnswer
	for _, ep := range eps {
		if !d.usable(ctx, ep, it) {
			continue
		}
		resp, err := d.resolveAt(ctx, ep, it)
		if err == nil {
			it.preferred = ep
			d.maybeRefresh(ctx, ep, it.clusterID, refreshEvery)
			return resp, nil
		}
		lastErr = fmt.Errorf("%s: %w", ep, err)
		if reasonOf(err) == tmv1.ReasonTxForgotten {
			d.log.Error("participant: coordinator has FORGOTTEN an in-doubt transaction; the branch stays prepared until an operator acts",
				"tx_id", it.txID, "branch_id", it.branchID, "endpoint", ep)
		}
	}
	if d.claimRefresh(it.clusterID, refreshAfterFailure) {
		// No one answered Resolve: the nodes may have been replaced, so ask
		// any that still answers who the members are now.
		for _, ep := range eps {
			if ctx.Err() == nil && d.usable(ctx, ep, it) && d.learn(ctx, ep, it.clusterID, true) {
				break
			}
		}
	}
	return nil, lastErr
}

func (d *directory) resolveAt(ctx context.Context, ep string, it *inDoubt) (*tmv1.ResolveTransactionResponse, error) {
	conn, err := d.conn(ep)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, askTimeout)
	defer cancel()
	return tmv1.NewTransactionServiceClient(conn).ResolveTransaction(ctx, &tmv1.ResolveTransactionRequest{
		TxId: it.txID, BranchId: it.branchID, Participant: it.participant, ClusterId: it.clusterID})
}

// usable reports whether ep may be asked about it: it came with the
// branch's Prepare, or its GetClusterStatus reported the branch's cluster.
func (d *directory) usable(ctx context.Context, ep string, it *inDoubt) bool {
	if it.clusterID == "" || slices.Contains(it.endpoints, ep) {
		return true
	}
	d.mu.Lock()
	cluster, known := d.clusterOf[ep]
	d.mu.Unlock()
	if !known {
		return d.learn(ctx, ep, it.clusterID, false)
	}
	return cluster == it.clusterID
}

// maybeRefresh re-reads the cluster's membership from ep, which has just
// answered, unless that was done less than every ago.
func (d *directory) maybeRefresh(ctx context.Context, ep, clusterID string, every time.Duration) {
	if d.claimRefresh(clusterID, every) {
		d.learn(ctx, ep, clusterID, true)
	}
}

// claimRefresh reports whether the cluster's membership was last read at
// least every ago, and if so counts a read as starting now.
func (d *directory) claimRefresh(clusterID string, every time.Duration) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if time.Since(d.refreshed[clusterID]) < every {
		return false
	}
	d.refreshed[clusterID] = time.Now()
	return true
}

// learn reads ep's GetClusterStatus and records which cluster ep belongs
// to. When ep belongs to clusterID, its nodes become clusterID's members.
// trusted means ep is already known to belong to clusterID (a node that
// does not report its cluster id is then taken at its word); an untrusted
// node that reports no cluster id is never used for a branch that has one.
// learn reports whether ep answered and belongs to clusterID.
func (d *directory) learn(ctx context.Context, ep, clusterID string, trusted bool) bool {
	conn, err := d.conn(ep)
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, askTimeout)
	defer cancel()
	st, err := tmv1.NewClusterServiceClient(conn).GetClusterStatus(ctx, &tmv1.GetClusterStatusRequest{})
	if err != nil {
		d.log.Debug("participant: GetClusterStatus failed", "endpoint", ep, "err", err)
		return false
	}
	reported := st.GetClusterId()
	if reported == "" && trusted {
		reported = clusterID
	}
	return d.record(ep, clusterID, reported, st.GetNodes())
}

// record notes that ep reported cluster reported with nodes, and makes the
// nodes clusterID's members if that is ep's cluster.
func (d *directory) record(ep, clusterID, reported string, nodes []*tmv1.Node) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.clusterOf[ep] = reported
	if clusterID != "" && reported != clusterID {
		d.log.Warn("participant: coordinator endpoint belongs to another cluster; not asking it",
			"endpoint", ep, "cluster_id", reported, "want_cluster_id", clusterID)
		return false
	}
	var members []string
	for _, n := range nodes {
		if addr := n.GetGrpcAddress(); addr != "" {
			members = append(members, addr)
			d.clusterOf[addr] = reported
		}
	}
	d.members[clusterID] = members
	d.refreshed[clusterID] = time.Now()
	return true
}

// conn returns the connection to ep, creating it on first use.
func (d *directory) conn(ep string) (*grpc.ClientConn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c := d.conns[ep]; c != nil {
		return c, nil
	}
	c, err := grpc.NewClient(ep, d.dialOpts...)
	if err != nil {
		return nil, fmt.Errorf("participant: dial %s: %w", ep, err)
	}
	d.conns[ep] = c
	return c, nil
}

// close closes every coordinator connection.
func (d *directory) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	for ep, c := range d.conns {
		errs = append(errs, c.Close())
		delete(d.conns, ep)
	}
	if err := errors.Join(errs...); err != nil {
		d.log.Debug("participant: closing coordinator connections", "err", err)
	}
}
