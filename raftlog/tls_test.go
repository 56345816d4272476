package raftlog

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/tmcluster/tmcluster/certs/devca"
)

// mtlsConfig loads name's certificate from a devca folder, trusting only
// that folder's CA, as tmd does.
func mtlsConfig(t *testing.T, caFile string, f devca.Files) *tls.Config {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert},
		RootCAs: pool, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
}

func newTestTLSLayer(t *testing.T, cfg *tls.Config) *tlsStreamLayer {
	t.Helper()
	l, err := newTLSStreamLayer("127.0.0.1:0", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, cfg, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	l.advertise = l.Listener.Addr()
	return l
}

// acceptRead accepts one connection and reports what reading it gave.
func acceptRead(l *tlsStreamLayer) <-chan error {
	done := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		buf := make([]byte, 5)
		_, err = io.ReadFull(c, buf)
		if err == nil && string(buf) != "hello" {
			err = io.ErrUnexpectedEOF
		}
		done <- err
	}()
	return done
}

// The Raft transport over TLS: members with certificates of the cluster's
// CA talk; a plaintext peer and a peer with another CA's certificate are
// cut off at the handshake, before a byte reaches Raft.
func TestTLSStreamLayer(t *testing.T) {
	dir := t.TempDir()
	caFile, files, err := devca.Write(dir, "n1", "n2")
	if err != nil {
		t.Fatal(err)
	}
	otherCA, otherFiles, err := devca.Write(t.TempDir(), "n2")
	if err != nil {
		t.Fatal(err)
	}
	l1 := newTestTLSLayer(t, mtlsConfig(t, caFile, files["n1"]))
	l2 := newTestTLSLayer(t, mtlsConfig(t, caFile, files["n2"]))

	t.Run("members talk", func(t *testing.T) {
		got := acceptRead(l1)
		c, err := l2.Dial(raft.ServerAddress(l1.Addr().String()), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		if err := <-got; err != nil {
			t.Fatalf("member's bytes not received: %v", err)
		}
	})

	t.Run("plaintext refused", func(t *testing.T) {
		got := acceptRead(l1)
		c, err := net.Dial("tcp", l1.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, _ = c.Write([]byte("hello"))
		if err := <-got; err == nil {
			t.Fatal("plaintext bytes reached the transport")
		}
	})

	t.Run("other CA refused", func(t *testing.T) {
		got := acceptRead(l1)
		foreign := newTestTLSLayer(t, mtlsConfig(t, otherCA, otherFiles["n2"]))
		c, err := foreign.Dial(raft.ServerAddress(l1.Addr().String()), 2*time.Second)
		if err == nil {
			// TLS 1.3 may finish the client's side before the server
			// checked the client's certificate: the server must still refuse.
			_, _ = c.Write([]byte("hello"))
			defer c.Close()
		}
		if err := <-got; err == nil {
			t.Fatal("a peer with another CA's certificate reached the transport")
		}
	})

	t.Run("silent peer times out", func(t *testing.T) {
		got := acceptRead(l1)
		c, err := net.Dial("tcp", l1.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		select {
		case err := <-got:
			if err == nil {
				t.Fatal("silent peer's connection read data")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("handshake of a silent peer was not bounded")
		}
	})
}
