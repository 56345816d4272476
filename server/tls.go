package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// LoadTLSConfig loads a node's PEM files into one TLS 1.3 configuration
// for all three of its links: the gRPC API it serves, the Raft transport
// (raftlog.Config.TLS) and its dials to participants and peers. With
// caFile, only that CA is trusted, both to verify the servers dialled and
// to demand and verify a client certificate from every caller
// (tls.RequireAndVerifyClientCert): plaintext and foreign certificates are
// refused at the handshake. Without caFile, servers dialled are verified
// against the system roots and callers are not asked for a certificate.
//
// It mirrors client.TLSConfig, which this package may not import.
func LoadTLSConfig(certFile, keyFile, caFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("server: a TLS certificate and its key are both required")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("server: load TLS certificate: %w", err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}}
	if caFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("server: read TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("server: no PEM certificate in TLS CA file %s", caFile)
	}
	cfg.RootCAs, cfg.ClientCAs = pool, pool
	cfg.ClientAuth = tls.RequireAndVerifyClientCert
	return cfg, nil
}

// CertificateIdentity is the identity tmcluster reads from the first
// certificate of cfg: its Subject CommonName ("" when cfg has none).
func CertificateIdentity(cfg *tls.Config) (string, error) {
	if cfg == nil || len(cfg.Certificates) == 0 || len(cfg.Certificates[0].Certificate) == 0 {
		return "", nil
	}
	leaf := cfg.Certificates[0].Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(cfg.Certificates[0].Certificate[0]); err != nil {
			return "", fmt.Errorf("server: parse TLS certificate: %w", err)
		}
	}
	return leaf.Subject.CommonName, nil
}
