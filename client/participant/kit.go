package participant

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// Config configures a Kit. Path and Hooks are required.
type Config struct {
	// Path is the bbolt file holding the kit's buckets and the service's
	// own. It is always opened with fsync on. One participant name is one
	// store: every instance behind a registered target must share it.
	Path string
	// Hooks are the service's Prepare, Commit and Abort.
	Hooks Hooks
	// Coordinators are gRPC addresses to ask when in doubt, besides the
	// endpoints each Prepare names and the nodes learned from
	// GetClusterStatus. For a branch with a cluster id, one is asked only
	// after its GetClusterStatus reported that cluster id.
	Coordinators []string
	// DialOptions are used for coordinator connections (default: insecure
	// transport credentials).
	DialOptions []grpc.DialOption
	// Grace is added to a branch's resolve_after before it is in doubt
	// (default 1s).
	Grace time.Duration
	// TombstoneGrace is added to an Abort's tombstone_ttl to decide how long
	// the tombstone of a never-prepared branch is kept (default 1 min).
	TombstoneGrace time.Duration
	// Retention is how long a branch's vote and end state are kept after it
	// ended (default 25 h). It must be at least the cluster's retention.
	Retention time.Duration
	// Logger receives the kit's logs (default slog.Default()).
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Grace <= 0 {
		c.Grace = time.Second
	}
	if c.TombstoneGrace <= 0 {
		c.TombstoneGrace = time.Minute
	}
	if c.Retention <= 0 {
		c.Retention = 25 * time.Hour
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if len(c.DialOptions) == 0 {
		c.DialOptions = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	return c
}

// Kit is an open participant store. Its methods are safe for concurrent use.
type Kit struct {
	cfg      Config
	db       *bbolt.DB
	log      *slog.Logger
	locks    *branchLocks
	resolver *resolver

	mu      sync.Mutex
	started bool
	closed  bool
	stop    context.CancelFunc // stops what Start started
	wg      sync.WaitGroup
}

// openLockTimeout bounds the wait for the bbolt file lock, so that a second
// process on the same file fails instead of hanging.
const openLockTimeout = time.Second

// batchDelay is how long bbolt collects concurrent writers into one fsync.
const batchDelay = 2 * time.Millisecond

// Open opens (or creates) the store at cfg.Path. The kit answers RPCs as
// soon as it is registered; call Start to run the in-doubt resolver and the
// retention purger.
func Open(cfg Config) (*Kit, error) {
	cfg = cfg.withDefaults()
	if cfg.Path == "" {
		return nil, ErrNoPath
	}
	if cfg.Hooks == nil {
		return nil, ErrNoHooks
	}
	db, err := bbolt.Open(cfg.Path, 0o600, &bbolt.Options{Timeout: openLockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("participant: open %s: locked by another process", cfg.Path)
	}
	if err != nil {
		return nil, fmt.Errorf("participant: open %s: %w", cfg.Path, err)
	}
	db.MaxBatchDelay = batchDelay
	if err := db.Update(createBuckets); err != nil {
		_ = db.Close()
		return nil, err
	}
	k := &Kit{cfg: cfg, db: db, log: cfg.Logger, locks: newBranchLocks()}
	k.resolver = newResolver(k)
	return k, nil
}

// DB returns the kit's database, for the service's own reads (View) and
// set-up writes outside any branch (such as creating its buckets). The
// service must not change the kit's buckets, nor close the DB.
func (k *Kit) DB() *bbolt.DB { return k.db }

// Register registers tm.v1.ParticipantService, served by the kit, on s.
func (k *Kit) Register(s grpc.ServiceRegistrar) {
	tmv1.RegisterParticipantServiceServer(s, &service{kit: k})
}

// Start starts the in-doubt resolver and the retention purger; they run
// until ctx is done or Close. Every branch found prepared on disk is asked
// about at once (its Prepare's arrival time is unknown after a restart).
// Calls after the first, or after Close, do nothing.
func (k *Kit) Start(ctx context.Context) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.started || k.closed {
		return
	}
	k.started = true
	ctx, k.stop = context.WithCancel(ctx)
	if err := k.resolver.loadPrepared(); err != nil {
		k.log.Error("participant: cannot load prepared branches", "err", err)
	}
	k.wg.Add(1)
	go func() { defer k.wg.Done(); k.purgeLoop(ctx) }()
	k.resolver.start(ctx, &k.wg)
}

// Close stops the background work, closes coordinator connections and the
// database. RPCs still arriving fail with UNAVAILABLE. Close is idempotent.
func (k *Kit) Close() error {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return nil
	}
	k.closed = true
	if k.stop != nil {
		k.stop()
	}
	k.mu.Unlock()
	k.wg.Wait()
	k.resolver.close()
	return k.db.Close()
}

// Stats returns the number of branches prepared and not yet ended, and the
// lifetime numbers of committed and aborted ones (aborted includes branches
// that voted NO; read-only branches and tombstones count in neither).
// Purging old records does not lower the lifetime counts. A closed kit
// reports zeros.
func (k *Kit) Stats() (pending, committed, aborted int64) {
	_ = k.db.View(func(tx *bbolt.Tx) error {
		pending, committed, aborted = k.StatsTx(tx)
		return nil
	})
	return pending, committed, aborted
}

// StatsTx is Stats read inside the caller's transaction, so a service can
// report counts consistent with its own buckets.
func (k *Kit) StatsTx(tx *bbolt.Tx) (pending, committed, aborted int64) {
	b := tx.Bucket(bucketStats)
	return int64(getUint(b, statPending)), int64(getUint(b, statCommitted)), int64(getUint(b, statAborted))
}
