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

// formatStatus prints the cluster header from the reference view and one
// row per member, with the applied index of every node that was asked.
func formatStatus(w io.Writer, views []nodeView) error {
	ref, err := referenceView(views)
	if err != nil {
		return err
	}
	applied := map[string]string{} // node id or grpc address → applied index
	for _, v := range views {
		if v.err != nil {
			applied[v.addr] = "unreachable"
			continue
		}
		applied[v.status.GetNodeId()] = strconv.FormatUint(v.status.GetAppliedIndex(), 10)
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "cluster id:\t%s\n", orDash(ref.GetClusterId()))
	fmt.Fprintf(tw, "leader:\t%s\n", orDash(ref.GetLeaderId()))
	fmt.Fprintf(tw, "term:\t%d\n", ref.GetTerm())
	fmt.Fprintf(tw, "commit index:\t%d\n", ref.GetCommitIndex())
	fmt.Fprintf(tw, "applied index:\t%d (node %s)\n\n", ref.GetAppliedIndex(), orDash(ref.GetNodeId()))
	fmt.Fprintln(tw, "ID\tGRPC ADDRESS\tRAFT ADDRESS\tROLE\tVOTER\tAPPLIED")
	for _, n := range ref.GetNodes() {
		idx, ok := applied[n.GetId()]
		if !ok {
			idx = orDash(applied[n.GetGrpcAddress()])
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", n.GetId(), n.GetGrpcAddress(), n.GetRaftAddress(),
			role(n, ref.GetLeaderId()), yesNo(n.GetVoter()), idx)
	}
	return tw.Flush()
}

// role names a member's Raft role.
func role(n *tmv1.Node, leaderID string) string {
	if n.GetLeader() || (leaderID != "" && n.GetId() == leaderID) {
		return "leader"
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

// formatTxList prints one row per transaction and, when the list was cut
// short, the token of the next page.
func formatTxList(w io.Writer, txs []*tmv1.Transaction, nextPage string) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "TX ID\tSTATE\tCOMPLETED\tBRANCHES\tCREATED\tABORT REASON")
	for _, tx := range txs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", tx.GetTxId(), txState(tx.GetState()),
			yesNo(tx.GetCompleted()), len(tx.GetBranches()), stamp(tx.GetCreateTime()), orDash(tx.GetAbortReason()))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if nextPage != "" {
		_, err := fmt.Fprintf(w, "(more: next page token %s)\n", nextPage)
		return err
	}
	return nil
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

// formatNodes prints the Raft members.
func formatNodes(w io.Writer, nodes []*tmv1.Node) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "ID\tGRPC ADDRESS\tRAFT ADDRESS\tROLE\tVOTER")
	for _, n := range nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n.GetId(), n.GetGrpcAddress(), n.GetRaftAddress(),
			role(n, ""), yesNo(n.GetVoter()))
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
