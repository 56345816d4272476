package main

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/tmcluster/tmcluster/client"
	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// nodeView is one node's answer to GetClusterStatus, or why it gave none.
type nodeView struct {
	addr   string
	status *tmv1.GetClusterStatusResponse
	err    error
}

func newStatusCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the cluster's members: role, term, applied index and lag behind the leader",
		Long: "Asks every --addr node, then every member the answers list, for its own view.\n" +
			"The header (cluster id, leader, term, commit index) is the leader's view; each\n" +
			"row is the node's own: its role, term and applied index, and its lag, the\n" +
			"leader's commit index minus the node's applied index. With --json, one\n" +
			"GetClusterStatusResponse per node that answered.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withClient(cmd, func(ctx context.Context, c *client.Client) error {
				return a.status(ctx, c)
			})
		},
	}
}

// status asks the nodes and prints what the answering ones said.
func (a *app) status(ctx context.Context, c *client.Client) error {
	views := gatherViews(ctx, c, a.addrs, a.timeout/2)
	var answered []nodeView
	var firstErr error
	for _, v := range views {
		if v.err != nil {
			firstErr = cmp.Or(firstErr, v.err)
			continue
		}
		answered = append(answered, v)
	}
	if len(answered) == 0 {
		return firstErr
	}
	for _, v := range views {
		if v.err != nil {
			a.warn(describeError(v.err, []string{v.addr}))
		}
	}
	if a.json {
		for _, v := range answered {
			if err := writeJSON(a.out, v.status); err != nil {
				return err
			}
		}
		return nil
	}
	st := buildStatus(views)
	for _, w := range st.warnings {
		a.warn(w)
	}
	return formatStatus(a.out, st)
}

// gatherViews asks every addr, then every member the answers list that was
// not asked yet (by address, or already answered by id), each round
// concurrently and bounded by perRound. Views come back in asking order.
func gatherViews(ctx context.Context, c *client.Client, addrs []string, perRound time.Duration) []nodeView {
	asked := map[string]bool{}
	var first []string
	for _, addr := range addrs {
		if !asked[addr] {
			asked[addr] = true
			first = append(first, addr)
		}
	}
	views := askNodes(ctx, c, first, perRound)
	ids := map[string]bool{}
	for _, v := range views {
		if v.err == nil {
			ids[v.status.GetNodeId()] = true
		}
	}
	var more []string
	for _, v := range views {
		for _, n := range v.status.GetNodes() {
			addr := n.GetGrpcAddress()
			if addr == "" || asked[addr] || ids[n.GetId()] {
				continue
			}
			asked[addr] = true
			more = append(more, addr)
		}
	}
	return append(views, askNodes(ctx, c, more, perRound)...)
}

