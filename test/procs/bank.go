package procs

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	bankv1 "github.com/tmcluster/tmcluster/proto/bank/v1"
)

// BankConfig describes one bankd participant.
type BankConfig struct {
	// Name is the process's name, its data dir's and its log's, and the
	// natural participant name to register it under ("bank-a").
	Name string
	// Accounts is the number of accounts, acct-0 … acct-(Accounts-1).
	Accounts int
	// InitialBalance is every account's balance when the ledger is created.
	InitialBalance int64
	// Args are extra bankd flags, appended after the ones the harness sets.
	Args []string
}

// Bank is one bankd process.
type Bank struct {
	*Proc
	// Config is what the bank was started with; Name() is Config.Name.
	Config BankConfig
	// Addr is the host:port it listens on: the participant target to
	// register.
	Addr string
	// DataDir holds its ledger and 2PC store.
	DataDir string

	connOnce sync.Once
	conn     *grpc.ClientConn
	connErr  error
}

// StartBank starts a bankd on a free port and waits until its health check
// is SERVING. It does not register it with the cluster.
func (c *Cluster) StartBank(ctx context.Context, cfg BankConfig) (*Bank, error) {
	if c.isStopped() {
		return nil, ErrStopped
	}
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	b := &Bank{Config: cfg, Addr: loopback(ports[0]), DataDir: filepath.Join(c.cfg.Dir, cfg.Name)}
	args := []string{"--listen", b.Addr, "--data-dir", b.DataDir,
		"--accounts", strconv.Itoa(cfg.Accounts), "--initial-balance", strconv.FormatInt(cfg.InitialBalance, 10)}
	b.Proc = c.newProc(cfg.Name, "bankd", append(args, cfg.Args...))
	b.ready = b.serving
	c.mu.Lock()
	for _, o := range c.banks {
		if o.Name() == cfg.Name {
			c.mu.Unlock()
			return nil, fmt.Errorf("procs: bank %s started twice", cfg.Name)
		}
	}
	c.banks = append(c.banks, b)
	c.mu.Unlock()
	if err := b.start(); err != nil {
		return nil, err
	}
	return b, b.waitReady(ctx)
}

// Banks returns the banks in the order they were started.
func (c *Cluster) Banks() []*Bank {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.banks)
}

// dial returns the bank's connection, made on first use (see Node.dial).
func (b *Bank) dial() (*grpc.ClientConn, error) {
	b.connOnce.Do(func() { b.conn, b.connErr = dialLoopback(b.Addr) })
	return b.conn, b.connErr
}

// close closes the bank's connection, if one was made.
func (b *Bank) close() error {
	b.connOnce.Do(func() { b.connErr = ErrStopped })
	if b.conn == nil {
		return nil
	}
	return b.conn.Close()
}

// serving polls until the bank's health check answers SERVING.
func (b *Bank) serving(ctx context.Context) error {
	conn, err := b.dial()
	if err != nil {
		return err
	}
	hc := healthpb.NewHealthClient(conn)
	return poll(ctx, 50*time.Millisecond, func() error {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		resp, err := hc.Check(cctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			return err
		}
		if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("health is %v", resp.GetStatus())
		}
		return nil
	})
}

// Ledger returns the bank's balances and branch counts.
func (b *Bank) Ledger(ctx context.Context) (*bankv1.GetLedgerResponse, error) {
	conn, err := b.dial()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return bankv1.NewBankServiceClient(conn).GetLedger(ctx, &bankv1.GetLedgerRequest{})
}

// Branches pages through ListBranches and returns every branch the bank
// knows, in (tx_id, branch_id) order.
func (b *Bank) Branches(ctx context.Context) ([]*bankv1.BranchRecord, error) {
	conn, err := b.dial()
	if err != nil {
		return nil, err
	}
	bc := bankv1.NewBankServiceClient(conn)
	var out []*bankv1.BranchRecord
	req := &bankv1.ListBranchesRequest{PageSize: 1000}
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err := bc.ListBranches(cctx, req)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("%s: ListBranches: %w", b.Name(), err)
		}
		out = append(out, resp.GetBranches()...)
		if resp.GetNextPageToken() == "" {
			return out, nil
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

// BranchesOf returns the branches the bank knows of the given
// transactions (ListBranches with tx_ids, 1000 ids a call).
func (b *Bank) BranchesOf(ctx context.Context, txIDs []string) ([]*bankv1.BranchRecord, error) {
	conn, err := b.dial()
	if err != nil {
		return nil, err
	}
	bc := bankv1.NewBankServiceClient(conn)
	var out []*bankv1.BranchRecord
	for ids := range slices.Chunk(txIDs, 1000) {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err := bc.ListBranches(cctx, &bankv1.ListBranchesRequest{TxIds: ids})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("%s: ListBranches: %w", b.Name(), err)
		}
		out = append(out, resp.GetBranches()...)
	}
	return out, nil
}

// Total returns the sum of a ledger's balances.
func Total(l *bankv1.GetLedgerResponse) int64 {
	var sum int64
	for _, a := range l.GetAccounts() {
		sum += a.GetBalance()
	}
	return sum
}

// WaitQuiescent polls every bank's ledger every interval until none has a
// pending branch (prepared, not yet committed or aborted), and returns the
// ledgers in Banks order. It waits at most ctx; on timeout the error names
// the banks still pending.
func (c *Cluster) WaitQuiescent(ctx context.Context, interval time.Duration) ([]*bankv1.GetLedgerResponse, error) {
	banks := c.Banks()
	ledgers := make([]*bankv1.GetLedgerResponse, len(banks))
	err := poll(ctx, interval, func() error {
		for i, b := range banks {
			l, err := b.Ledger(ctx)
			if err != nil {
				return fmt.Errorf("%s: GetLedger: %w", b.Name(), err)
			}
			ledgers[i] = l
			if n := l.GetPendingBranches(); n > 0 {
				return fmt.Errorf("%s has %d pending branches", b.Name(), n)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("procs: not quiescent: %w", err)
	}
	return ledgers, nil
}
