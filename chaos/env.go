package chaos

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/tmcluster/tmcluster/client"
	bankv1 "github.com/tmcluster/tmcluster/proto/bank/v1"
	"github.com/tmcluster/tmcluster/test/procs"
)

// SDK settings of the workload's clients. An attempt waits at least the
// transaction timeout plus a second (the SDK's rule); a call retries
// unknown outcomes for at most opRetryBudget, so that an Execute caught in
// a full-cluster restart sometimes gives up: those are the UNKNOWN
// operations the tier retries later with their key.
const (
	opAttemptTimeout = 2 * time.Second
	opRetryBudget    = 6 * time.Second
	adminRetryBudget = 30 * time.Second
	readyTimeout     = 30 * time.Second
	stopTimeout      = 5 * time.Second
)

// env is the system under test: the processes and an operator's client.
type env struct {
	cfg     Config
	cluster *procs.Cluster
	banks   []*procs.Bank
	// admin follows the leader: registration and the checker's reads.
	admin *client.Client
}

// clusterDir is where the processes' logs and data dirs go.
func clusterDir(reportDir string) string { return filepath.Join(reportDir, "cluster") }

// setUp starts the nodes and the banks and registers the banks. When env is
// not nil the caller must call close, even on error.
func setUp(ctx context.Context, cfg Config) (*env, error) {
	args := append([]string{"--default-timeout", "5s"}, cfg.NodeArgs...)
	cl, err := procs.New(procs.Config{BinDir: cfg.BinDir, Dir: clusterDir(cfg.ReportDir), Nodes: cfg.Nodes,
		NodeArgs: args, ReadyTimeout: readyTimeout, StopTimeout: stopTimeout})
	if err != nil {
		return nil, err
	}
	e := &env{cfg: cfg, cluster: cl}
	if err := cl.Start(ctx); err != nil {
		return e, fmt.Errorf("starting the nodes: %w", err)
	}
	for i := range cfg.Banks {
		b, err := cl.StartBank(ctx, procs.BankConfig{Name: bankName(i), Accounts: cfg.Accounts,
			InitialBalance: cfg.InitialBalance})
		if err != nil {
			return e, fmt.Errorf("starting %s: %w", bankName(i), err)
		}
		e.banks = append(e.banks, b)
	}
	e.admin, err = client.New(client.Config{Endpoints: cl.Endpoints(), MaxRetryElapsed: adminRetryBudget})
	if err != nil {
		return e, err
	}
	for _, b := range e.banks {
		rctx, cancel := context.WithTimeout(ctx, adminRetryBudget)
		_, err := e.admin.RegisterParticipant(rctx, b.Name(), b.Addr)
		cancel()
		if err != nil {
			return e, fmt.Errorf("registering %s: %w", b.Name(), err)
		}
	}
	return e, nil
}

// close stops every process and closes the admin client.
func (e *env) close() error {
	if e.admin != nil {
		_ = e.admin.Close()
	}
	return e.cluster.Stop()
}

// clientVia returns a new SDK client whose first attempt goes to node i
// (then the others in turn, and wherever leader hints point). A client per
// operation keeps the entry node random: a long-lived client sticks to the
// node that answered last. The caller closes it.
func (e *env) clientVia(i int) (*client.Client, string, error) {
	nodes := e.cluster.Nodes()
	i %= len(nodes)
	var eps []string
	for k := range nodes {
		eps = append(eps, nodes[(i+k)%len(nodes)].GRPCAddr)
	}
	c, err := client.New(client.Config{Endpoints: eps, AttemptTimeout: opAttemptTimeout,
		MaxRetryElapsed: opRetryBudget})
	return c, nodes[i].ID, err
}

// ledgers reads every bank's ledger, in bank order.
func (e *env) ledgers(ctx context.Context) ([]*bankv1.GetLedgerResponse, error) {
	out := make([]*bankv1.GetLedgerResponse, len(e.banks))
	for i, b := range e.banks {
		l, err := b.Ledger(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: GetLedger: %w", b.Name(), err)
		}
		out[i] = l
	}
	return out, nil
}

// heal resumes every paused process and restarts every one that is not
// running (nodes all at once), then waits until every node knows the same
// leader. It is what each fault ends with, and what the end of the run
// starts with.
func (e *env) heal(ctx context.Context) error {
	for _, p := range e.cluster.Procs() {
		if p.Paused() {
			if err := p.Resume(); err != nil {
				return err
			}
		}
	}
	if slices.ContainsFunc(e.cluster.Nodes(), func(n *procs.Node) bool { return !n.Running() }) {
		if err := e.cluster.RestartNodes(ctx); err != nil {
			return err
		}
	}
	for _, b := range e.banks {
		if !b.Running() {
			if err := b.Restart(ctx); err != nil {
				return err
			}
		}
	}
	wctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	return e.cluster.WaitAllKnowLeader(wctx)
}
