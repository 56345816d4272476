package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/schollz/progressbar/v3"

	"github.com/tmcluster/tmcluster/client"
	"github.com/tmcluster/tmcluster/test/procs"
)

// maxAmount is the largest transfer: with balances of 1000 some debits
// overdraw and the bank votes NO.
const maxAmount = 400

// transfer moves amount from one bank's account to the other bank's.
type transfer struct {
	from, to         string // participant names
	fromAcct, toAcct string
	amount           int64
}

// plan draws n transfers from seed, in both directions.
func plan(seed uint64, n int) []transfer {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]transfer, n)
	for i := range out {
		t := transfer{from: bankA, to: bankB, amount: 1 + rng.Int64N(maxAmount),
			fromAcct: fmt.Sprintf("acct-%d", rng.IntN(bankAccounts)),
			toAcct:   fmt.Sprintf("acct-%d", rng.IntN(bankAccounts))}
		if rng.IntN(2) == 1 {
			t.from, t.to = bankB, bankA
		}
		out[i] = t
	}
	return out
}

// payload is a bankd branch payload.
type payload struct {
	Account string `json:"account"`
	Amount  int64  `json:"amount"`
}

// request turns t into a one-shot transaction: a debit branch at one bank
// and a credit branch at the other, with a fresh idempotency key.
func (t transfer) request(timeout time.Duration) client.ExecuteRequest {
	debit, _ := json.Marshal(payload{Account: t.fromAcct, Amount: -t.amount})
	credit, _ := json.Marshal(payload{Account: t.toAcct, Amount: t.amount})
	return client.ExecuteRequest{
		Branches: []client.Branch{
			{ID: "debit", Participant: t.from, Payload: debit},
			{ID: "credit", Participant: t.to, Payload: credit},
		},
		IdempotencyKey: uuid.Must(uuid.NewV7()).String(),
		Timeout:        timeout,
	}
}

// tally counts what the client was told.
type tally struct {
	mu           sync.Mutex
	committed    int
	insufficient int // aborted: a debit would overdraw
	abortedOther int
	unknown      int // the SDK gave up with the outcome unknown
	errored      int // a final error, not an outcome
	samples      []string
}

// record files one transfer's result.
func (t *tally) record(res *client.Result, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case errors.Is(err, client.ErrOutcomeUnknown):
		t.unknown++
		t.sample("outcome unknown: " + err.Error())
	case err != nil:
		t.errored++
		t.sample("error: " + err.Error())
	case res.Outcome == client.OutcomeCommitted:
		t.committed++
	case strings.Contains(strings.ToLower(res.AbortReason), "insufficient funds"):
		t.insufficient++
	default:
		t.abortedOther++
		t.sample("aborted: " + res.AbortReason)
	}
}

// sample keeps the first few unusual results for the report.
func (t *tally) sample(s string) {
	if len(t.samples) < 5 {
		t.samples = append(t.samples, s)
	}
}

// runTransfers runs o.transfers transfers, o.concurrency at a time, with a
// progress bar on stderr, and kills the leader once half are done.
func runTransfers(ctx context.Context, e *env, o *options, stderr io.Writer) (*tally, failover) {
	transfers := plan(o.seed, o.transfers)
	bar := progressbar.NewOptions(len(transfers),
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionSetDescription("transfers"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(stderr) }))
	halfway := make(chan struct{})
	fo := make(chan failover, 1)
	go func() { fo <- killLeader(ctx, e, halfway, bar) }()

	t := execAll(ctx, e, o, transfers, func(done int) {
		_ = bar.Add(1)
		if done == len(transfers)/2 {
			close(halfway)
		}
	})
	if ctx.Err() != nil {
		_ = bar.Exit() // keep the count where it stopped
	} else {
		_ = bar.Finish()
	}
	return t, <-fo
}

// failover is what happened when the demo killed the leader.
type failover struct {
	killed    string        // the leader's id when it was killed
	newLeader string        // the id of the node that took over
	gap       time.Duration // from the SIGKILL until a new leader answered
	restarted bool          // the killed node came back and knows the leader
	err       error         // why the failover could not be shown
}

// execAll runs the transfers on o.concurrency workers until all are done or
// ctx ends, and calls onDone (serialized) with the count done so far after
// each.
func execAll(ctx context.Context, e *env, o *options, transfers []transfer, onDone func(done int)) *tally {
	t := &tally{}
	work := make(chan transfer)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for range o.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for tr := range work {
				t.record(e.client.Execute(ctx, tr.request(o.txTimeout)))
				mu.Lock()
				done++
				onDone(done)
				mu.Unlock()
			}
		}()
	}
feed:
	for _, tr := range transfers {
		select {
		case work <- tr:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	return t
}

// killLeader waits until halfway is closed, SIGKILLs the leader, measures
// how long the cluster had no leader (polling GetClusterStatus every 50 ms
// until another node answers as leader), then restarts the killed node on
// its data dir. Transfers keep running throughout: the SDK retries through
// the other nodes.
func killLeader(ctx context.Context, e *env, halfway <-chan struct{}, bar *progressbar.ProgressBar) failover {
	select {
	case <-halfway:
	case <-ctx.Done():
		return failover{err: ctx.Err()}
	}
	old, err := e.cluster.Leader(ctx)
	if err != nil {
		return failover{err: err}
	}
	f := failover{killed: old.ID}
	killedAt := time.Now()
	if err := old.Kill(); err != nil {
		f.err = err
		return f
	}
	bar.Describe(fmt.Sprintf("transfers · leader %s SIGKILLed", old.ID))
	next, err := e.cluster.AwaitLeader(ctx, procs.LeaderPoll, old.ID)
	if err != nil {
		f.err = err
		return f
	}
	f.gap, f.newLeader = time.Since(killedAt), next.ID
	bar.Describe(fmt.Sprintf("transfers · %s leads after %v", next.ID, f.gap.Round(time.Millisecond)))
	if err := old.Restart(ctx); err != nil {
		f.err = fmt.Errorf("restarting %s: %w", old.ID, err)
		return f
	}
	f.restarted = true
	bar.Describe(fmt.Sprintf("transfers · %s restarted", old.ID))
	return f
}
