package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/tmcluster/tmcluster/certs/devca"
	"github.com/tmcluster/tmcluster/client"
	bankv1 "github.com/tmcluster/tmcluster/proto/bank/v1"
)

func TestTLSFlagsGoTogether(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--tls-cert", "c.pem"},
		{"--tls-key", "k.pem"},
		{"--tls-ca", "ca.pem"},
	} {
		var stderr bytes.Buffer
		if code := run(context.Background(), append([]string{"--data-dir", t.TempDir()}, args...), &stderr); code != 2 ||
			!strings.Contains(stderr.String(), "--tls-") {
			t.Errorf("%v: exit %d, %q", args, code, stderr.String())
		}
	}
}

// With --tls-ca, bankd serves only clients whose certificate the CA signed.
func TestBankdServesMutualTLS(t *testing.T) {
	t.Parallel()
	ca, files, err := devca.Write(t.TempDir(), "bank-a", "n1")
	if err != nil {
		t.Fatal(err)
	}
	otherCA, other, err := devca.Write(t.TempDir(), "n1")
	if err != nil {
		t.Fatal(err)
	}
	opts := options{listen: "127.0.0.1:0", dataDir: t.TempDir(), accounts: 2, initialBalance: 10, grace: time.Second,
		tlsCert: files["bank-a"].Cert, tlsKey: files["bank-a"].Key, tlsCA: ca}
	srv, err := newServer(opts, newLogger(io.Discard, false))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.serve(ctx) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()

	ledger := func(opt grpc.DialOption) error {
		conn, err := grpc.NewClient(srv.addr(), opt)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		_, err = bankv1.NewBankServiceClient(conn).GetLedger(cctx, &bankv1.GetLedgerRequest{})
		return err
	}
	node, err := client.WithTLS(files["n1"].Cert, files["n1"].Key, ca)
	if err != nil {
		t.Fatal(err)
	}
	if err := ledger(node); err != nil {
		t.Fatalf("a certificate of the CA: %v", err)
	}
	if err := ledger(grpc.WithTransportCredentials(insecure.NewCredentials())); status.Code(err) != codes.Unavailable {
		t.Fatalf("plaintext: got %v, want refused", err)
	}
	foreign, err := client.WithTLS(other["n1"].Cert, other["n1"].Key, ca)
	if err != nil {
		t.Fatal(err)
	}
	if err := ledger(foreign); status.Code(err) != codes.Unavailable {
		t.Fatalf("a certificate of another CA (%s): got %v, want refused", otherCA, err)
	}
}
