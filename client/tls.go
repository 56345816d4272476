package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// TLSConfig loads PEM files into a TLS 1.3 configuration for mutual TLS,
// good for both ends of a connection, so a participant can serve and dial
// with the same one:
//   - certFile and keyFile (both or neither) are the certificate presented,
//     as a client and as a server. Its Subject CommonName is the identity
//     the cluster checks (admin identities, a participant's identity).
//   - caFile, if given, is the only CA trusted to sign the other end's
//     certificate: servers dialled must present one it signed, and a server
//     using this configuration demands one it signed from every client
//     (tls.RequireAndVerifyClientCert). Without it, servers are verified
//     against the system roots and clients are not asked for one.
func TLSConfig(certFile, keyFile, caFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS13}
	switch {
	case certFile != "" && keyFile != "":
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("tmcluster: load TLS certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case certFile != "" || keyFile != "":
		return nil, errors.New("tmcluster: a TLS certificate and its key go together")
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("tmcluster: read TLS CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tmcluster: no PEM certificate in TLS CA file %s", caFile)
		}
		cfg.RootCAs, cfg.ClientCAs = pool, pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// WithTLS is a grpc.DialOption that dials over TLS with the files of
// TLSConfig; put it in Config.DialOptions (or the participant kit's) to
// replace the default plaintext.
func WithTLS(certFile, keyFile, caFile string) (grpc.DialOption, error) {
	cfg, err := TLSConfig(certFile, keyFile, caFile)
	if err != nil {
		return nil, err
	}
	return grpc.WithTransportCredentials(credentials.NewTLS(cfg)), nil
}
