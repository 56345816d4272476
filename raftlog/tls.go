package raftlog

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// tlsStreamLayer is a raft.StreamLayer over TLS: the Raft transport between
// nodes, encrypted and, with a CA in the config, mutually authenticated
// (the config's ClientAuth decides what the listener demands of peers; its
// RootCAs what the dialler trusts). A peer that speaks plaintext or
// presents a certificate the CA did not sign fails the handshake, and its
// connection is closed before any Raft message is read.
type tlsStreamLayer struct {
	net.Listener // a TCP listener; Accept wraps each connection in TLS
	advertise    net.Addr
	config       *tls.Config
	timeout      time.Duration // bound on each handshake
}

var _ raft.StreamLayer = (*tlsStreamLayer)(nil)

// newTLSStreamLayer binds bindAddr. advertise is the address the other
// members dial, and must be a usable TCP address (not 0.0.0.0).
func newTLSStreamLayer(bindAddr string, advertise *net.TCPAddr, config *tls.Config, timeout time.Duration) (*tlsStreamLayer, error) {
	if advertise.IP == nil || advertise.IP.IsUnspecified() {
		return nil, fmt.Errorf("raftlog: raft address %s is not advertisable", advertise)
	}
	lis, err := net.Listen("tcp", bindAddr)
	if err != nil {
		return nil, err
	}
	config = config.Clone()
	if config.MinVersion < tls.VersionTLS13 {
		config.MinVersion = tls.VersionTLS13
	}
	return &tlsStreamLayer{Listener: lis, advertise: advertise, config: config, timeout: timeout}, nil
}

// Accept returns the next inbound connection. Its TLS handshake runs on
// the first Read or Write, in the goroutine that serves the connection, so
// a slow or silent peer never holds up the accept loop; it is bounded by
// the transport timeout.
func (l *tlsStreamLayer) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &handshakingConn{Conn: tls.Server(c, l.config), timeout: l.timeout}, nil
}

// Addr is the advertised address.
func (l *tlsStreamLayer) Addr() net.Addr { return l.advertise }

// Dial connects to another member and completes the TLS handshake within
// timeout. The server name checked is address's host.
func (l *tlsStreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: l.config}
	return d.DialContext(ctx, "tcp", string(address))
}

// handshakingConn is an accepted TLS connection that completes its
// handshake, within timeout, before the first byte is read or written.
type handshakingConn struct {
	*tls.Conn
	timeout time.Duration
	once    sync.Once
	err     error
}

func (c *handshakingConn) handshake() error {
	c.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		defer cancel()
		c.err = c.HandshakeContext(ctx)
	})
	return c.err
}

func (c *handshakingConn) Read(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *handshakingConn) Write(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}
