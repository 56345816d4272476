package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	"github.com/tmcluster/tmcluster/client"
)

// app holds the global flags and the output streams of one invocation.
type app struct {
	addrs   []string
	json    bool
	timeout time.Duration
	// Mutual TLS: the certificate presented, its key and the CA the
	// nodes' certificates must be signed by. All empty: plaintext.
	tlsCert, tlsKey, tlsCA string
	out                    io.Writer
	errOut                 io.Writer
}

// run executes tmctl with args and returns the process exit status.
func run(args []string, stdout, stderr io.Writer) int {
	a := &app{out: stdout, errOut: stderr}
	root := newRootCmd(a)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(stderr, "tmctl: "+describeError(err, a.addrs))
		return 1
	}
	return 0
}

// newRootCmd builds the command tree around a.
func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:           "tmctl",
		Short:         "Operate a tmcluster transaction-manager cluster",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringSliceVar(&a.addrs, "addr", []string{"127.0.0.1:7001"},
		"gRPC address of a cluster node; comma-separated or repeated")
	pf.BoolVar(&a.json, "json", false, "print the responses as protojson, one per line")
	pf.DurationVar(&a.timeout, "timeout", 10*time.Second, "give up after this long")
	pf.StringVar(&a.tlsCert, "tls-cert", "", "PEM client certificate (its CommonName is your identity); empty: plaintext")
	pf.StringVar(&a.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	pf.StringVar(&a.tlsCA, "tls-ca", "", "PEM CA that signed the nodes' certificates (dial over TLS)")
	root.AddCommand(newStatusCmd(a), newTxCmd(a), newParticipantsCmd(a), newMembersCmd(a))
	return root
}

// withClient runs fn with a client for --addr and a context bounded by
// --timeout.
func (a *app) withClient(cmd *cobra.Command, fn func(context.Context, *client.Client) error) error {
	dialOpts, err := a.dialOptions()
	if err != nil {
		return err
	}
	c, err := client.New(client.Config{
		Endpoints:       a.addrs,
		DialOptions:     dialOpts,
		AttemptTimeout:  a.timeout,
		MaxRetryElapsed: a.timeout,
	})
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), a.timeout)
	defer cancel()
	return fn(ctx, c)
}

// dialOptions are TLS with --tls-cert/--tls-key/--tls-ca, else none (the
// SDK's plaintext default).
func (a *app) dialOptions() ([]grpc.DialOption, error) {
	if a.tlsCert == "" && a.tlsKey == "" && a.tlsCA == "" {
		return nil, nil
	}
	opt, err := client.WithTLS(a.tlsCert, a.tlsKey, a.tlsCA)
	if err != nil {
		return nil, err
	}
	return []grpc.DialOption{opt}, nil
}

// describeError renders err as the one line tmctl prints.
func describeError(err error, addrs []string) string {
	var e *client.Error
	hasStatus := errors.As(err, &e)
	switch {
	case errors.Is(err, client.ErrUnreachable):
		cause := err.Error()
		if hasStatus {
			cause = e.Message
		}
		return fmt.Sprintf("no node answered at %s: %s", strings.Join(addrs, ","), cause)
	case errors.Is(err, client.ErrOutcomeUnknown):
		return err.Error() + " (check with tmctl tx get)"
	case hasStatus:
		label := e.Reason
		if label == "" {
			label = e.Code.String()
		}
		return fmt.Sprintf("%s (%s)", e.Message, label)
	}
	return err.Error()
}
