// Command tmd is a tmcluster node: a Raft member that serves the
// TransactionService and ClusterService on gRPC and, while it leads, drives
// two-phase commit.
//
//	tmd --id n1 --data-dir DIR --grpc-addr 127.0.0.1:7001 --raft-addr 127.0.0.1:7101 --bootstrap
//	tmd --id n2 --data-dir DIR2 --grpc-addr 127.0.0.1:7002 --raft-addr 127.0.0.1:7102 --join 127.0.0.1:7001
//
// A node restarted on its own data dir rejoins by itself: --bootstrap and
// --join are ignored when the data dir already holds Raft state.
//
// With --tls-cert, --tls-key and --tls-ca, the gRPC API, the Raft transport
// and the node's dials (participants, the leader, --join) use mutual TLS 1.3
// with that CA, and the certificate's CommonName must be --id;
// --admin-identities limits the ClusterService changes to the listed
// certificate CommonNames (see server/auth.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"github.com/tmcluster/tmcluster/raftlog"
	"github.com/tmcluster/tmcluster/server"
)

type options struct {
	id, dataDir, grpcAddr, raftAddr, join string
	bootstrap                             bool
	retention, defaultTimeout, maxTimeout time.Duration
	heartbeat, election                   time.Duration
	logFormat, logLevel                   string
	tls                                   tlsOptions
	limits                                limits
	metricsAddr                           string
	pprof                                 bool
	gcPercent                             int
	keepGOGC                              bool // GOGC is set and --gc-percent was not given
}

// limits are the request limits of design.md's error model.
type limits struct {
	maxPayloadBytes, maxBranches, maxOpen int
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("tmd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.id, "id", "", "this node's Raft server id (required)")
	fs.StringVar(&o.dataDir, "data-dir", "", "directory for the Raft log, stable store and snapshots (required)")
	fs.StringVar(&o.grpcAddr, "grpc-addr", "127.0.0.1:7001", "host:port of the gRPC API")
	fs.StringVar(&o.raftAddr, "raft-addr", "127.0.0.1:7101", "host:port of the Raft transport")
	fs.BoolVar(&o.bootstrap, "bootstrap", false, "bootstrap a new cluster with this node (ignored when the data dir holds Raft state)")
	fs.StringVar(&o.join, "join", "", "gRPC address of any member to join through (ignored when the data dir holds Raft state)")
	fs.DurationVar(&o.retention, "retention", 24*time.Hour, "how long decided records and idempotency keys are kept")
	fs.DurationVar(&o.defaultTimeout, "default-timeout", 30*time.Second, "transaction timeout when a request gives none")
	fs.DurationVar(&o.maxTimeout, "max-timeout", 10*time.Minute, "longest transaction timeout a request may ask")
	fs.DurationVar(&o.heartbeat, "heartbeat-timeout", 500*time.Millisecond, "Raft heartbeat timeout")
	fs.DurationVar(&o.election, "election-timeout", 500*time.Millisecond, "Raft election timeout")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.IntVar(&o.limits.maxPayloadBytes, "max-payload-bytes", 1<<20, "largest branch payload accepted")
	fs.IntVar(&o.limits.maxBranches, "max-branches", 64, "most branches in one transaction")
	fs.IntVar(&o.limits.maxOpen, "max-open-transactions", 100_000, "undecided transactions before new ones get RESOURCE_EXHAUSTED")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "host:port to serve Prometheus /metrics on (off when empty)")
	fs.BoolVar(&o.pprof, "pprof", false, "also serve /debug/pprof/ on --metrics-addr")
	fs.IntVar(&o.gcPercent, "gc-percent", server.DefaultGCPercent, "garbage collector target, as GOGC (Go's default is 100; negative: off); when not given, a GOGC in the environment wins")
	o.tls.register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	o.keepGOGC = os.Getenv("GOGC") != "" && !flagGiven(fs, "gc-percent")
	if err := o.tls.check(); err != nil {
		return nil, err
	}
	switch {
	case o.id == "":
		return nil, errors.New("--id is required")
	case o.dataDir == "":
		return nil, errors.New("--data-dir is required")
	case o.bootstrap && o.join != "":
		return nil, errors.New("--bootstrap and --join exclude each other")
	case o.limits.maxPayloadBytes <= 0 || o.limits.maxBranches <= 0 || o.limits.maxOpen <= 0:
		return nil, errors.New("--max-payload-bytes, --max-branches and --max-open-transactions must be positive")
	case o.pprof && o.metricsAddr == "":
		return nil, errors.New("--pprof needs --metrics-addr")
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tmd:", err)
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "tmd:", err)
		os.Exit(1)
	}
}

