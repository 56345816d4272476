package main

import (
	"context"
	"net"
	"runtime"
	"sync/atomic"

	"google.golang.org/grpc"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// yesParticipant is a ParticipantService that votes YES at once and answers
// OK to every Commit and Abort, keeping nothing: it stands for a participant
// infinitely faster than the coordinator, so the benchmark measures the
// coordinator. It is no correct 2PC participant (it stages nothing) and
// serves only the benchmark.
type yesParticipant struct {
	tmv1.UnimplementedParticipantServiceServer
	name, addr string
	gs         *grpc.Server

	prepares, commits, aborts atomic.Int64
}

// startParticipant serves a yesParticipant on a free 127.0.0.1 port.
func startParticipant(name string) (*yesParticipant, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	// Stream workers: handlers run on reused goroutines, not a fresh one per
	// call, so that the stand-in costs as little CPU as it can.
	gs := grpc.NewServer(grpc.NumStreamWorkers(uint32(runtime.GOMAXPROCS(0))))
	p := &yesParticipant{name: name, addr: lis.Addr().String(), gs: gs}
	tmv1.RegisterParticipantServiceServer(p.gs, p)
	go p.gs.Serve(lis)
	return p, nil
}

// Prepare votes YES.
func (p *yesParticipant) Prepare(context.Context, *tmv1.PrepareRequest) (*tmv1.PrepareResponse, error) {
	p.prepares.Add(1)
	return &tmv1.PrepareResponse{Vote: tmv1.Vote_VOTE_YES}, nil
}

// Commit answers OK.
func (p *yesParticipant) Commit(context.Context, *tmv1.CommitRequest) (*tmv1.CommitResponse, error) {
	p.commits.Add(1)
	return &tmv1.CommitResponse{}, nil
}

// Abort answers OK.
func (p *yesParticipant) Abort(context.Context, *tmv1.AbortRequest) (*tmv1.AbortResponse, error) {
	p.aborts.Add(1)
	return &tmv1.AbortResponse{}, nil
}

func (p *yesParticipant) stop() { p.gs.Stop() }
