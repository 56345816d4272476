// Package readme_test keeps the README's tour true: it builds tmd, bankd,
// tmctl and the grpcurl pinned in tools/go.mod, starts the cluster and
// banks the tour starts (on free ports, through test/procs), and runs the
// tour's commands with the README's fixed addresses and paths replaced by
// the real ones. A command it does not know fails the test, so a new tour
// line comes with its check.
package readme_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/tmcluster/tmcluster/client"
	bankv1 "github.com/tmcluster/tmcluster/proto/bank/v1"
	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	"github.com/tmcluster/tmcluster/test/procs"
)

const (
	repoRoot   = "../.."
	testBudget = 60 * time.Second // after the build
	cmdTimeout = 20 * time.Second // one README command
)

// TestReadmeTour runs the README's tour against real processes.
func TestReadmeTour(t *testing.T) {
	if testing.Short() {
		t.Skip("system test: builds the binaries and runs processes")
	}
	raw, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	cmds, err := tourCommands(readme)
	if err != nil {
		t.Fatal(err)
	}
	bin := buildBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), testBudget)
	defer cancel()
	tr := startTour(ctx, t, bin, readme, cmds)
	for _, cmd := range cmds {
		if t.Failed() {
			return
		}
		tr.step(ctx, cmd)
	}
	for _, kind := range []string{"register", "status", "execute", "tx get", "tx list", "ledger", "grpcurl watch", "tmctl watch"} {
		if !tr.seen[kind] {
			t.Errorf("the README tour has no %s command any more: update this test with it", kind)
		}
	}
}

