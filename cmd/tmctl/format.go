package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// writeJSON prints m as one line of protojson, zero fields included.
func writeJSON(w io.Writer, m proto.Message) error {
	b, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// newTable returns a tabwriter for aligned columns; Flush it when done.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// formatStatus prints the cluster header and one row per node: the
// members first, in configuration order, then asked nodes that are not
// members. A number a node did not report is "-".
func formatStatus(w io.Writer, st clusterStatus) error {
	tw := newTable(w)
	fmt.Fprintf(tw, "cluster id:\t%s\n", orDash(st.clusterID))
	leader := "none known"
	if st.leaderID != "" {
		leader = st.leaderID
		if st.leaderAddr != "" {
			leader += " (" + st.leaderAddr + ")"
		}
		if !st.fromLeader {
			leader += ", did not answer: lag unknown"
		}
	}
	fmt.Fprintf(tw, "leader:\t%s\n", leader)
	fmt.Fprintf(tw, "term:\t%d\n", st.term)
	fmt.Fprintf(tw, "commit index:\t%d\n\n", st.commitIndex)
	fmt.Fprintln(tw, "ID\tGRPC ADDRESS\tRAFT ADDRESS\tROLE\tVOTER\tTERM\tAPPLIED\tLAG")
	for _, r := range st.rows {
		term, applied, lag := "-", "-", "-"
		if r.answered {
			term, applied = strconv.FormatUint(r.term, 10), strconv.FormatUint(r.applied, 10)
		}
		if r.lagKnown {
			lag = strconv.FormatUint(r.lag, 10)
		}
		voter := "-"
		if r.role != "not-a-member" && r.id != "?" {
			voter = yesNo(r.voter)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.id, orDash(r.grpcAddr), orDash(r.raftAddr),
			r.role, voter, term, applied, lag)
	}
	return tw.Flush()
}

// role names a member's Raft role: the leader is leaderID when given,
// else the node flagged as leader.
func role(n *tmv1.Node, leaderID string) string {
	isLeader := n.GetLeader()
	if leaderID != "" {
		isLeader = n.GetId() == leaderID
	}
	switch {
	case isLeader:
		return "leader"
	case !n.GetVoter():
		return "nonvoter"
	}
	return "follower"
}

// formatTx prints one transaction's fields and its branch table.
func formatTx(w io.Writer, tx *tmv1.Transaction) error {
	tw := newTable(w)
	fmt.Fprintf(tw, "tx id:\t%s\n", tx.GetTxId())
	fmt.Fprintf(tw, "state:\t%s\n", txState(tx.GetState()))
	fmt.Fprintf(tw, "completed:\t%s\n", yesNo(tx.GetCompleted()))
	fmt.Fprintf(tw, "abort reason:\t%s\n", orDash(tx.GetAbortReason()))
	fmt.Fprintf(tw, "idempotency key:\t%s\n", orDash(tx.GetIdempotencyKey()))
	fmt.Fprintf(tw, "created:\t%s\n", stamp(tx.GetCreateTime()))
	fmt.Fprintf(tw, "deadline:\t%s\n", stamp(tx.GetDeadline()))
	fmt.Fprintf(tw, "decided:\t%s\n", stamp(tx.GetDecideTime()))
	fmt.Fprintf(tw, "decision:\tindex %d, term %d\n", tx.GetDecisionIndex(), tx.GetDecisionTerm())
	fmt.Fprintf(tw, "labels:\t%s\n\n", orDash(labels(tx.GetLabels())))
	fmt.Fprintln(tw, "BRANCH\tPARTICIPANT\tSTATE\tREASON\tATTEMPTS")
	for _, b := range tx.GetBranches() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", b.GetBranchId(), b.GetParticipant(),
			branchState(b.GetState()), orDash(b.GetReason()), b.GetAttempts())
	}
	return tw.Flush()
}

