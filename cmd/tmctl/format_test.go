package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

func sampleTx() *tmv1.Transaction {
	return &tmv1.Transaction{
		TxId: "tx-1", State: tmv1.TransactionState_TRANSACTION_STATE_ABORTED,
		AbortReason: "bank-b voted NO", IdempotencyKey: "order-42",
		CreateTime: timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
		Labels:     map[string]string{"shop": "7", "region": "eu"},
		Branches: []*tmv1.Branch{
			{BranchId: "debit", Participant: "bank-a", State: tmv1.BranchState_BRANCH_STATE_ABORTED, Attempts: 2},
			{BranchId: "credit", Participant: "bank-b", State: tmv1.BranchState_BRANCH_STATE_VOTED_NO, Reason: "insufficient funds"},
		},
	}
}

// rows splits a table into lines of whitespace-separated fields.
func rows(s string) [][]string {
	var out [][]string
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		out = append(out, strings.Fields(line))
	}
	return out
}

func hasRow(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, r := range rows(out) {
		if strings.Join(r, " ") == strings.Join(want, " ") {
			return
		}
	}
	t.Errorf("no row %q in:\n%s", want, out)
}

func TestFormatTx(t *testing.T) {
	var b bytes.Buffer
	if err := formatTx(&b, sampleTx()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	hasRow(t, out, "state:", "ABORTED")
	hasRow(t, out, "abort", "reason:", "bank-b", "voted", "NO")
	hasRow(t, out, "created:", "2026-01-02T03:04:05Z")
	hasRow(t, out, "deadline:", "-")
	hasRow(t, out, "labels:", "region=eu,", "shop=7")
	hasRow(t, out, "BRANCH", "PARTICIPANT", "STATE", "REASON", "ATTEMPTS")
	hasRow(t, out, "debit", "bank-a", "ABORTED", "-", "2")
	hasRow(t, out, "credit", "bank-b", "VOTED_NO", "insufficient", "funds", "0")
}

func TestFormatStatusRowsAreEachNodesOwnView(t *testing.T) {
	nodes := []*tmv1.Node{
		{Id: "n1", GrpcAddress: "127.0.0.1:7001", RaftAddress: "127.0.0.1:8001", Voter: true},
		{Id: "n2", GrpcAddress: "127.0.0.1:7002", RaftAddress: "127.0.0.1:8002", Leader: true, Voter: true},
		{Id: "n3", GrpcAddress: "127.0.0.1:7003", RaftAddress: "127.0.0.1:8003", Voter: true},
		{Id: "n4", GrpcAddress: "127.0.0.1:7004", RaftAddress: "127.0.0.1:8004"},
	}
	view := func(id, leader string, term, commit, applied uint64) *tmv1.GetClusterStatusResponse {
		return &tmv1.GetClusterStatusResponse{NodeId: id, LeaderId: leader, Nodes: nodes, Term: term,
			CommitIndex: commit, AppliedIndex: applied, ClusterId: "c-1"}
	}
	views := []nodeView{
		{addr: "127.0.0.1:7001", status: view("n1", "n2", 4, 97, 97)},
		{addr: "127.0.0.1:7002", status: view("n2", "n2", 4, 99, 98)},
		{addr: "127.0.0.1:7003", err: errors.New("connection refused")},
		{addr: "127.0.0.1:7004", status: view("n4", "n2", 4, 99, 101)}, // asked after the leader
		{addr: "127.0.0.1:7009", status: &tmv1.GetClusterStatusResponse{NodeId: "n9", LeaderId: "", Term: 2,
			AppliedIndex: 50, ClusterId: "c-1"}}, // removed, still running
		{addr: "127.0.0.1:7010", err: errors.New("connection refused")},
		{addr: "127.0.0.1:7011", status: &tmv1.GetClusterStatusResponse{NodeId: "x1", ClusterId: "c-other"}},
	}
	st := buildStatus(views)
	var b bytes.Buffer
	if err := formatStatus(&b, st); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	hasRow(t, out, "cluster", "id:", "c-1")
	hasRow(t, out, "leader:", "n2", "(127.0.0.1:7002)") // the leader's view heads the table
	hasRow(t, out, "term:", "4")
	hasRow(t, out, "commit", "index:", "99")
	hasRow(t, out, "n1", "127.0.0.1:7001", "127.0.0.1:8001", "follower", "yes", "4", "97", "2")
	hasRow(t, out, "n2", "127.0.0.1:7002", "127.0.0.1:8002", "leader", "yes", "4", "98", "1")
	hasRow(t, out, "n3", "127.0.0.1:7003", "127.0.0.1:8003", "unreachable", "yes", "-", "-", "-")
	hasRow(t, out, "n4", "127.0.0.1:7004", "127.0.0.1:8004", "nonvoter", "no", "4", "101", "0")
	hasRow(t, out, "n9", "127.0.0.1:7009", "-", "not-a-member", "-", "2", "50", "-")
	hasRow(t, out, "?", "127.0.0.1:7010", "-", "unreachable", "-", "-", "-", "-")
	if strings.Contains(out, "x1") {
		t.Errorf("a node of another cluster is listed:\n%s", out)
	}
	if len(st.warnings) != 1 || !strings.Contains(st.warnings[0], "belongs to cluster c-other") {
		t.Errorf("warnings = %q", st.warnings)
	}
}

func TestFormatStatusWithoutTheLeadersView(t *testing.T) {
	nodes := []*tmv1.Node{
		{Id: "n1", GrpcAddress: "127.0.0.1:7001", Voter: true},
		{Id: "n2", GrpcAddress: "127.0.0.1:7002", Voter: true},
		{Id: "n3", GrpcAddress: "127.0.0.1:7003", Voter: true},
	}
	views := []nodeView{
		{addr: "127.0.0.1:7001", status: &tmv1.GetClusterStatusResponse{NodeId: "n1", LeaderId: "n2", Term: 4,
			CommitIndex: 9, AppliedIndex: 9, ClusterId: "c-1", Nodes: nodes}},
		{addr: "127.0.0.1:7002", err: errors.New("connection refused")},
		{addr: "127.0.0.1:7003", status: &tmv1.GetClusterStatusResponse{NodeId: "n3", Term: 5, AppliedIndex: 7,
			ClusterId: "c-1", Nodes: nodes}},
	}
	var b bytes.Buffer
	if err := formatStatus(&b, buildStatus(views)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	hasRow(t, out, "leader:", "n2", "(127.0.0.1:7002),", "did", "not", "answer:", "lag", "unknown")
	hasRow(t, out, "n1", "127.0.0.1:7001", "-", "follower", "yes", "4", "9", "-")
	hasRow(t, out, "n2", "127.0.0.1:7002", "-", "unreachable", "yes", "-", "-", "-")
	hasRow(t, out, "n3", "127.0.0.1:7003", "-", "no-leader", "yes", "5", "7", "-")
}

func TestReferenceViewPrefersTheNewestLeader(t *testing.T) {
	views := []nodeView{
		{addr: "a", status: &tmv1.GetClusterStatusResponse{NodeId: "n3", LeaderId: "n1", Term: 7}},
		{addr: "b", status: &tmv1.GetClusterStatusResponse{NodeId: "n1", LeaderId: "n1", Term: 6}}, // deposed
		{addr: "c", status: &tmv1.GetClusterStatusResponse{NodeId: "n2", LeaderId: "n2", Term: 7}},
	}
	if got := referenceView(views); got.GetNodeId() != "n2" {
		t.Errorf("reference = %s, want n2 (the leader of term 7)", got.GetNodeId())
	}
	st := buildStatus(views)
	if st.leaderID != "n2" {
		t.Errorf("leader = %s", st.leaderID)
	}
	if referenceView([]nodeView{{addr: "a", err: errors.New("down")}}) != nil {
		t.Error("a reference view with no answer")
	}
}

func TestFormatWatchLine(t *testing.T) {
	at := time.Date(2026, 11, 26, 9, 30, 1, 234_000_000, time.UTC)
	got := formatWatchLine(at, sampleTx())
	want := `2026-11-26T09:30:01.234Z  tx-1  ABORTED  completed=no  debit@bank-a=ABORTED credit@bank-b=VOTED_NO  abort_reason="bank-b voted NO"`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	tx := &tmv1.Transaction{TxId: "tx-9", State: tmv1.TransactionState_TRANSACTION_STATE_COMMITTED, Completed: true,
		AbortReason: "two\nlines"}
	for i := range 6 {
		st := tmv1.BranchState_BRANCH_STATE_COMMITTED
		if i == 5 {
			st = tmv1.BranchState_BRANCH_STATE_HEURISTIC_HAZARD
		}
		tx.Branches = append(tx.Branches, &tmv1.Branch{BranchId: "b", State: st})
	}
	got = formatWatchLine(at, tx)
	want = `2026-11-26T09:30:01.234Z  tx-9  COMMITTED  completed=yes  6 branches: 5 COMMITTED, 1 HEURISTIC_HAZARD  abort_reason="two\nlines"`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := branchSummary(nil); got != "no branches" {
		t.Errorf("branchSummary(nil) = %q", got)
	}
}

func TestFormatTxListPrintsNextPage(t *testing.T) {
	var b bytes.Buffer
	if err := formatTxList(&b, txListing{txs: []*tmv1.Transaction{sampleTx()}, next: "tok-2", more: true}); err != nil {
		t.Fatal(err)
	}
	hasRow(t, b.String(), "tx-1", "ABORTED", "no", "2", "2026-01-02T03:04:05Z", "bank-b", "voted", "NO")
	if !strings.Contains(b.String(), "next page token tok-2") {
		t.Errorf("next page token missing:\n%s", b.String())
	}
}

func TestWriteJSONIsOneParsableLinePerMessage(t *testing.T) {
	var b bytes.Buffer
	in := &tmv1.GetTransactionResponse{Transaction: sampleTx()}
	if err := writeJSON(&b, in); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), "\n"); n != 1 {
		t.Fatalf("%d lines, want 1: %s", n, b.String())
	}
	var got tmv1.GetTransactionResponse
	if err := protojson.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&got, in) {
		t.Errorf("round trip = %v, want %v", &got, in)
	}
	if !strings.Contains(b.String(), `"completed":`) {
		t.Errorf("zero fields must be emitted for scripts: %s", b.String())
	}
}

func TestParseState(t *testing.T) {
	for in, want := range map[string]tmv1.TransactionState{
		"":          tmv1.TransactionState_TRANSACTION_STATE_UNSPECIFIED,
		"committed": tmv1.TransactionState_TRANSACTION_STATE_COMMITTED,
		"PREPARING": tmv1.TransactionState_TRANSACTION_STATE_PREPARING,
		"active":    tmv1.TransactionState_TRANSACTION_STATE_ACTIVE,
		"aborted":   tmv1.TransactionState_TRANSACTION_STATE_ABORTED,
	} {
		if got, err := parseState(in); err != nil || got != want {
			t.Errorf("parseState(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"done", "unspecified"} {
		if _, err := parseState(bad); err == nil {
			t.Errorf("parseState(%q) accepted", bad)
		}
	}
}
