package raftlog

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// Config configures a Node. Zero values take the defaults named on each
// field.
type Config struct {
	// ID is the node's Raft server id, unique and stable across restarts.
	ID string
	// RaftAddr is the host:port the Raft transport binds to and advertises
	// to the other members. It must be an address they can dial (not
	// 0.0.0.0, and a fixed port).
	RaftAddr string
	// DataDir holds raft.db (the log and stable store) and snapshots/. It is
	// created if missing.
	DataDir string
	// Bootstrap makes this node a single-voter cluster if DataDir holds no
	// Raft state yet. It is ignored when it does (a restarted node rejoins
	// with what it has).
	Bootstrap bool

	// Raft timing. Zero: 500ms, 500ms, 250ms and 10ms.
	HeartbeatTimeout, ElectionTimeout, LeaderLeaseTimeout, CommitTimeout time.Duration
	// SnapshotThreshold is how many entries since the last snapshot trigger
	// a new one (zero: 8192); SnapshotInterval how often that is checked
	// (zero: 30s); TrailingLogs how many entries stay after a snapshot, so a
	// slightly lagging follower needs no snapshot (zero: 10240).
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	// MaxAppendEntries bounds the entries per AppendEntries RPC and per FSM
	// batch (zero: 256).
	MaxAppendEntries int
	// UnbufferedApplyCh turns off Raft's BatchApplyCh (see raft.Config),
	// which is on by default: proposals queue in a buffered channel and the
	// leader appends and replicates them in batches of up to
	// MaxAppendEntries. With it, tmbench's payments at concurrency 256 went
	// from 4,254 to 4,746 tx/s (medians of 5 alternating rounds,
	// BENCHMARKS.md). It loses nothing: Propose sets no Apply timeout, a
	// proposal still queued when leadership is lost is answered
	// ErrNotLeader (it was never appended), and one still queued at
	// shutdown is answered by Node.await.
	UnbufferedApplyCh bool
	// TLS, if set, runs the Raft transport over TLS (1.3 at least) with
	// this config both to accept and to dial; its ClientAuth and ClientCAs
	// decide which peers are accepted (see raftlog/tls.go). Nil: plain TCP.
	TLS *tls.Config

	// LogOutput receives Raft's logs (nil: os.Stderr) at LogLevel ("trace",
	// "debug", "info", "warn" or "error"; "": "warn").
	LogOutput io.Writer
	LogLevel  string
}

// withDefaults returns cfg with every zero value replaced by its default.
func (cfg Config) withDefaults() Config {
	setDefault(&cfg.HeartbeatTimeout, 500*time.Millisecond)
	setDefault(&cfg.ElectionTimeout, 500*time.Millisecond)
	setDefault(&cfg.LeaderLeaseTimeout, 250*time.Millisecond)
	setDefault(&cfg.CommitTimeout, 10*time.Millisecond)
	setDefault(&cfg.SnapshotThreshold, 8192)
	setDefault(&cfg.SnapshotInterval, 30*time.Second)
	setDefault(&cfg.TrailingLogs, 10240)
	setDefault(&cfg.MaxAppendEntries, 256)
	setDefault(&cfg.LogLevel, "warn")
	if cfg.LogOutput == nil {
		cfg.LogOutput = os.Stderr
	}
	return cfg
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// validate checks what Raft would otherwise reject with a less clear error.
func (cfg Config) validate() error {
	var errs []error
	if cfg.ID == "" {
		errs = append(errs, errors.New("ID is empty"))
	}
	if cfg.RaftAddr == "" {
		errs = append(errs, errors.New("RaftAddr is empty"))
	}
	if cfg.DataDir == "" {
		errs = append(errs, errors.New("DataDir is empty"))
	}
	if hclog.LevelFromString(cfg.LogLevel) == hclog.NoLevel {
		errs = append(errs, fmt.Errorf("unknown LogLevel %q", cfg.LogLevel))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("raftlog: invalid config: %w", err)
	}
	return nil
}

// logger is the hclog logger shared by Raft, its transport and its
// snapshot store.
func (cfg Config) logger() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:   "raft." + cfg.ID,
		Output: cfg.LogOutput,
		Level:  hclog.LevelFromString(cfg.LogLevel),
	})
}

// raftConfig translates cfg into hashicorp/raft's configuration.
func (cfg Config) raftConfig(logger hclog.Logger, notify chan<- bool) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = cfg.CommitTimeout
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	rc.MaxAppendEntries = cfg.MaxAppendEntries
	rc.BatchApplyCh = !cfg.UnbufferedApplyCh
	rc.NotifyCh = notify
	rc.Logger = logger
	return rc
}
