package procs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// statusRPCTimeout bounds one GetClusterStatus call of the harness.
const statusRPCTimeout = time.Second

// Node is one tmd process: a Raft member with its gRPC and Raft addresses.
type Node struct {
	*Proc
	// ID is the Raft server id ("n1").
	ID string
	// GRPCAddr is the host:port of its gRPC API.
	GRPCAddr string
	// RaftAddr is the host:port of its Raft transport.
	RaftAddr string
	// DataDir holds its Raft log, stable store and snapshots.
	DataDir string

	connOnce sync.Once
	conn     *grpc.ClientConn
	connErr  error
}

// Start runs cfg.Nodes tmd processes: n1 with --bootstrap, then the others
// with --join n1's gRPC address. It returns once n1 leads, every node is in
// the Raft configuration, and every node answers and knows the leader.
func (c *Cluster) Start(ctx context.Context) error {
	if c.isStopped() {
		return ErrStopped
	}
	ports, err := freePorts(2 * c.cfg.Nodes)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if len(c.nodes) > 0 {
		c.mu.Unlock()
		return errors.New("procs: Start called twice")
	}
	for i := range c.cfg.Nodes {
		c.nodes = append(c.nodes, c.newNode(i, ports[2*i], ports[2*i+1]))
	}
	nodes := slices.Clone(c.nodes)
	c.mu.Unlock()

	if err := nodes[0].start(); err != nil {
		return err
	}
	if err := nodes[0].waitReady(ctx); err != nil {
		return err
	}
	for _, n := range nodes[1:] {
		if err := n.start(); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ReadyTimeout)
	defer cancel()
	return c.waitMembers(ctx, nodes)
}

// newNode prepares node i (id n<i+1>); n1 bootstraps, the others join n1.
func (c *Cluster) newNode(i, grpcPort, raftPort int) *Node {
	id := "n" + strconv.Itoa(i+1)
	n := &Node{
		ID:       id,
		GRPCAddr: loopback(grpcPort),
		RaftAddr: loopback(raftPort),
		DataDir:  filepath.Join(c.cfg.Dir, id),
	}
	args := []string{"--id", id, "--data-dir", n.DataDir, "--grpc-addr", n.GRPCAddr, "--raft-addr", n.RaftAddr}
	if i == 0 {
		args = append(args, "--bootstrap")
	} else {
		args = append(args, "--join", c.nodes[0].GRPCAddr)
	}
	n.Proc = c.newProc(id, "tmd", append(args, c.cfg.NodeArgs...))
	n.ready = n.knowsLeader
	return n
}

// Nodes returns the tmd nodes in id order.
func (c *Cluster) Nodes() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.nodes)
}

// Node returns the node with Raft id id, or nil.
func (c *Cluster) Node(id string) *Node {
	for _, n := range c.Nodes() {
		if n.ID == id {
			return n
		}
	}
	return nil
}

// Endpoints returns every node's gRPC address, for client.Config.
func (c *Cluster) Endpoints() []string {
	var out []string
	for _, n := range c.Nodes() {
		out = append(out, n.GRPCAddr)
	}
	return out
}

// Status asks this node (and only it) for its view of the cluster, with a
// one-second timeout.
func (n *Node) Status(ctx context.Context) (*tmv1.GetClusterStatusResponse, error) {
	conn, err := n.dial()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, statusRPCTimeout)
	defer cancel()
	return tmv1.NewClusterServiceClient(conn).GetClusterStatus(ctx, &tmv1.GetClusterStatusRequest{})
}

// dial returns the node's connection, made on first use. It reconnects
// on its own after a restart, with backoff capped at 200 ms so a restarted
// node is seen quickly.
func (n *Node) dial() (*grpc.ClientConn, error) {
	n.connOnce.Do(func() { n.conn, n.connErr = dialLoopback(n.GRPCAddr) })
	return n.conn, n.connErr
}

// close closes the node's connection, if one was made.
func (n *Node) close() error {
	n.connOnce.Do(func() { n.connErr = ErrStopped }) // no dial after close
	if n.conn == nil {
		return nil
	}
	return n.conn.Close()
}

// knowsLeader polls until the node answers GetClusterStatus and names a
// leader.
func (n *Node) knowsLeader(ctx context.Context) error {
	return poll(ctx, 50*time.Millisecond, func() error {
		st, err := n.Status(ctx)
		if err != nil {
			return err
		}
		if st.GetLeaderId() == "" {
			return errors.New("no leader known")
		}
		return nil
	})
}

// dialLoopback makes a lazily connecting, plaintext client connection.
func dialLoopback(addr string) (*grpc.ClientConn, error) {
	bo := backoff.DefaultConfig
	bo.BaseDelay, bo.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	return grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: bo, MinConnectTimeout: time.Second}))
}

// freePorts returns n distinct free TCP ports on 127.0.0.1, found by
// listening on port 0 (all listeners are held until every port is picked,
// so the ports differ).
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("procs: free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// poll calls try every interval until it returns nil or ctx ends; then the
// error names the last failure.
func poll(ctx context.Context, interval time.Duration, try func() error) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		err := try()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-t.C:
		}
	}
}
