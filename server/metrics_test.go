package server

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// The metrics a scrape shows after payments contain the expected counters.
func TestMetricsAfterPayments(t *testing.T) {
	c, _, _ := twoParticipants(t)
	lead := c.waitLeader()
	ctx := ctxT(t, 20*time.Second)
	if _, err := c.tx(lead).ExecuteTransaction(ctx, payment("")); err != nil {
		t.Fatal(err)
	}
	no := payment("")
	no.Branches[1].Payload = []byte("no")
	if _, err := c.tx(lead).ExecuteTransaction(ctx, no); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	c.nodes[lead].srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	text := string(body)
	for _, want := range []string{
		`tmcluster_transactions_decided_total{by="driver",outcome="committed"} 1`,
		`tmcluster_transactions_decided_total{by="driver",outcome="aborted"} 1`,
		`tmcluster_commit_latency_seconds_count 2`,
		`tmcluster_prepare_latency_seconds_count{participant="bank-a"} 2`,
		`tmcluster_is_leader 1`,
		"tmcluster_raft_term ",
		"tmcluster_raft_applied_index ",
		"tmcluster_fsm_transactions ",
		"tmcluster_leader_changes_total 1",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if t.Failed() {
		t.Log(text)
	}
	_ = tmv1.TransactionState_TRANSACTION_STATE_COMMITTED
}
