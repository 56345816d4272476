package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"

	"github.com/tmcluster/tmcluster/client"
	"github.com/tmcluster/tmcluster/raftlog"
	"github.com/tmcluster/tmcluster/server"
)

// clusterSize is the number of nodes of the in-process cluster.
const clusterSize = 3

// localCluster is the in-process cluster: three tmd-equivalent nodes on
// 127.0.0.1, each with its own data dir under dir.
type localCluster struct {
	dir       string
	removeDir bool
	logFile   *os.File
	nodes     []*localNode
}

// localNode is one node: what cmd/tmd wires, minus flags and signals.
type localNode struct {
	id, grpcAddr, raftAddr string
	node                   *raftlog.Node
	srv                    *server.Server
	gs                     *grpc.Server
}

// startCluster starts the in-process cluster: n1 bootstraps, n2 and n3 join
// through AddMember, and it returns once every node applied the leader's
// configuration. Raft's and the servers' logs go to dir/cluster.log.
func startCluster(ctx context.Context, o *options) (*localCluster, error) {
	c := &localCluster{dir: o.dataDir}
	if c.dir == "" {
		dir, err := os.MkdirTemp("", "tmbench-")
		if err != nil {
			return nil, err
		}
		c.dir, c.removeDir = dir, true
	}
	f, err := os.OpenFile(filepath.Join(c.dir, "cluster.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		c.close()
		return nil, err
	}
	c.logFile = f
	if err := c.form(ctx, o); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// form starts the nodes and joins them into one cluster.
func (c *localCluster) form(ctx context.Context, o *options) error {
	for i := 1; i <= clusterSize; i++ {
		n, err := c.startNode(fmt.Sprintf("n%d", i), i == 1, o)
		if err != nil {
			return err
		}
		c.nodes = append(c.nodes, n)
	}
	sdk, err := client.New(client.Config{Endpoints: []string{c.nodes[0].grpcAddr}, MaxRetryElapsed: 30 * time.Second})
	if err != nil {
		return err
	}
	defer sdk.Close()
	for _, n := range c.nodes[1:] {
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := sdk.AddMember(actx, n.id, n.raftAddr, n.grpcAddr, false)
		cancel()
		if err != nil {
			return fmt.Errorf("add %s: %w", n.id, err)
		}
	}
	return c.waitApplied(ctx)
}

// startNode opens one node's Raft and serves its gRPC API.
func (c *localCluster) startNode(id string, bootstrap bool, o *options) (*localNode, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	raftAddr, err := freeAddr()
	if err != nil {
		lis.Close()
		return nil, err
	}
	n := &localNode{id: id, grpcAddr: lis.Addr().String(), raftAddr: raftAddr}
	n.node, err = raftlog.Open(raftConfig(id, raftAddr, filepath.Join(c.dir, id), bootstrap, o.raft, c.logFile))
	if err != nil {
		lis.Close()
		return nil, fmt.Errorf("open %s: %w", id, err)
	}
	logger := slog.New(slog.NewTextHandler(c.logFile, &slog.HandlerOptions{Level: slog.LevelWarn})).With("node", id)
	n.srv, err = server.New(server.Config{NodeID: id, GRPCAddr: n.grpcAddr, RaftAddr: raftAddr, Raft: n.node, Logger: logger,
		AckBatchDelay: o.ackBatchDelay})
	if err != nil {
		n.node.Shutdown()
		lis.Close()
		return nil, err
	}
	opts := n.srv.ServerOptions() // as cmd/tmd, less its TLS and size limits
	if o.streamWorkers > 0 {
		opts = append(opts, grpc.NumStreamWorkers(uint32(o.streamWorkers)))
	}
	n.gs = grpc.NewServer(opts...)
	n.srv.Register(n.gs)
	n.srv.Start()
	go n.gs.Serve(lis)
	return n, nil
}

// raftConfig is the node configuration cmd/tmd builds from its default flags
// (500 ms heartbeat and election timeouts, a lease of the whole heartbeat,
// the rest raftlog's defaults), with the tuning flags applied.
func raftConfig(id, addr, dir string, bootstrap bool, t raftTuning, logs io.Writer) raftlog.Config {
	cfg := raftlog.Config{
		ID: id, RaftAddr: addr, DataDir: dir, Bootstrap: bootstrap,
		HeartbeatTimeout: t.heartbeat, ElectionTimeout: t.election, LeaderLeaseTimeout: t.heartbeat,
		CommitTimeout: t.commit, MaxAppendEntries: t.maxAppendEntries,
		LogOutput: logs, LogLevel: "warn",
	}
	cfg.UnbufferedApplyCh = t.batchApplyCh == "false"
	return cfg
}

// freeAddr returns a 127.0.0.1 address whose port was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitApplied waits until every node applied the leader's last index.
func (c *localCluster) waitApplied(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		if lead := c.leader(); lead != nil {
			target, behind := lead.node.AppliedIndex(), false
			for _, n := range c.nodes {
				behind = behind || n.node.AppliedIndex() < target
			}
			if !behind {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return errors.New("the in-process cluster did not settle in 30s")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// leader returns the node that believes it leads, or nil.
func (c *localCluster) leader() *localNode {
	for _, n := range c.nodes {
		if n.node.IsLeader() {
			return n
		}
	}
	return nil
}

// endpoints returns the nodes' gRPC addresses.
func (c *localCluster) endpoints() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.grpcAddr
	}
	return out
}

// close stops every node and removes a temporary data dir.
func (c *localCluster) close() {
	for _, n := range c.nodes {
		n.gs.Stop()
		n.srv.Close()
		n.node.Shutdown()
	}
	if c.logFile != nil {
		c.logFile.Close()
	}
	if c.removeDir {
		os.RemoveAll(c.dir)
	}
}