// formatTxList prints one row per transaction and, when the listing
// stopped at --limit with records left unread, how to get more.
func formatTxList(w io.Writer, l txListing) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "TX ID\tSTATE\tCOMPLETED\tBRANCHES\tCREATED\tABORT REASON")
	for _, tx := range l.txs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", tx.GetTxId(), txState(tx.GetState()),
			yesNo(tx.GetCompleted()), len(tx.GetBranches()), stamp(tx.GetCreateTime()), orDash(tx.GetAbortReason()))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var err error
	switch {
	case l.next != "":
		_, err = fmt.Fprintf(w, "(more: next page token %s)\n", l.next)
	case l.more:
		_, err = fmt.Fprintf(w, "(more may match: raise --limit)\n")
	}
	return err
}

// formatParticipants prints the participant registry.
func formatParticipants(w io.Writer, ps []*tmv1.Participant) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "NAME\tTARGET\tIDENTITY\tREGISTERED")
	for _, p := range ps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.GetName(), p.GetTarget(), orDash(p.GetIdentity()), stamp(p.GetRegisterTime()))
	}
	return tw.Flush()
}

// formatNodes prints the Raft members; leaderID, when known, marks the
// leader in case the nodes' own leader flags are stale.
func formatNodes(w io.Writer, nodes []*tmv1.Node, leaderID string) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "ID\tGRPC ADDRESS\tRAFT ADDRESS\tROLE\tVOTER")
	for _, n := range nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n.GetId(), n.GetGrpcAddress(), n.GetRaftAddress(),
			role(n, leaderID), yesNo(n.GetVoter()))
	}
	return tw.Flush()
}

// txState renders TRANSACTION_STATE_COMMITTED as COMMITTED.
func txState(s tmv1.TransactionState) string {
	return strings.TrimPrefix(s.String(), "TRANSACTION_STATE_")
}

// branchState renders BRANCH_STATE_PREPARED as PREPARED.
func branchState(s tmv1.BranchState) string {
	return strings.TrimPrefix(s.String(), "BRANCH_STATE_")
}

// stamp renders a timestamp in UTC RFC 3339, "-" when unset.
func stamp(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	return ts.AsTime().UTC().Format(time.RFC3339Nano)
}

// labels renders a label map as sorted k=v pairs.
func labels(m map[string]string) string {
	pairs := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		pairs = append(pairs, k+"="+m[k])
	}
	return strings.Join(pairs, ", ")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// maxListedBranches is how many branches a watch line names one by one;
// past it, the line counts them by state.
const maxListedBranches = 4

// formatWatchLine renders one change of tx, seen at t, as one line: time,
// tx id, state, completed=yes|no, the branches, and the abort reason
// (quoted, so the line stays one line) when there is one.
func formatWatchLine(t time.Time, tx *tmv1.Transaction) string {
	line := fmt.Sprintf("%s  %s  %s  completed=%s  %s", t.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		tx.GetTxId(), txState(tx.GetState()), yesNo(tx.GetCompleted()), branchSummary(tx.GetBranches()))
	if r := tx.GetAbortReason(); r != "" {
		line += "  abort_reason=" + strconv.Quote(r)
	}
	return line
}

// branchSummary renders branches as branch@participant=STATE, or, past
// maxListedBranches, as a count per state ("64 branches: 60 COMMITTED,
// 4 PREPARED").
func branchSummary(bs []*tmv1.Branch) string {
	if len(bs) == 0 {
		return "no branches"
	}
	if len(bs) <= maxListedBranches {
		parts := make([]string, len(bs))
		for i, b := range bs {
			parts[i] = b.GetBranchId() + "@" + b.GetParticipant() + "=" + branchState(b.GetState())
		}
		return strings.Join(parts, " ")
	}
	counts := map[tmv1.BranchState]int{}
	for _, b := range bs {
		counts[b.GetState()]++
	}
	var parts []string
	for _, st := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%d %s", counts[st], branchState(st)))
	}
	return fmt.Sprintf("%d branches: %s", len(bs), strings.Join(parts, ", "))
}
