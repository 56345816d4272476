package participant

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"go.etcd.io/bbolt"
)

// Resolver timing. retry_after from a coordinator is clamped to
// [minRetryAfter, maxRetryAfter]; RPC failures back off exponentially with
// jitter from askBackoffInitial up to askBackoffMax.
const (
	minRetryAfter     = 50 * time.Millisecond
	maxRetryAfter     = 30 * time.Second
	askBackoffInitial = 100 * time.Millisecond
	askBackoffMax     = 30 * time.Second
	resolveWorkers    = 4
	idleWait          = time.Hour
)

// inDoubt is a branch that voted YES and has heard no decision.
type inDoubt struct {
	key                                    string
	txID, branchID, participant, clusterID string
	endpoints                              []string // from its Prepare

	due       time.Time // monotonic; when to ask next
	index     int       // in the queue; -1 while being asked
	preferred string    // the endpoint that last answered
	backoff   *backoff.ExponentialBackOff
}

// resolver asks the coordinators about in-doubt branches (obligation 6).
// Branches are added when they vote YES (or at Start, from disk) and
// forgotten as soon as they end, whoever ended them; a forgotten branch is
// never asked about again.
type resolver struct {
	kit *Kit
	dir *directory

	mu    sync.Mutex
	items map[string]*inDoubt
	queue dueQueue
	wake  chan struct{}
	work  chan *inDoubt
}

func newResolver(k *Kit) *resolver {
	return &resolver{
		kit:   k,
		dir:   newDirectory(k.cfg, k.log),
		items: make(map[string]*inDoubt),
		wake:  make(chan struct{}, 1),
		work:  make(chan *inDoubt),
	}
}

// add schedules a prepared branch to be asked about at due, unless it is
// already scheduled.
func (r *resolver) add(rec *record, due time.Time) {
	key := string(branchKey(rec.TxID, rec.BranchID))
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.items[key] != nil {
		return
	}
	it := &inDoubt{key: key, txID: rec.TxID, branchID: rec.BranchID, participant: rec.Participant,
		clusterID: rec.ClusterID, endpoints: rec.Endpoints, due: due,
		backoff: &backoff.ExponentialBackOff{InitialInterval: askBackoffInitial,
			RandomizationFactor: 0.5, Multiplier: 2, MaxInterval: askBackoffMax}}
	r.items[key] = it
	heap.Push(&r.queue, it)
	r.poke()
}

// forget stops asking about a branch that has ended.
func (r *resolver) forget(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	it := r.items[key]
	if it == nil {
		return
	}
	delete(r.items, key)
	if it.index >= 0 {
		heap.Remove(&r.queue, it.index)
	}
}

// requeue schedules the next ask, unless the branch ended meanwhile.
func (r *resolver) requeue(it *inDoubt, due time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.items[it.key] != it {
		return
	}
	it.due = due
	heap.Push(&r.queue, it)
	r.poke()
}

func (r *resolver) live(it *inDoubt) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.items[it.key] == it
}

func (r *resolver) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// loadPrepared schedules every branch prepared on disk to be asked at once.
func (r *resolver) loadPrepared() error {
	now := time.Now()
	return r.kit.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketPrepared).ForEach(func(key, _ []byte) error {
			rec, err := getRecord(tx, key)
			if err == nil && rec != nil && rec.State == StatePrepared {
				r.add(rec, now)
			}
			return err
		})
	})
}

// start runs the scheduling loop and the workers until ctx is done.
func (r *resolver) start(ctx context.Context, wg *sync.WaitGroup) {
	wg.Add(1 + resolveWorkers)
	go func() { defer wg.Done(); r.loop(ctx) }()
	for range resolveWorkers {
		go func() { defer wg.Done(); r.worker(ctx) }()
	}
}

// loop hands each branch to a worker when it falls due.
func (r *resolver) loop(ctx context.Context) {
	timer := time.NewTimer(idleWait)
	defer timer.Stop()
	for {
		it, wait := r.popDue(time.Now())
		if it != nil {
			select {
			case r.work <- it:
			case <-ctx.Done():
				return
			}
			continue
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-timer.C:
		}
	}
}

// popDue takes the earliest branch off the queue if it is due, else says
// how long until one is.
func (r *resolver) popDue(now time.Time) (*inDoubt, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.queue) == 0 {
		return nil, idleWait
	}
	if wait := r.queue[0].due.Sub(now); wait > 0 {
		return nil, wait
	}
	return heap.Pop(&r.queue).(*inDoubt), 0
}

func (r *resolver) worker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case it := <-r.work:
			if !r.live(it) {
				continue
			}
			if delay, done := r.resolve(ctx, it); done {
				r.forget(it.key)
			} else {
				r.requeue(it, time.Now().Add(delay))
			}
		}
	}
}

func (r *resolver) close() { r.dir.close() }

// dueQueue is a min-heap of branches by due time.
type dueQueue []*inDoubt

func (q dueQueue) Len() int           { return len(q) }
func (q dueQueue) Less(i, j int) bool { return q[i].due.Before(q[j].due) }
func (q dueQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *dueQueue) Push(x any) {
	it := x.(*inDoubt)
	it.index = len(*q)
	*q = append(*q, it)
}
func (q *dueQueue) Pop() any {
	old := *q
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	it.index = -1
	return it
}
