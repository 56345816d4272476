package client

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"

	"github.com/tmcluster/tmcluster/certs/devca"
)

func TestTLSConfig(t *testing.T) {
	ca, files, err := devca.Write(t.TempDir(), "admin")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := TLSConfig(files["admin"].Cert, files["admin"].Key, ca)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS13 || len(cfg.Certificates) != 1 || cfg.RootCAs == nil ||
		cfg.ClientCAs == nil || cfg.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Fatalf("config %+v", cfg)
	}
	if cfg, err := TLSConfig("", "", ca); err != nil || len(cfg.Certificates) != 0 || cfg.RootCAs == nil {
		t.Fatalf("CA only: %+v, %v", cfg, err)
	}
	if _, err := WithTLS(files["admin"].Cert, files["admin"].Key, ca); err != nil {
		t.Fatal(err)
	}

	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("nothing"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][3]string{
		"cert without key": {files["admin"].Cert, "", ca},
		"key without cert": {"", files["admin"].Key, ca},
		"missing cert":     {"/nonexistent.pem", files["admin"].Key, ca},
		"missing CA":       {files["admin"].Cert, files["admin"].Key, "/nonexistent.pem"},
		"CA not PEM":       {files["admin"].Cert, files["admin"].Key, notPEM},
	} {
		if _, err := TLSConfig(args[0], args[1], args[2]); err == nil {
			t.Errorf("%s: no error", name)
		}
		if _, err := WithTLS(args[0], args[1], args[2]); err == nil {
			t.Errorf("%s: WithTLS no error", name)
		}
	}
}