// buildBinaries builds tmd, bankd and tmctl, and grpcurl as pinned in
// tools/go.mod, into a temporary folder, the two builds in parallel.
func buildBinaries(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	start := time.Now()
	builds := [][]string{
		{"build", "-o", dir + string(filepath.Separator), "./cmd/tmd", "./cmd/bankd", "./cmd/tmctl"},
		{"build", "-modfile=tools/go.mod", "-o", filepath.Join(dir, "grpcurl"), "github.com/fullstorydev/grpcurl/cmd/grpcurl"},
	}
	errs := make([]error, len(builds))
	var wg sync.WaitGroup
	for i, args := range builds {
		wg.Go(func() {
			cmd := exec.Command("go", args...)
			cmd.Dir = repoRoot
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("built tmd, bankd, tmctl and grpcurl in %v", time.Since(start).Round(time.Millisecond))
	return dir
}

// tour is the state of one run through the README's tour.
type tour struct {
	t      *testing.T
	readme string
	bin    string
	env    []string // PATH starts with bin, so "grpcurl" is the pinned one
	rw     *rewriter
	cl     *procs.Cluster
	sdk    *client.Client
	banks  map[string]readmeBank // by the README's address
	seen   map[string]bool       // the kinds of command run

	// From the payment: what each branch moved, per participant and
	// account.
	moved map[string]map[string]int64
	// paid are the tx ids of the payments made so far.
	paid []string
}

// readmeBank is a bankd as the README starts it.
type readmeBank struct {
	name           string // the base of its --data-dir, its participant name
	accounts       int
	initialBalance int64
}

// startTour starts the nodes and banks the README's tour starts, with the
// same ids, names and ledgers, on free ports.
func startTour(ctx context.Context, t *testing.T, bin, readme string, cmds []string) *tour {
	t.Helper()
	cl, err := procs.New(procs.Config{BinDir: bin, Dir: t.TempDir(), ReadyTimeout: 20 * time.Second, StopTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cl.Stop(); err != nil {
			t.Errorf("stopping the processes: %v", err)
		}
		if t.Failed() {
			t.Logf("process logs (scratch folder %s):\n%s", cl.Dir(), cl.LogTails(30))
		}
	})
	if err := cl.Start(ctx); err != nil {
		t.Fatalf("start cluster: %v", err)
	}
	tr := &tour{t: t, readme: readme, bin: bin, cl: cl, banks: map[string]readmeBank{}, seen: map[string]bool{},
		env: append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH")),
		rw:  &rewriter{addrs: map[string]string{}, bin: bin, scratch: cl.Dir()}}
	for _, cmd := range cmds {
		switch {
		case strings.HasPrefix(cmd, "bin/tmd "):
			n := cl.Node(flagValue(cmd, "id"))
			if n == nil {
				t.Fatalf("README starts node %q; the test starts %v", flagValue(cmd, "id"), cl.Endpoints())
			}
			tr.rw.addrs[flagValue(cmd, "grpc-addr")] = n.GRPCAddr
			tr.rw.addrs[flagValue(cmd, "raft-addr")] = n.RaftAddr
		case strings.HasPrefix(cmd, "bin/bankd "):
			b := readmeBank{name: filepath.Base(flagValue(cmd, "data-dir"))}
			b.accounts, _ = strconv.Atoi(flagValue(cmd, "accounts"))
			b.initialBalance, _ = strconv.ParseInt(flagValue(cmd, "initial-balance"), 10, 64)
			if b.accounts == 0 || b.initialBalance == 0 {
				t.Fatalf("README bankd line without --accounts and --initial-balance: %s", cmd)
			}
			started, err := cl.StartBank(ctx, procs.BankConfig{Name: b.name, Accounts: b.accounts, InitialBalance: b.initialBalance})
			if err != nil {
				t.Fatalf("start %s: %v", b.name, err)
			}
			tr.rw.addrs[flagValue(cmd, "listen")] = started.Addr
			tr.banks[flagValue(cmd, "listen")] = b
		}
	}
	if tr.sdk, err = client.New(client.Config{Endpoints: cl.Endpoints(), MaxRetryElapsed: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.sdk.Close() })
	return tr
}

// step checks or runs one README command, by what it is.
func (tr *tour) step(ctx context.Context, cmd string) {
	t := tr.t
	t.Helper()
	switch {
	case cmd == "make build":
		// The test built the binaries itself.
	case strings.HasPrefix(cmd, "bin/tmd "), strings.HasPrefix(cmd, "bin/bankd "):
		tr.checkFlags(cmd) // started through procs, on free ports
	case regexp.MustCompile(`^bin/tmctl .*participants add `).MatchString(cmd):
		tr.seen["register"] = true
		tr.run(ctx, cmd)
	case regexp.MustCompile(`^bin/tmctl .* status$`).MatchString(cmd):
		tr.seen["status"] = true
		tr.checkStatus(tr.run(ctx, cmd))
	case strings.HasPrefix(cmd, "grpcurl ") && strings.HasSuffix(cmd, "tm.v1.TransactionService/ExecuteTransaction"):
		tr.seen["execute"] = true
		tr.checkPayment(tr.run(ctx, cmd))
	case regexp.MustCompile(`^bin/tmctl .* tx get <tx_id>$`).MatchString(cmd):
		tr.seen["tx get"] = true
		tr.checkTxGet(tr.run(ctx, cmd))
	case regexp.MustCompile(`^bin/tmctl .* tx list --state committed$`).MatchString(cmd):
		tr.seen["tx list"] = true
		if out := tr.run(ctx, cmd); !strings.Contains(out, tr.rw.txID) {
			t.Errorf("%s does not list %s:\n%s", cmd, tr.rw.txID, out)
		}
	case strings.HasPrefix(cmd, "grpcurl ") && strings.HasSuffix(cmd, "bank.v1.BankService/GetLedger"):
		tr.seen["ledger"] = true
		tr.checkLedger(ctx, cmd)
	case strings.HasPrefix(cmd, "grpcurl ") && strings.HasSuffix(cmd, "tm.v1.TransactionService/WatchTransactions"):
		tr.seen["grpcurl watch"] = true
		tr.watch(ctx, cmd, firstJSONEvent)
	case regexp.MustCompile(`^bin/tmctl .* tx watch`).MatchString(cmd):
		tr.seen["tmctl watch"] = true
		tr.watch(ctx, cmd, firstLineEvent)
	default:
		t.Errorf("README tour command the test does not know; add a check for it:\n%s", cmd)
	}
}

// run runs a README command through sh, rewritten, and returns its stdout;
// a non-zero exit fails the test.
func (tr *tour) run(ctx context.Context, cmd string) string {
	t := tr.t
	t.Helper()
	line, err := tr.rw.rewrite(cmd)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	c := exec.CommandContext(ctx, "sh", "-c", line)
	c.Dir, c.Env = tr.cl.Dir(), tr.env
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		t.Fatalf("README command failed (%v):\n%s\nrun as:\n%s\nstdout:\n%s\nstderr:\n%s", err, cmd, line, stdout.String(), stderr.String())
	}
	t.Logf("$ %s\n%s", cmd, stdout.String())
	return stdout.String()
}

// checkFlags checks that every flag of a README tmd or bankd line is one
// the binary has.
func (tr *tour) checkFlags(cmd string) {
	bin := strings.TrimPrefix(strings.Fields(cmd)[0], "bin/")
	help, _ := exec.Command(filepath.Join(tr.bin, bin), "-h").CombinedOutput() // flag's -h exits 2
	for _, name := range flagNames(cmd) {
		if !regexp.MustCompile(`(?m)^\s+--?` + regexp.QuoteMeta(name) + `(\s|$)`).Match(help) {
			tr.t.Errorf("README runs %s with --%s, which it does not have:\n%s\n%s -h:\n%s", bin, name, cmd, bin, help)
		}
	}
}

// checkStatus checks that tmctl status shows a leader and every node.
func (tr *tour) checkStatus(out string) {
	for _, n := range tr.cl.Nodes() {
		if !regexp.MustCompile(`(?m)^` + n.ID + `\s+` + regexp.QuoteMeta(n.GRPCAddr) + `\s.*\s(leader|follower)\s`).MatchString(out) {
			tr.t.Errorf("status has no row for %s at %s as leader or follower:\n%s", n.ID, n.GRPCAddr, out)
		}
	}
	if !regexp.MustCompile(`(?m)^leader:\s+n\d`).MatchString(out) {
		tr.t.Errorf("status names no leader:\n%s", out)
	}
}

// checkPayment checks grpcurl's ExecuteTransaction reply: COMMITTED, a tx
// id, and branch payloads as the README describes them; it records what
// each branch moves for the ledger checks.
func (tr *tour) checkPayment(out string) {
	t := tr.t
	var resp tmv1.ExecuteTransactionResponse
	if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("ExecuteTransaction reply is not a response: %v\n%s", err, out)
	}
	tx := resp.GetTransaction()
	if tx.GetState() != tmv1.TransactionState_TRANSACTION_STATE_COMMITTED || tx.GetTxId() == "" {
		t.Fatalf("the README payment is %v (%s), want COMMITTED with a tx id", tx.GetState(), tx.GetAbortReason())
	}
	tr.rw.txID = tx.GetTxId()
	tr.paid = append(tr.paid, tx.GetTxId())
	tr.moved = map[string]map[string]int64{}
	var amounts []int64
	for i, b := range tx.GetBranches() {
		var p struct {
			Account string `json:"account"`
			Amount  int64  `json:"amount"`
		}
		if err := json.Unmarshal(b.GetPayload(), &p); err != nil {
			t.Fatalf("branch %s payload %q: %v", b.GetBranchId(), b.GetPayload(), err)
		}
		if i == 0 && !strings.Contains(tr.readme, "`"+string(b.GetPayload())+"`") {
			t.Errorf("the README's words for the payload, not %s, are out of date", b.GetPayload())
		}
		if tr.moved[b.GetParticipant()] == nil {
			tr.moved[b.GetParticipant()] = map[string]int64{}
		}
		tr.moved[b.GetParticipant()][p.Account] += p.Amount
		amounts = append(amounts, p.Amount)
	}
	if fmt.Sprint(amounts) != "[-250 250]" {
		t.Errorf("the README payment moves %v, want 250 from one account to another", amounts)
	}
}

// checkTxGet checks tmctl tx get: the committed transaction, its branches.
func (tr *tour) checkTxGet(out string) {
	if !regexp.MustCompile(`(?m)^tx id:\s+`+regexp.QuoteMeta(tr.rw.txID)+`$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^state:\s+COMMITTED$`).MatchString(out) {
		tr.t.Errorf("tx get does not show %s COMMITTED:\n%s", tr.rw.txID, out)
	}
	for participant := range tr.moved {
		if !regexp.MustCompile(`\s` + regexp.QuoteMeta(participant) + `\s+(PREPARED|COMMITTED)\s`).MatchString(out) {
			tr.t.Errorf("tx get shows no prepared or committed branch of %s:\n%s", participant, out)
		}
	}
}

// checkLedger runs a GetLedger line until the bank's balances show the
// payment (phase two may still be on its way when the reply comes), then
// checks them: each account the payment touched moved by its amount, the
// others are untouched.
func (tr *tour) checkLedger(ctx context.Context, cmd string) {
	t := tr.t
	bank, ok := tr.banks[loopbackAddr.FindString(cmd)]
	if !ok {
		t.Fatalf("GetLedger of an address that is no README bank: %s", cmd)
	}
	want := map[string]int64{}
	for i := range bank.accounts {
		want["acct-"+strconv.Itoa(i)] = bank.initialBalance
	}
	for acct, amount := range tr.moved[bank.name] {
		want[acct] += amount
	}
	if len(tr.moved[bank.name]) == 0 {
		t.Errorf("the README payment has no branch at %s, whose ledger it shows", bank.name)
	}
	var got map[string]int64
	deadline := time.Now().Add(10 * time.Second)
	for {
		var l bankv1.GetLedgerResponse
		out := tr.run(ctx, cmd)
		if err := protojson.Unmarshal([]byte(out), &l); err != nil {
			t.Fatalf("GetLedger reply: %v\n%s", err, out)
		}
		got = map[string]int64{}
		for _, a := range l.GetAccounts() {
			got[a.GetId()] = a.GetBalance()
		}
		if fmt.Sprint(got) == fmt.Sprint(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s ledger = %v, want %v (the payment's %v)", bank.name, got, want, tr.moved[bank.name])
	}
}
