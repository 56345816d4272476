package server

import (
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/tmcluster/tmcluster/raftlog"
)

// Raft is what the server consumes of the replicated state: a *raftlog.Node
// satisfies it. Tests wrap it to inject failures (an Apply whose result is
// lost, a leadership change at a chosen step).
type Raft interface {
	ID() string
	FSM() *raftlog.FSM
	// Propose appends body and waits for its Apply result, whatever happens
	// meanwhile. raftlog.ErrNotLeader: nothing appended; any error wrapping
	// raftlog.ErrOutcomeUnknown: it may or may not have been applied.
	Propose(body proto.Message) (raftlog.Result, error)
	Barrier() (term, index uint64, err error)
	VerifyLeader() error
	IsLeader() bool
	Leader() (id, raftAddr string)
	Term() uint64
	CommitIndex() uint64
	AppliedIndex() uint64
	LeadershipChanges() <-chan bool
	Servers() ([]raftlog.Server, error)
	AddVoter(id, raftAddr string) error
	AddNonvoter(id, raftAddr string) error
	RemoveServer(id string) error
	TransferLeadership(id, raftAddr string) error
}

// DefaultGCPercent is the garbage collector's target (GOGC) that cmd/tmd
// sets unless told otherwise: a payment allocates about 1,200 objects
// across gRPC, Raft and the FSM, and at Go's default of 100 the collector
// took a tenth of a loaded node's CPU; 200 lets the heap grow to three
// times the live data between collections for about 10-15 % more payments
// per second at concurrency 64-256 (BENCHMARKS.md). GOMEMLIMIT still caps
// the heap.
const DefaultGCPercent = 200

// Config configures a Server. Zero durations and limits take the defaults
// noted beside them.
type Config struct {
	NodeID   string // this node's Raft server id
	GRPCAddr string // this node's advertised gRPC address
	RaftAddr string // this node's Raft address
	Raft     Raft
	Logger   *slog.Logger

	DefaultTimeout time.Duration // transaction timeout when a request gives none: 30s
	MaxTimeout     time.Duration // longest timeout a request may ask: 10m
	Retention      time.Duration // records and key bindings are kept this long after their decision: 24h
	ResolveGrace   time.Duration // added to a deadline before participants ask: 1s
	PrepareTimeout time.Duration // cap on one Prepare call: 5s
	GCInterval     time.Duration // how often the leader collects: 1m
	MintRefresh    time.Duration // how often the leader takes a fresh mint barrier: 1m
	ReaperInterval time.Duration // how often the leader looks for expired transactions: 500ms
	AckBatchDelay  time.Duration // how long acknowledgements wait to share an entry: 20ms (wait_for_completion replies wait for it)
	AckBatchMax    int           // acknowledgements per entry at most: 512
	RetryMin       time.Duration // phase-two backoff floor: 50ms
	RetryMax       time.Duration // phase-two backoff cap, per branch: 5s
	ReadyTimeout   time.Duration // how long a request waits for a new leader's barrier: 5s

	MaxBranches         int // branches per transaction: 64
	MaxPayloadBytes     int // bytes per branch payload: 1 MiB
	MaxOpenTransactions int // undecided transactions (recorded or in flight) before RESOURCE_EXHAUSTED: 100,000

	// ParticipantDialOptions are used to dial participants and
	// PeerDialOptions to forward to the leader; both default to plaintext.
	ParticipantDialOptions []grpc.DialOption
	PeerDialOptions        []grpc.DialOption

	// AdminIdentities are the client certificate CommonNames allowed to
	// call the ClusterService methods that change anything; empty: anyone.
	// They take effect through UnaryInterceptor (see auth.go).
	AdminIdentities []string

	// Now is the leader's clock (default time.Now). Only the leader reads it,
	// to stamp commands; the FSM never does.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.DefaultTimeout, 30*time.Second)
	def(&c.MaxTimeout, 10*time.Minute)
	def(&c.Retention, 24*time.Hour)
	def(&c.ResolveGrace, time.Second)
	def(&c.PrepareTimeout, 5*time.Second)
	def(&c.GCInterval, time.Minute)
	def(&c.MintRefresh, time.Minute)
	def(&c.ReaperInterval, 500*time.Millisecond)
	def(&c.AckBatchDelay, 20*time.Millisecond)
	def(&c.RetryMin, 50*time.Millisecond)
	def(&c.RetryMax, 5*time.Second)
	def(&c.ReadyTimeout, 5*time.Second)
	if c.AckBatchMax <= 0 {
		c.AckBatchMax = 512
	}
	if c.MaxBranches <= 0 {
		c.MaxBranches = 64
	}
	if c.MaxPayloadBytes <= 0 {
		c.MaxPayloadBytes = 1 << 20
	}
	if c.MaxOpenTransactions <= 0 {
		c.MaxOpenTransactions = 100_000
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}