// askNodes asks each addr, concurrently, for its own view of the cluster.
func askNodes(ctx context.Context, c *client.Client, addrs []string, timeout time.Duration) []nodeView {
	if len(addrs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	views := make([]nodeView, len(addrs))
	var wg sync.WaitGroup
	for i, addr := range addrs {
		wg.Go(func() {
			st, err := c.Status(ctx, addr)
			views[i] = nodeView{addr: addr, status: st, err: err}
		})
	}
	wg.Wait()
	return views
}

// warn prints a non-fatal problem on stderr.
func (a *app) warn(msg string) {
	_, _ = a.errOut.Write([]byte("tmctl: warning: " + msg + "\n"))
}

// clusterStatus is what status prints: the header from the reference view
// and one row per node.
type clusterStatus struct {
	clusterID   string
	leaderID    string
	leaderAddr  string
	term        uint64
	commitIndex uint64
	fromLeader  bool // the header is the leader's own view, so lag is known
	rows        []statusRow
	warnings    []string
}

// statusRow is one node: a member of the configuration, or an asked node
// that is not one.
type statusRow struct {
	id, grpcAddr, raftAddr string
	voter                  bool
	role                   string // leader, follower, nonvoter, no-leader, stale-leader, not-a-member, unreachable
	answered               bool
	term, applied          uint64
	lag                    uint64
	lagKnown               bool
}

// buildStatus merges the views: the members come from the reference view
// (the leader's own, else the first answer), each row's numbers from that
// node's own answer.
func buildStatus(views []nodeView) clusterStatus {
	ref := referenceView(views)
	st := clusterStatus{}
	if ref == nil {
		return st
	}
	st.clusterID, st.leaderID = ref.GetClusterId(), ref.GetLeaderId()
	st.term, st.commitIndex = ref.GetTerm(), ref.GetCommitIndex()
	st.fromLeader = ref.GetNodeId() != "" && ref.GetNodeId() == ref.GetLeaderId()
	byID := map[string]*tmv1.GetClusterStatusResponse{}
	failed := map[string]error{} // grpc address → why it did not answer
	for _, v := range views {
		switch {
		case v.err != nil:
			failed[v.addr] = v.err
		case v.status.GetClusterId() != ref.GetClusterId():
			st.warnings = append(st.warnings, fmt.Sprintf("%s (node %s) belongs to cluster %s, not %s",
				v.addr, v.status.GetNodeId(), v.status.GetClusterId(), ref.GetClusterId()))
		default:
			byID[v.status.GetNodeId()] = v.status
		}
	}
	members := map[string]bool{}
	listed := map[string]bool{}
	for _, n := range ref.GetNodes() {
		members[n.GetId()] = true
		listed[n.GetGrpcAddress()] = true
		if n.GetId() == st.leaderID {
			st.leaderAddr = n.GetGrpcAddress()
		}
		row := statusRow{id: n.GetId(), grpcAddr: n.GetGrpcAddress(), raftAddr: n.GetRaftAddress(), voter: n.GetVoter()}
		if own, ok := byID[n.GetId()]; ok {
			st.fill(&row, own)
		} else {
			row.role = "unreachable"
		}
		st.rows = append(st.rows, row)
	}
	for _, v := range views {
		switch {
		case v.err == nil && !members[v.status.GetNodeId()] && byID[v.status.GetNodeId()] == v.status:
			row := statusRow{id: v.status.GetNodeId(), grpcAddr: v.addr}
			st.fill(&row, v.status)
			row.role, row.lagKnown = "not-a-member", false // it follows no one here
			st.rows = append(st.rows, row)
		case v.err != nil && !listed[v.addr]:
			st.rows = append(st.rows, statusRow{id: "?", grpcAddr: v.addr, role: "unreachable"})
		}
	}
	return st
}

// fill sets a row's numbers and role from the node's own view.
func (st *clusterStatus) fill(row *statusRow, own *tmv1.GetClusterStatusResponse) {
	row.answered = true
	row.term, row.applied = own.GetTerm(), own.GetAppliedIndex()
	switch {
	case own.GetNodeId() == own.GetLeaderId() && own.GetNodeId() == st.leaderID:
		row.role = "leader"
	case own.GetNodeId() == own.GetLeaderId():
		row.role = "stale-leader" // it has not yet heard of the newer term
	case own.GetLeaderId() == "":
		row.role = "no-leader"
	case !row.voter:
		row.role = "nonvoter"
	default:
		row.role = "follower"
	}
	if st.fromLeader {
		row.lagKnown = true
		if st.commitIndex > row.applied {
			row.lag = st.commitIndex - row.applied
		}
	}
}

// referenceView picks the view for the header: the view of a node that
// says it leads (the highest term when several do, as a deposed leader may
// not know yet), else the first that answered; nil when none did.
func referenceView(views []nodeView) *tmv1.GetClusterStatusResponse {
	var first, leader *tmv1.GetClusterStatusResponse
	for _, v := range views {
		if v.err != nil {
			continue
		}
		s := v.status
		if first == nil {
			first = s
		}
		if s.GetNodeId() != "" && s.GetNodeId() == s.GetLeaderId() && (leader == nil || s.GetTerm() > leader.GetTerm()) {
			leader = s
		}
	}
	if leader != nil {
		return leader
	}
	return first
}
