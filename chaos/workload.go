package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/tmcluster/tmcluster/client"
)

// opDeadlineSlack is added to opRetryBudget plus the transaction timeout
// to make the hard bound on one Execute call, retries included: the SDK
// stops retrying after opRetryBudget and lets the attempt in flight finish
// (at most the transaction timeout plus a second later), so the bound is
// only reached when something hangs.
const opDeadlineSlack = 10 * time.Second

// payload is a bankd branch payload. Its JSON encoding is deterministic, so
// a retried request has the same fingerprint.
type payload struct {
	Account string `json:"account"`
	Amount  int64  `json:"amount"`
}

// request builds the one-shot transaction of tr with key.
func (tr Transfer) request(key string, timeout time.Duration) client.ExecuteRequest {
	debit, _ := json.Marshal(payload{Account: tr.FromAcct, Amount: -tr.Amount})
	credit, _ := json.Marshal(payload{Account: tr.ToAcct, Amount: tr.Amount})
	return client.ExecuteRequest{
		Branches: []client.Branch{
			{ID: "debit", Participant: tr.FromBank, Payload: debit},
			{ID: "credit", Participant: tr.ToBank, Payload: credit},
		},
		IdempotencyKey: key,
		Timeout:        timeout,
	}
}

// workload runs the transfers and records them.
type workload struct {
	e       *env
	h       *History
	cfg     Config
	retries *retryQueue

	started   atomic.Int64
	committed atomic.Int64
	aborted   atomic.Int64
	unknown   atomic.Int64
	errored   atomic.Int64
	lastTold  atomic.Int64 // UnixNano of the end of the last operation told an outcome

	// pool, when set, holds one long-lived client per node that execute
	// uses instead of a client per operation: for the final
	// re-executions, once the cluster is healed and no endpoint fails.
	pool []*client.Client
}

// newWorkload returns a workload on e that records into h.
func newWorkload(e *env, h *History) *workload {
	return &workload{e: e, h: h, cfg: e.cfg, retries: newRetryQueue()}
}

// run starts cfg.Concurrency workers and the retrier, and returns once
// stop is closed (or ctx ends) and every call in flight has returned. Each
// worker starts a transfer only while stop is open and MaxOps is not
// reached; calls in flight are let finish, bounded by their own deadline,
// so stopping the load makes no artificial unknown outcome.
func (w *workload) run(ctx context.Context, stop <-chan struct{}) {
	var wg sync.WaitGroup
	for i := range w.cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.worker(ctx, stop, i+1)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.retrier(ctx, stop)
	}()
	wg.Wait()
}

// worker runs transfers one after another with its own seeded generator.
func (w *workload) worker(ctx context.Context, stop <-chan struct{}, id int) {
	rng := rand.New(rand.NewPCG(w.cfg.Seed, uint64(id)))
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		if w.started.Add(1) > int64(w.cfg.MaxOps) {
			return
		}
		tr := w.randomTransfer(rng)
		key := uuid.Must(uuid.NewV7()).String()
		op := w.execute(ctx, OpTransfer, id, key, tr, rng.IntN(w.cfg.Nodes))
		if op.Outcome == OutcomeUnknown {
			w.retries.add(key, tr, time.Now().Add(retryDelay(1)))
		}
	}
}

// randomTransfer draws a transfer: any bank and account to any bank and
// account (the same bank is allowed: two branches at one participant), an
// amount up to MaxAmount.
func (w *workload) randomTransfer(rng *rand.Rand) Transfer {
	return Transfer{
		FromBank: bankName(rng.IntN(w.cfg.Banks)), FromAcct: accountName(rng.IntN(w.cfg.Accounts)),
		ToBank: bankName(rng.IntN(w.cfg.Banks)), ToAcct: accountName(rng.IntN(w.cfg.Accounts)),
		Amount: 1 + rng.Int64N(w.cfg.MaxAmount),
	}
}

// execute runs one Execute of tr with key through node, records it in the
// history and returns it.
func (w *workload) execute(ctx context.Context, kind string, worker int, key string, tr Transfer, node int) *Op {
	op := &Op{Seq: w.h.NextSeq(), Kind: kind, Worker: worker, Key: key, Request: tr, Start: time.Now()}
	var c *client.Client
	var err error
	if w.pool != nil {
		c, op.Node = w.pool[node%len(w.pool)], w.e.cluster.Nodes()[node%len(w.pool)].ID
	} else if c, op.Node, err = w.e.clientVia(node); err == nil {
		defer c.Close()
	}
	if err == nil {
		octx, cancel := context.WithTimeout(ctx, opRetryBudget+w.cfg.TxTimeout+opDeadlineSlack)
		var res *client.Result
		res, err = c.Execute(octx, tr.request(key, w.cfg.TxTimeout))
		cancel()
		classify(op, res, err)
	} else {
		classify(op, nil, err)
	}
	op.End = time.Now()
	w.h.Record(op)
	w.count(op)
	return op
}

// classify fills op's outcome from what Execute returned.
func classify(op *Op, res *client.Result, err error) {
	var unknown *client.UnknownOutcomeError
	switch {
	case err == nil && res.Outcome == client.OutcomeCommitted:
		op.Outcome, op.TxID = OutcomeCommitted, res.TxID
	case err == nil:
		op.Outcome, op.TxID, op.AbortReason = OutcomeAborted, res.TxID, res.AbortReason
	case errors.As(err, &unknown):
		op.Outcome, op.TxID, op.Error = OutcomeUnknown, unknown.TxID, err.Error()
	case errors.Is(err, client.ErrOutcomeUnknown):
		op.Outcome, op.Error = OutcomeUnknown, err.Error()
	default:
		op.Outcome, op.Error = OutcomeError, err.Error()
		op.TxID = client.Metadata(err)["tx_id"]
	}
	if err != nil {
		op.Reason = client.Reason(err)
	}
}

// count adds op to the running totals shown in progress lines.
func (w *workload) count(op *Op) {
	if op.Told() {
		w.lastTold.Store(op.End.UnixNano())
	}
	switch op.Outcome {
	case OutcomeCommitted:
		w.committed.Add(1)
	case OutcomeAborted:
		w.aborted.Add(1)
	case OutcomeUnknown:
		w.unknown.Add(1)
	default:
		w.errored.Add(1)
	}
}

// tally is a one-line view of the totals so far.
type tally struct{ ops, committed, aborted, unknown, errored int64 }

// tally returns the totals so far.
func (w *workload) tally() tally {
	t := tally{committed: w.committed.Load(), aborted: w.aborted.Load(), unknown: w.unknown.Load(),
		errored: w.errored.Load()}
	t.ops = t.committed + t.aborted + t.unknown + t.errored
	return t
}

// waitTold waits until some operation told an outcome ends after since,
// for at most limit (and ctx), and reports whether one did.
func (w *workload) waitTold(ctx context.Context, since time.Time, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for w.lastTold.Load() <= since.UnixNano() {
		if ctx.Err() != nil || time.Now().After(deadline) {
			return false
		}
		sleepCtx(ctx, 50*time.Millisecond)
	}
	return true
}
