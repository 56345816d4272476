package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/tmcluster/tmcluster/client"
	bankv1 "github.com/tmcluster/tmcluster/proto/bank/v1"
	"github.com/tmcluster/tmcluster/test/procs"
)

// The demo's banks: two participants with the same accounts.
const (
	bankAccounts   = 10
	initialBalance = 1000
	// bankA and bankB are the processes' and the registered participants'
	// names.
	bankA = "bank-a"
	bankB = "bank-b"
)

// env is what the demo runs against.
type env struct {
	cluster *procs.Cluster
	client  *client.Client
	banks   []*procs.Bank
}

// setUp starts 3 tmd nodes and the two banks, and registers the banks.
// When env is not nil the caller must stop its cluster, even on error.
func setUp(ctx context.Context, o *options, stderr io.Writer) (*env, error) {
	cl, err := procs.New(procs.Config{BinDir: o.bin, Dir: o.dir})
	if err != nil {
		return nil, err
	}
	e := &env{cluster: cl}
	fmt.Fprintln(stderr, "tmdemo: starting 3 tmd nodes")
	if err := cl.Start(ctx); err != nil {
		return e, fmt.Errorf("starting the cluster: %w", err)
	}
	leader, err := cl.Leader(ctx)
	if err != nil {
		return e, err
	}
	fmt.Fprintf(stderr, "tmdemo: cluster up, leader %s at %s\n", leader.ID, leader.GRPCAddr)
	for _, name := range []string{bankA, bankB} {
		b, err := cl.StartBank(ctx, procs.BankConfig{Name: name, Accounts: bankAccounts, InitialBalance: initialBalance})
		if err != nil {
			return e, fmt.Errorf("starting %s: %w", name, err)
		}
		e.banks = append(e.banks, b)
	}
	e.client, err = client.New(client.Config{Endpoints: cl.Endpoints(), MaxRetryElapsed: 30 * time.Second})
	if err != nil {
		return e, err
	}
	for _, b := range e.banks {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := e.client.RegisterParticipant(rctx, b.Name(), b.Addr)
		cancel()
		if err != nil {
			e.client.Close()
			return e, fmt.Errorf("registering %s: %w", b.Name(), err)
		}
		fmt.Fprintf(stderr, "tmdemo: %s registered at %s (%d accounts of %d)\n",
			b.Name(), b.Addr, bankAccounts, initialBalance)
	}
	return e, nil
}

// ledgers reads both banks' ledgers.
func (e *env) ledgers(ctx context.Context) ([]*bankv1.GetLedgerResponse, error) {
	var out []*bankv1.GetLedgerResponse
	for _, b := range e.banks {
		l, err := b.Ledger(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: GetLedger: %w", b.Name(), err)
		}
		out = append(out, l)
	}
	return out, nil
}

// money returns the sum of every balance at both banks.
func (e *env) money(ctx context.Context) (int64, error) {
	ls, err := e.ledgers(ctx)
	if err != nil {
		return 0, err
	}
	return sumLedgers(ls), nil
}

// sumLedgers adds up every balance of the ledgers.
func sumLedgers(ls []*bankv1.GetLedgerResponse) int64 {
	var sum int64
	for _, l := range ls {
		sum += procs.Total(l)
	}
	return sum
}
