// Package devca makes a development certificate authority and the
// certificates a local tmcluster needs for mutual TLS: one per node, per
// participant and per operator. It is used by `make certs` (certs/gencerts)
// and by the tests, which issue their certificates into t.TempDir().
//
// Keys are ECDSA P-256; every leaf certificate is valid for both server and
// client authentication (nodes and participants are both), carries its
// name as the Subject CommonName (the identity tmcluster checks), and has
// the SANs 127.0.0.1 and localhost so it serves on loopback. It is for
// development and tests only: the CA key is written next to the
// certificates, unencrypted.
package devca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// validity is how long the certificates made here stay valid.
const validity = 365 * 24 * time.Hour

// CA is a certificate authority that can issue leaf certificates.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	// CertPEM is Cert, PEM-encoded.
	CertPEM []byte
}

// NewCA makes a self-signed CA named commonName.
func NewCA(commonName string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("devca: CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"tmcluster development"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("devca: sign CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("devca: parse CA: %w", err)
	}
	return &CA{Cert: cert, Key: key, CertPEM: pemBlock("CERTIFICATE", der)}, nil
}

// Issue makes a leaf certificate for commonName, signed by the CA, usable
// as a TLS server and client certificate on 127.0.0.1 and localhost. It
// returns the certificate and its private key, PEM-encoded.
func (ca *CA) Issue(commonName string) (certPEM, keyPEM []byte, err error) {
	if commonName == "" {
		return nil, nil, errors.New("devca: empty common name")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("devca: key for %s: %w", commonName, err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName, Organization: []string{"tmcluster development"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("devca: sign %s: %w", commonName, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("devca: encode key of %s: %w", commonName, err)
	}
	return pemBlock("CERTIFICATE", der), pemBlock("PRIVATE KEY", keyDER), nil
}

// Files names the PEM files Write makes for one identity.
type Files struct {
	Cert, Key string
}

// Write makes a CA in dir (ca.pem, ca-key.pem) and, for each name,
// NAME.pem and NAME-key.pem signed by it. Existing files are overwritten.
// It returns the path of ca.pem and the files of each name.
func Write(dir string, names ...string) (caFile string, files map[string]Files, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("devca: %w", err)
	}
	ca, err := NewCA("tmcluster development CA")
	if err != nil {
		return "", nil, err
	}
	caKey, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return "", nil, fmt.Errorf("devca: encode CA key: %w", err)
	}
	caFile = filepath.Join(dir, "ca.pem")
	if err := writeFiles(caFile, ca.CertPEM, filepath.Join(dir, "ca-key.pem"), pemBlock("PRIVATE KEY", caKey)); err != nil {
		return "", nil, err
	}
	files = make(map[string]Files, len(names))
	for _, name := range names {
		certPEM, keyPEM, err := ca.Issue(name)
		if err != nil {
			return "", nil, err
		}
		f := Files{Cert: filepath.Join(dir, name+".pem"), Key: filepath.Join(dir, name+"-key.pem")}
		if err := writeFiles(f.Cert, certPEM, f.Key, keyPEM); err != nil {
			return "", nil, err
		}
		files[name] = f
	}
	return caFile, files, nil
}

// writeFiles writes a certificate (world-readable) and its key (owner only).
func writeFiles(certFile string, certPEM []byte, keyFile string, keyPEM []byte) error {
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	return nil
}

func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("devca: serial number: %w", err)
	}
	return n, nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
