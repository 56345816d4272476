package devca

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"testing"
)

func TestWriteIssuesVerifiableCertificates(t *testing.T) {
	dir := t.TempDir()
	caFile, files, err := Write(dir, "n1", "bank-a")
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.pem holds no certificate")
	}
	for name, f := range files {
		pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		leaf := pair.Leaf
		if leaf.Subject.CommonName != name {
			t.Errorf("%s: CommonName %q", name, leaf.Subject.CommonName)
		}
		for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost", KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		if err := leaf.VerifyHostname("127.0.0.1"); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if !leaf.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) {
			t.Errorf("%s: IPs %v", name, leaf.IPAddresses)
		}
		if st, err := os.Stat(f.Key); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: key file mode %v, %v", name, st.Mode(), err)
		}
	}
}