func newLogger(format, level string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

func run(o *options) error {
	log := newLogger(o.logFormat, o.logLevel).With("node", o.id)
	if !o.keepGOGC {
		debug.SetGCPercent(o.gcPercent)
	}
	if err := claimDataDir(o.dataDir, o.id); err != nil {
		return err
	}
	tr, err := o.tls.load(o.id)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", o.grpcAddr)
	if err != nil {
		return fmt.Errorf("listen on --grpc-addr %s: %w", o.grpcAddr, err)
	}
	node, err := raftlog.Open(raftlog.Config{
		ID: o.id, RaftAddr: o.raftAddr, DataDir: o.dataDir, Bootstrap: o.bootstrap,
		// A lease of the whole heartbeat timeout: half of it made leaders
		// of a loaded 2-core host step down under CPU pressure.
		HeartbeatTimeout: o.heartbeat, ElectionTimeout: o.election, LeaderLeaseTimeout: o.heartbeat,
		TLS: tr.raft(),
	})
	if err != nil {
		lis.Close()
		return fmt.Errorf("open raft: %w", err)
	}
	srv, err := server.New(server.Config{
		NodeID: o.id, GRPCAddr: o.grpcAddr, RaftAddr: o.raftAddr, Raft: node, Logger: log,
		Retention: o.retention, DefaultTimeout: o.defaultTimeout, MaxTimeout: o.maxTimeout,
		ParticipantDialOptions: tr.dialOptions(), PeerDialOptions: tr.dialOptions(),
		AdminIdentities: o.tls.admins,
		MaxPayloadBytes: o.limits.maxPayloadBytes, MaxBranches: o.limits.maxBranches, MaxOpenTransactions: o.limits.maxOpen,
	})
	if err != nil {
		node.Shutdown()
		lis.Close()
		return err
	}
	metricsStop, err := serveMetrics(o, srv, log)
	if err != nil {
		srv.Close()
		node.Shutdown()
		lis.Close()
		return err
	}
	defer metricsStop()
	// A request carries up to max-branches payloads of max-payload-bytes.
	maxMsg := max(4<<20, o.limits.maxBranches*o.limits.maxPayloadBytes+1<<20)
	gs := grpc.NewServer(slices.Concat(tr.serverOptions(), []grpc.ServerOption{grpc.MaxRecvMsgSize(maxMsg)},
		srv.ServerOptions())...)
	srv.Register(gs)
	srv.Start()
	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }()
	log.Info("tmd started", "grpc", o.grpcAddr, "raft", o.raftAddr, "had_state", node.HadState(),
		"tls", tr.config != nil, "mtls", o.tls.ca != "")

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if o.join != "" && !node.HadState() {
		if err := join(ctx, o, tr.dialOptions(), log); err != nil {
			log.Error("join failed", "err", err)
		}
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-served:
		log.Error("grpc server stopped", "err", err)
	}
	shutdown(gs, srv, node)
	return nil
}

func shutdown(gs *grpc.Server, srv *server.Server, node *raftlog.Node) {
	done := make(chan struct{})
	go func() { gs.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		gs.Stop()
	}
	srv.Close()
	node.Shutdown()
}

// claimDataDir creates the data dir if needed, checks it is writable, and
// refuses a dir that belongs to another node id.
func claimDataDir(dir, id string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("data dir %s: %w", dir, err)
	}
	idFile := filepath.Join(dir, "node-id")
	b, err := os.ReadFile(idFile)
	switch {
	case err == nil:
		if owner := strings.TrimSpace(string(b)); owner != id {
			return fmt.Errorf("data dir %s belongs to node %q, not %q", dir, owner, id)
		}
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("data dir %s: %w", dir, err)
	}
	if err := os.WriteFile(idFile, []byte(id+"\n"), 0o640); err != nil {
		return fmt.Errorf("data dir %s is not writable: %w", dir, err)
	}
	return nil
}

// flagGiven reports whether the command line set the flag name.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}
