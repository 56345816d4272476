package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// join asks the cluster, through any member, to add this node, retrying
// until it succeeds or ctx ends (the member may still be electing). It dials
// with dialOpts (this node's certificate under TLS); with --admin-identities
// on the cluster, this node's identity must be one of them (or an admin adds
// it with tmctl members add instead): PERMISSION_DENIED ends the attempt.
func join(ctx context.Context, o *options, dialOpts []grpc.DialOption, log *slog.Logger) error {
	conn, err := grpc.NewClient(o.join, dialOpts...)
	if err != nil {
		return fmt.Errorf("--join %s: %w", o.join, err)
	}
	defer conn.Close()
	c := tmv1.NewClusterServiceClient(conn)
	req := &tmv1.AddMemberRequest{Id: o.id, RaftAddress: o.raftAddr, GrpcAddress: o.grpcAddr}
	deadline := time.Now().Add(2 * time.Minute)
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := c.AddMember(actx, req)
		cancel()
		if err == nil {
			log.Info("joined the cluster", "through", o.join)
			return nil
		}
		if c := status.Code(err); c == codes.PermissionDenied || c == codes.Unauthenticated {
			return fmt.Errorf("join through %s refused (list this node's identity in --admin-identities, or add it with tmctl members add): %w", o.join, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("join through %s: %w", o.join, err)
		}
		log.Info("join: retrying", "through", o.join, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}
