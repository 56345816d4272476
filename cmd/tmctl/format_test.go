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

func TestFormatStatusShowsEachAskedNodesAppliedIndex(t *testing.T) {
	nodes := []*tmv1.Node{
		{Id: "n1", GrpcAddress: "127.0.0.1:7001", RaftAddress: "127.0.0.1:8001", Voter: true},
		{Id: "n2", GrpcAddress: "127.0.0.1:7002", RaftAddress: "127.0.0.1:8002", Leader: true, Voter: true},
		{Id: "n3", GrpcAddress: "127.0.0.1:7003", RaftAddress: "127.0.0.1:8003"},
	}
	view := func(id string, applied uint64) *tmv1.GetClusterStatusResponse {
		return &tmv1.GetClusterStatusResponse{NodeId: id, LeaderId: "n2", Nodes: nodes, Term: 4,
			CommitIndex: 99, AppliedIndex: applied, ClusterId: "c-1"}
	}
	views := []nodeView{
		{addr: "127.0.0.1:7001", status: view("n1", 97)},
		{addr: "127.0.0.1:7002", status: view("n2", 99)},
		{addr: "127.0.0.1:7003", err: errors.New("connection refused")},
	}
	var b bytes.Buffer
	if err := formatStatus(&b, views); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	hasRow(t, out, "leader:", "n2")
	hasRow(t, out, "applied", "index:", "99", "(node", "n2)") // the leader's view heads the table
	hasRow(t, out, "n1", "127.0.0.1:7001", "127.0.0.1:8001", "follower", "yes", "97")
	hasRow(t, out, "n2", "127.0.0.1:7002", "127.0.0.1:8002", "leader", "yes", "99")
	hasRow(t, out, "n3", "127.0.0.1:7003", "127.0.0.1:8003", "follower", "no", "unreachable")
}

func TestFormatTxListPrintsNextPage(t *testing.T) {
	var b bytes.Buffer
	if err := formatTxList(&b, []*tmv1.Transaction{sampleTx()}, "tok-2"); err != nil {
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
