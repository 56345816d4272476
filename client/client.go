package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	grpcbackoff "google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// Defaults for the zero values of Config.
const (
	DefaultMaxRetryElapsed = 2 * time.Minute
	DefaultAttemptTimeout  = 10 * time.Second
	DefaultKeyRetention    = 23 * time.Hour
)

// Config configures a Client. Only Endpoints is required.
type Config struct {
	// Endpoints are gRPC addresses (host:port) of some cluster nodes. Any
	// node accepts any call: followers forward to the leader. Nodes named
	// by a leader_address hint are dialled too, on demand.
	Endpoints []string
	// DialOptions are applied after the defaults (insecure transport
	// credentials, reconnect backoff capped at 3 s), so a
	// grpc.WithTransportCredentials here replaces the insecure default.
	DialOptions []grpc.DialOption
	// MaxRetryElapsed bounds how long one call keeps retrying an unknown
	// outcome (UNAVAILABLE, a timed-out attempt, a connection failure);
	// default 2 minutes. An attempt already in flight is let finish.
	MaxRetryElapsed time.Duration
	// AttemptTimeout bounds one attempt; default 10 s. A timed-out attempt
	// is retried with the same key; the caller's context bounds the whole
	// call. An Execute attempt waits at least its ExecuteRequest.Timeout
	// plus a second, since the cluster may take that long to decide.
	AttemptTimeout time.Duration
	// KeyRetention is the age past which an idempotency key is never sent
	// again; default 23 h. It must be below the cluster's --retention. A
	// key's age counts from the timestamp of a UUIDv7 key (such as the ones
	// the SDK mints), else from the start of the call.
	KeyRetention time.Duration
}

// withDefaults returns cfg with zero durations replaced by the defaults.
func (cfg Config) withDefaults() Config {
	if cfg.MaxRetryElapsed <= 0 {
		cfg.MaxRetryElapsed = DefaultMaxRetryElapsed
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = DefaultAttemptTimeout
	}
	if cfg.KeyRetention <= 0 {
		cfg.KeyRetention = DefaultKeyRetention
	}
	return cfg
}

// Client is a coordinator client for one cluster. It is safe for concurrent
// use by multiple goroutines. Close it when done.
type Client struct {
	cfg      Config
	dialOpts []grpc.DialOption

	mu        sync.Mutex
	endpoints []string                    // rotation order: configured, then learned
	conns     map[string]*grpc.ClientConn // one per endpoint, created lazily
	preferred string                      // the endpoint that answered last
	closed    bool
}

// New returns a Client for the cluster at cfg.Endpoints. It does not
// connect: each endpoint's connection is made on first use (grpc.NewClient),
// so New fails only on a malformed configuration.
func New(cfg Config) (*Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("tmcluster: Config.Endpoints is empty")
	}
	c := &Client{
		cfg:      cfg.withDefaults(),
		dialOpts: defaultDialOptions(cfg.DialOptions),
		conns:    make(map[string]*grpc.ClientConn),
	}
	for _, ep := range cfg.Endpoints {
		if ep == "" {
			_ = c.Close()
			return nil, errors.New("tmcluster: empty endpoint in Config.Endpoints")
		}
		if _, err := c.connLocked(ep); err != nil {
			_ = c.Close()
			return nil, err
		}
	}
	c.preferred = c.endpoints[0]
	return c, nil
}

// defaultDialOptions puts the SDK's defaults before the caller's options.
func defaultDialOptions(extra []grpc.DialOption) []grpc.DialOption {
	reconnect := grpcbackoff.DefaultConfig
	reconnect.BaseDelay = 100 * time.Millisecond
	reconnect.MaxDelay = 3 * time.Second
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: reconnect, MinConnectTimeout: 5 * time.Second}),
	}
	return append(opts, extra...)
}

// Close closes every connection. Calls made after Close fail with
// ErrClosed; calls in flight fail or end as their attempts do.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var errs []error
	for ep, cc := range c.conns {
		errs = append(errs, cc.Close())
		delete(c.conns, ep)
	}
	return errors.Join(errs...)
}

// conn returns the connection to endpoint, dialling it on first use.
func (c *Client) conn(endpoint string) (*grpc.ClientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	return c.connLocked(endpoint)
}

// connLocked is conn with c.mu held (or during New).
func (c *Client) connLocked(endpoint string) (*grpc.ClientConn, error) {
	if cc, ok := c.conns[endpoint]; ok {
		return cc, nil
	}
	cc, err := grpc.NewClient(endpoint, c.dialOpts...)
	if err != nil {
		return nil, fmt.Errorf("tmcluster: endpoint %q: %w", endpoint, err)
	}
	c.conns[endpoint] = cc
	c.endpoints = append(c.endpoints, endpoint)
	return cc, nil
}

// isClosed reports whether Close was called.
func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// current returns the endpoint to try first: the one that answered last.
func (c *Client) current() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.preferred
}

// answered records that endpoint answered, so later calls start there.
func (c *Client) answered(endpoint string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.preferred = endpoint
}

// after returns the endpoint that follows endpoint in the rotation.
func (c *Client) after(endpoint string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, ep := range c.endpoints {
		if ep == endpoint {
			return c.endpoints[(i+1)%len(c.endpoints)]
		}
	}
	return c.endpoints[0]
}

// Transactions returns a raw TransactionService client. Its calls go
// through the same endpoint failover and leader following as the Client's
// own, and retry unknown outcomes unless the request is an Execute or Begin
// without an idempotency key (which is sent once). Errors are the raw gRPC
// status errors of the last attempt.
func (c *Client) Transactions() tmv1.TransactionServiceClient {
	return tmv1.NewTransactionServiceClient(failoverConn{c})
}

// Cluster returns a raw ClusterService client with the same failover and
// retries as Transactions.
func (c *Client) Cluster() tmv1.ClusterServiceClient {
	return tmv1.NewClusterServiceClient(failoverConn{c})
}

// failoverConn is a grpc.ClientConnInterface that runs every unary call
// through the Client's retry loop: endpoint failover, leader following,
// backoff. It backs the raw clients of Transactions and Cluster.
type failoverConn struct{ c *Client }

// Invoke sends a unary call, retried like the SDK's own calls. An Execute
// or Begin without an idempotency key is sent once, since repeating it
// could create a second transaction. It returns the last attempt's raw
// gRPC error, or, when no attempt was sent, why not (the context's error,
// ErrKeyExpired or ErrClosed).
func (f failoverConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	r := f.c.retry(ctx, rawPolicy(args), func(ctx context.Context, cc *grpc.ClientConn) error {
		return cc.Invoke(ctx, method, args, reply, opts...)
	})
	if r.err != nil {
		return r.err
	}
	return r.stopped
}

// NewStream opens a stream on the endpoint that answered last, without
// failover: tm.v1 has no streaming methods today.
func (f failoverConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cc, err := f.c.conn(f.c.current())
	if err != nil {
		return nil, err
	}
	return cc.NewStream(ctx, desc, method, opts...)
}

// rawPolicy derives the retry policy of a raw request: the requests that
// carry an idempotency key (Execute, Begin) are retried only when it is set.
func rawPolicy(args any) policy {
	keyed, ok := args.(interface{ GetIdempotencyKey() string })
	if !ok {
		return policy{}
	}
	key := keyed.GetIdempotencyKey()
	if key == "" {
		return policy{once: true}
	}
	return policy{keyBorn: keyBirth(key, time.Now())}
}
