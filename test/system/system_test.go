// Package system_test is the system tier: it builds tmd and bankd, runs
// them as processes on 127.0.0.1 through test/procs, and checks the
// invariants from the outside, through the SDK and the banks' ledgers.
package system_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tmcluster/tmcluster/client"
	"github.com/tmcluster/tmcluster/test/procs"
	"github.com/tmcluster/tmcluster/test/testbin"
)

// The workload: bounded in count and time.
const (
	numTransfers   = 100
	concurrency    = 8
	accounts       = 10
	initialBalance = 1000
	maxAmount      = 400
	txTimeout      = 3 * time.Second
	testBudget     = 60 * time.Second // after the build
)

// startCluster starts 3 tmd nodes and two banks from bin and registers the
// banks.
// Everything is stopped at cleanup; on failure the logs' tails are logged.
func startCluster(ctx context.Context, t *testing.T, bin string) (*procs.Cluster, *client.Client) {
	t.Helper()
	cl, err := procs.New(procs.Config{BinDir: bin, Dir: t.TempDir(),
		ReadyTimeout: 20 * time.Second, StopTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cl.Stop(); err != nil {
			t.Errorf("stopping the processes: %v", err)
		}
		if t.Failed() {
			t.Logf("process logs (scratch folder %s):\n%s", cl.Dir(), cl.LogTails(40))
		}
	})
	if err := cl.Start(ctx); err != nil {
		t.Fatalf("start cluster: %v", err)
	}
	for _, name := range []string{"bank-a", "bank-b"} {
		if _, err := cl.StartBank(ctx, procs.BankConfig{Name: name, Accounts: accounts, InitialBalance: initialBalance}); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
	}
	c, err := client.New(client.Config{Endpoints: cl.Endpoints(), MaxRetryElapsed: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	for _, b := range cl.Banks() {
		if _, err := c.RegisterParticipant(ctx, b.Name(), b.Addr); err != nil {
			t.Fatalf("register %s: %v", b.Name(), err)
		}
	}
	return cl, c
}

// transfer is one payment and what the client was told about it.
type transfer struct {
	from, to         string
	fromAcct, toAcct string
	amount           int64
	key              string
	res              *client.Result
	err              error
}

// request builds the transfer's one-shot transaction.
func (tr *transfer) request() client.ExecuteRequest {
	debit, _ := json.Marshal(map[string]any{"account": tr.fromAcct, "amount": -tr.amount})
	credit, _ := json.Marshal(map[string]any{"account": tr.toAcct, "amount": tr.amount})
	return client.ExecuteRequest{
		Branches: []client.Branch{
			{ID: "debit", Participant: tr.from, Payload: debit},
			{ID: "credit", Participant: tr.to, Payload: credit},
		},
		IdempotencyKey: tr.key,
		Timeout:        txTimeout,
	}
}

// TestTransfersSurviveLeaderKill runs transfers between two banks while the
// leader is SIGKILLed and restarted, then checks conservation, quiescence,
// durability of every reported commit, atomicity across the banks, and
// exactly-once effects on the balances.
func TestTransfersSurviveLeaderKill(t *testing.T) {
	if testing.Short() {
		t.Skip("system test: builds the binaries and runs processes")
	}
	bin := testbin.Build(t)
	ctx, cancel := context.WithTimeout(context.Background(), testBudget)
	defer cancel()
	cl, c := startCluster(ctx, t, bin)
	transfers := plan(numTransfers)

	halfway := make(chan struct{})
	killed := make(chan error, 1)
	go func() { killed <- killAndRestartLeader(ctx, t, cl, halfway) }()
	runAll(ctx, c, transfers, halfway)
	if err := <-killed; err != nil {
		t.Fatalf("leader failover: %v", err)
	}
	if err := cl.WaitAllKnowLeader(ctx); err != nil {
		t.Fatal(err)
	}
	qstart := time.Now()
	qctx, qcancel := context.WithTimeout(ctx, 30*time.Second)
	ledgers, err := cl.WaitQuiescent(qctx, 200*time.Millisecond)
	qcancel()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("banks quiescent after %v", time.Since(qstart).Round(time.Millisecond))
	summarize(t, transfers)
	checkConservation(t, ledgers)
	checkCommittedDurable(ctx, t, c, transfers)
	checkBanksAgree(ctx, t, cl, transfers)
	checkBalances(t, ledgers, transfers)
}

// runAll executes the transfers, concurrency at a time, closing halfway
// once half of them have an answer.
func runAll(ctx context.Context, c *client.Client, transfers []*transfer, halfway chan<- struct{}) {
	work := make(chan *transfer)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for tr := range work {
				tr.res, tr.err = c.Execute(ctx, tr.request())
				mu.Lock()
				if done++; done == len(transfers)/2 {
					close(halfway)
				}
				mu.Unlock()
			}
		}()
	}
	for _, tr := range transfers {
		work <- tr
	}
	close(work)
	wg.Wait()
}

// killAndRestartLeader SIGKILLs the leader once halfway is closed, waits for
// another node to lead, and restarts the killed node on its data dir.
func killAndRestartLeader(ctx context.Context, t *testing.T, cl *procs.Cluster, halfway <-chan struct{}) error {
	select {
	case <-halfway:
	case <-ctx.Done():
		return ctx.Err()
	}
	old, err := cl.Leader(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := old.Kill(); err != nil {
		return err
	}
	next, err := cl.AwaitLeader(ctx, procs.LeaderPoll, old.ID)
	if err != nil {
		return err
	}
	t.Logf("killed leader %s; %s leads after %v", old.ID, next.ID, time.Since(start).Round(time.Millisecond))
	if err := old.Restart(ctx); err != nil {
		return err
	}
	t.Logf("%s restarted", old.ID)
	return nil
}

// newKey returns a fresh UUIDv7 idempotency key.
func newKey() string { return uuid.Must(uuid.NewV7()).String() }
