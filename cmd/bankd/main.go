// Command bankd is the demo participant: a small account ledger that is a
// correct tmcluster 2PC participant, built on the participant kit.
//
//	bankd --listen 127.0.0.1:9101 --data-dir ./bank-a --accounts 10 --initial-balance 1000
//
// A branch payload is JSON {"account":"acct-3","amount":-250}: a debit is
// reserved at Prepare and votes NO when the balance net of reservations
// would go below zero; a credit is staged and spendable once committed.
// Besides tm.v1.ParticipantService it serves bank.v1.BankService, gRPC
// health and server reflection. SIGTERM or SIGINT stops it gracefully.
// With --tls-cert, --tls-key and --tls-ca it serves, and dials the
// coordinators when in doubt, over mutual TLS with that CA; register it with
// its certificate's CommonName as identity (tmctl participants add
// --identity).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}

// options are bankd's flags.
type options struct {
	listen         string
	dataDir        string
	accounts       int
	initialBalance int64
	coordinators   []string
	grace          time.Duration
	debug          bool
	// Mutual TLS: the certificate served and presented to the
	// coordinators, its key, and the CA every peer's certificate must be
	// signed by. All empty: plaintext.
	tlsCert, tlsKey, tlsCA string
}

// maxAccounts bounds --accounts.
const maxAccounts = 1_000_000

// parseFlags parses and checks the command line. It returns flag.ErrHelp
// after printing the usage for -h.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	var coordinators string
	fs := flag.NewFlagSet("bankd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:9101", "gRPC listen address `HOST:PORT`")
	fs.StringVar(&o.dataDir, "data-dir", "", "directory of the ledger's store (required)")
	fs.IntVar(&o.accounts, "accounts", 10, "number of accounts acct-0 … acct-(N-1), created on first start")
	fs.Int64Var(&o.initialBalance, "initial-balance", 1000, "balance of each account when created")
	fs.StringVar(&coordinators, "coordinators", "", "comma-separated coordinator gRPC addresses to ask when in doubt")
	fs.DurationVar(&o.grace, "grace", time.Second, "in-doubt grace after a branch's deadline")
	fs.BoolVar(&o.debug, "debug", false, "log at debug level")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate served and presented to the coordinators (its CommonName is the identity to register); empty: plaintext")
	fs.StringVar(&o.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&o.tlsCA, "tls-ca", "", "PEM CA: coordinators calling in, and those dialled to resolve, must present a certificate it signed")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "usage: bankd --data-dir DIR [--listen HOST:PORT] [flags]")
			fs.SetOutput(stderr)
			fs.PrintDefaults()
		}
		return o, err
	}
	for _, c := range strings.Split(coordinators, ",") {
		if c = strings.TrimSpace(c); c != "" {
			o.coordinators = append(o.coordinators, c)
		}
	}
	return o, o.check(fs.NArg())
}

func (o options) check(nargs int) error {
	switch {
	case nargs > 0:
		return errors.New("unexpected arguments")
	case o.listen == "":
		return errors.New("--listen is required")
	case o.dataDir == "":
		return errors.New("--data-dir is required")
	case o.accounts < 1 || o.accounts > maxAccounts:
		return fmt.Errorf("--accounts must be between 1 and %d", maxAccounts)
	case o.initialBalance < 0 || o.initialBalance > maxAmount:
		return fmt.Errorf("--initial-balance must be between 0 and %d", int64(maxAmount))
	case o.grace <= 0:
		return errors.New("--grace must be positive")
	case (o.tlsCert == "") != (o.tlsKey == ""):
		return errors.New("--tls-cert and --tls-key go together")
	case o.tlsCA != "" && o.tlsCert == "":
		return errors.New("--tls-ca needs --tls-cert and --tls-key")
	}
	return nil
}

// run is bankd without the process around it: it returns the exit status,
// and a start-up error is one line on stderr.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "bankd: %v (see bankd -h)\n", err)
		return 2
	}
	srv, err := newServer(opts, newLogger(stderr, opts.debug))
	if err != nil {
		fmt.Fprintf(stderr, "bankd: %v\n", err)
		return 1
	}
	if err := srv.serve(ctx); err != nil {
		fmt.Fprintf(stderr, "bankd: %v\n", err)
		return 1
	}
	return 0
}
