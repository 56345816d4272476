package chaos

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// Retrying unknown outcomes during the run: each is retried with its key up
// to maxRetries times, the n-th retry retryDelay(n) after the last answer.
// Whatever is still unknown is settled by the final re-execution.
const (
	maxRetries      = 5
	retryTick       = 250 * time.Millisecond
	retryWorkers    = 2
	finalWorkers    = 16
	finalAttempts   = 4
	finalRetryPause = 2 * time.Second
)

// retryDelay is how long to wait before the n-th retry of a key.
func retryDelay(n int) time.Duration { return time.Duration(n) * 2 * time.Second }

// pendingKey is a transfer whose outcome the client does not know yet.
type pendingKey struct {
	key   string
	tr    Transfer
	due   time.Time
	tries int
}

// retryQueue holds the keys to retry. It is safe for concurrent use.
type retryQueue struct {
	mu    sync.Mutex
	items []pendingKey
}

// newRetryQueue returns an empty queue.
func newRetryQueue() *retryQueue { return &retryQueue{} }

// add queues key (of transfer tr) to be retried at due.
func (q *retryQueue) add(key string, tr Transfer, due time.Time) {
	q.push(pendingKey{key: key, tr: tr, due: due})
}

// push queues p again.
func (q *retryQueue) push(p pendingKey) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.items = append(q.items, p)
}

// takeDue removes and returns the keys due at now.
func (q *retryQueue) takeDue(now time.Time) []pendingKey {
	q.mu.Lock()
	defer q.mu.Unlock()
	var due, rest []pendingKey
	for _, p := range q.items {
		if p.due.After(now) {
			rest = append(rest, p)
		} else {
			due = append(due, p)
		}
	}
	q.items = rest
	return due
}

// retrier retries due unknown outcomes with their keys until stop closes.
func (w *workload) retrier(ctx context.Context, stop <-chan struct{}) {
	rng := rand.New(rand.NewPCG(w.cfg.Seed, 0x7e7))
	t := time.NewTicker(retryTick)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		due := w.retries.takeDue(time.Now())
		nodes := make([]int, len(due))
		for i := range due {
			nodes[i] = rng.IntN(w.cfg.Nodes)
		}
		parallel(len(due), retryWorkers, func(i int) {
			p := due[i]
			op := w.execute(ctx, OpRetry, 0, p.key, p.tr, nodes[i])
			if p.tries++; op.Outcome == OutcomeUnknown && p.tries < maxRetries {
				p.due = time.Now().Add(retryDelay(p.tries + 1))
				w.retries.push(p)
			}
		})
	}
}

// finalize re-executes every key of the history once the cluster is healed
// and the load has stopped: the answer is the key's final outcome (the SDK's
// guarantee), which every outcome told earlier must equal. A key still
// unknown is asked again, up to finalAttempts times.
func (w *workload) finalize(ctx context.Context) {
	var keys []pendingKey
	seen := map[string]bool{}
	for _, op := range w.h.Ops() {
		if op.Kind == OpTransfer && !seen[op.Key] {
			seen[op.Key] = true
			keys = append(keys, pendingKey{key: op.Key, tr: op.Request})
		}
	}
	rng := rand.New(rand.NewPCG(w.cfg.Seed, 0xf1a1))
	for i := range w.cfg.Nodes {
		c, _, err := w.e.clientVia(i)
		if err != nil {
			break
		}
		w.pool = append(w.pool, c)
	}
	defer func() {
		for _, c := range w.pool {
			_ = c.Close()
		}
		w.pool = nil
	}()
	for attempt := 1; attempt <= finalAttempts && len(keys) > 0 && ctx.Err() == nil; attempt++ {
		nodes := make([]int, len(keys))
		for i := range keys {
			nodes[i] = rng.IntN(w.cfg.Nodes)
		}
		unknown := make([]bool, len(keys))
		parallel(len(keys), finalWorkers, func(i int) {
			op := w.execute(ctx, OpFinal, 0, keys[i].key, keys[i].tr, nodes[i])
			unknown[i] = op.Outcome == OutcomeUnknown
		})
		var again []pendingKey
		for i, k := range keys {
			if unknown[i] {
				again = append(again, k)
			}
		}
		keys = again
		if len(keys) > 0 {
			sleepCtx(ctx, finalRetryPause)
		}
	}
}

// parallel calls f(0) … f(n-1) on at most workers goroutines and waits.
func parallel(n, workers int, f func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(n, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
