package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/tmcluster/tmcluster/client"
	"github.com/tmcluster/tmcluster/client/participant"
	bankv1 "github.com/tmcluster/tmcluster/proto/bank/v1"
	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// stopTimeout bounds the graceful stop; RPCs still running then are cut.
const stopTimeout = 10 * time.Second

// server is a running bankd: the kit over the ledger's store, and the gRPC
// server on its listener.
type server struct {
	log    *slog.Logger
	kit    *participant.Kit
	grpc   *grpc.Server
	health *health.Server
	lis    net.Listener
}

func newLogger(w io.Writer, debug bool) *slog.Logger {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// newServer opens (or creates) the ledger in opts.dataDir and listens on
// opts.listen. Nothing is served until serve.
func newServer(opts options, log *slog.Logger) (*server, error) {
	if err := os.MkdirAll(opts.dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	serverOpts, dialOpts, err := transportOptions(opts)
	if err != nil {
		return nil, err
	}
	kit, err := participant.Open(participant.Config{
		Path: filepath.Join(opts.dataDir, "bankd.db"), Hooks: bank{},
		Coordinators: opts.coordinators, Grace: opts.grace, Logger: log, DialOptions: dialOpts,
	})
	if err != nil {
		return nil, err
	}
	have, err := ensureAccounts(kit.DB(), opts.accounts, opts.initialBalance)
	if err != nil {
		_ = kit.Close()
		return nil, fmt.Errorf("create accounts: %w", err)
	}
	if have != opts.accounts {
		log.Warn("bankd: the ledger already exists with another number of accounts; keeping it",
			"accounts", have, "flag", opts.accounts)
	}
	lis, err := net.Listen("tcp", opts.listen)
	if err != nil {
		_ = kit.Close()
		return nil, err
	}
	s := &server{log: log, kit: kit, grpc: grpc.NewServer(serverOpts...), health: health.NewServer(), lis: lis}
	s.register()
	return s, nil
}

// transportOptions are the server's credentials and the kit's dial options:
// TLS with --tls-cert (mutual with --tls-ca), else nil (plaintext).
func transportOptions(opts options) ([]grpc.ServerOption, []grpc.DialOption, error) {
	if opts.tlsCert == "" {
		return nil, nil, nil
	}
	cfg, err := client.TLSConfig(opts.tlsCert, opts.tlsKey, opts.tlsCA)
	if err != nil {
		return nil, nil, err
	}
	return []grpc.ServerOption{grpc.Creds(credentials.NewTLS(cfg.Clone()))},
		[]grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(cfg.Clone()))}, nil
}

func (s *server) register() {
	s.kit.Register(s.grpc)
	bankv1.RegisterBankServiceServer(s.grpc, &ledgerService{kit: s.kit})
	healthpb.RegisterHealthServer(s.grpc, s.health)
	reflection.Register(s.grpc)
	for _, name := range []string{"", tmv1.ParticipantService_ServiceDesc.ServiceName, bankv1.BankService_ServiceDesc.ServiceName} {
		s.health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
}

// addr is the address the server listens on.
func (s *server) addr() string { return s.lis.Addr().String() }

// serve serves until ctx is done, then stops gracefully and closes the
// store. It returns an error only if serving failed.
func (s *server) serve(ctx context.Context) error {
	s.kit.Start(ctx)
	served := make(chan error, 1)
	go func() { served <- s.grpc.Serve(s.lis) }()
	s.log.Info("bankd: serving", "addr", s.addr())

	var err error
	select {
	case err = <-served:
	case <-ctx.Done():
		s.log.Info("bankd: stopping")
		s.stop()
		<-served
	}
	if cerr := s.kit.Close(); err == nil {
		err = cerr
	}
	return err
}

// stop drains the RPCs in flight, for at most stopTimeout.
func (s *server) stop() {
	s.health.Shutdown()
	done := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(stopTimeout):
		s.grpc.Stop()
		<-done
	}
}
