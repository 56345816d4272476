package main

import (
	"io"
	"strings"
	"testing"

	"github.com/tmcluster/tmcluster/certs/devca"
)

func TestTLSFlags(t *testing.T) {
	base := []string{"--id", "n1", "--data-dir", t.TempDir()}
	for _, tc := range []struct {
		args []string
		err  string // "" when the flags are accepted
	}{
		{nil, ""},
		{[]string{"--tls-cert", "c.pem", "--tls-key", "k.pem"}, ""},
		{[]string{"--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-ca", "ca.pem", "--admin-identities", "admin, ops ,"}, ""},
		{[]string{"--tls-cert", "c.pem"}, "go together"},
		{[]string{"--tls-key", "k.pem"}, "go together"},
		{[]string{"--tls-ca", "ca.pem"}, "needs --tls-cert"},
		{[]string{"--tls-cert", "c.pem", "--tls-key", "k.pem", "--admin-identities", "admin"}, "needs --tls-ca"},
	} {
		o, err := parseFlags(append(append([]string{}, base...), tc.args...), io.Discard)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%v: %v", tc.args, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%v: got %v, want an error containing %q", tc.args, err, tc.err)
		case tc.err == "" && strings.Contains(strings.Join(tc.args, " "), "admin-identities") &&
			strings.Join(o.tls.admins, ",") != "admin,ops":
			t.Errorf("admins = %q", o.tls.admins)
		}
	}
}

// With mutual TLS, a node's certificate must name its id: the other nodes
// trust calls it forwards by that name.
func TestTLSCertificateMustNameTheNode(t *testing.T) {
	ca, files, err := devca.Write(t.TempDir(), "n1", "n2")
	if err != nil {
		t.Fatal(err)
	}
	o := tlsOptions{cert: files["n1"].Cert, key: files["n1"].Key, ca: ca}
	tr, err := o.load("n1")
	if err != nil || tr.config == nil || len(tr.serverOptions()) != 1 || tr.raft() == nil {
		t.Fatalf("load n1: %+v, %v", tr, err)
	}
	if _, err := o.load("n2"); err == nil || !strings.Contains(err.Error(), "must be its id") {
		t.Fatalf("n1's certificate for node n2: %v", err)
	}
	o.ca = "" // TLS without client authentication: no identities are used
	if _, err := o.load("n2"); err != nil {
		t.Fatal(err)
	}
	if tr, err := (&tlsOptions{}).load("n1"); err != nil || tr.config != nil || tr.raft() != nil || len(tr.dialOptions()) != 1 {
		t.Fatalf("plaintext: %+v, %v", tr, err)
	}
}
