package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tmcluster/tmcluster/client"
	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

func newTxWatchCmd(a *app) *cobra.Command {
	var (
		state  string
		labels map[string]string
	)
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Stream transaction changes live from one node, until Ctrl-C",
		Long: "Streams WatchTransactions from the first --addr node that accepts it (a watch\n" +
			"is not forwarded: every node streams the changes it applies) and prints one\n" +
			"line per change: receive time, tx id, state, completed, branch@participant=state\n" +
			"(a count per state past 4 branches) and the abort reason. With --json, one\n" +
			"WatchTransactionsResponse per line. --timeout bounds opening the watch only.\n\n" +
			"Ctrl-C ends it with exit status 0. A watcher that falls too far behind is cut\n" +
			"off by the node (RESOURCE_EXHAUSTED) and exits 1: watch again.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := parseState(state)
			if err != nil {
				return err
			}
			// Ctrl-C (or SIGTERM) is how a watch normally ends: it
			// cancels the stream and tmctl exits 0.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return a.watch(ctx, &tmv1.WatchTransactionsRequest{State: st, Labels: labels})
		},
	}
	cmd.Flags().StringVar(&state, "state", "", "only changes that leave a transaction in this state: committed, aborted, active or preparing")
	cmd.Flags().StringToStringVar(&labels, "label", nil, "only transactions with this label k=v; repeatable")
	return cmd
}

// watch streams req's changes to a.out until ctx ends (nil) or the node
// ends the stream (an error saying how).
func (a *app) watch(ctx context.Context, req *tmv1.WatchTransactionsRequest) error {
	stream, addr, closeConn, err := a.openWatch(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer closeConn()
	_, _ = fmt.Fprintf(a.errOut, "tmctl: watching %s%s (Ctrl-C to stop)\n", addr, describeWatch(req))
	for {
		resp, err := stream.Recv()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return watchEnded(addr, err)
		}
		if a.json {
			err = writeJSON(a.out, resp)
		} else {
			_, err = fmt.Fprintln(a.out, formatWatchLine(time.Now(), resp.GetTransaction()))
		}
		if err != nil {
			return err
		}
	}
}

// openWatch opens the watch on the first --addr node that accepts it
// within --timeout. The node sends its headers once the watch is in place,
// so a node that is down or does not answer is skipped here, and one that
// refuses the request (bad labels) ends the search. closeConn ends the
// stream and closes the connection.
func (a *app) openWatch(ctx context.Context, req *tmv1.WatchTransactionsRequest) (
	stream grpc.ServerStreamingClient[tmv1.WatchTransactionsResponse], addr string, closeConn func(), err error) {
	dialOpts, err := a.dialOptions()
	if err != nil {
		return nil, "", nil, err
	}
	var causes []string
	for _, addr := range a.addrs {
		c, err := client.New(client.Config{Endpoints: []string{addr}, DialOptions: dialOpts})
		if err != nil {
			return nil, "", nil, err
		}
		streamCtx, cancel := context.WithCancel(ctx)
		timer := time.AfterFunc(a.timeout, cancel)
		stream, err := c.Transactions().WatchTransactions(streamCtx, req)
		if err == nil {
			_, err = stream.Header()
		}
		timedOut := !timer.Stop()
		if err == nil && !timedOut {
			return stream, addr, func() { cancel(); _ = c.Close() }, nil
		}
		cancel()
		_ = c.Close()
		switch {
		case ctx.Err() != nil:
			return nil, "", nil, ctx.Err()
		case timedOut:
			causes = append(causes, fmt.Sprintf("%s: no answer within %v", addr, a.timeout))
		case status.Code(err) == codes.Unavailable:
			causes = append(causes, addr+": "+status.Convert(err).Message())
		default:
			return nil, "", nil, fmt.Errorf("%s refused the watch: %s", addr, statusLine(err))
		}
	}
	return nil, "", nil, fmt.Errorf("no node answered at %s: %s", strings.Join(a.addrs, ","), strings.Join(causes, "; "))
}

// watchEnded explains a stream the node ended.
func watchEnded(addr string, err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%s ended the watch", addr)
	}
	if status.Code(err) == codes.ResourceExhausted {
		return fmt.Errorf("%s ended the watch with RESOURCE_EXHAUSTED (%s): changes after the last one printed were missed; watch again",
			addr, status.Convert(err).Message())
	}
	return fmt.Errorf("%s ended the watch: %s", addr, statusLine(err))
}

// statusLine renders a raw gRPC error as "message (REASON)", or with the
// code when it carries no ErrorInfo.
func statusLine(err error) string {
	st := status.Convert(err)
	label := st.Code().String()
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() != "" {
			label = info.GetReason()
		}
	}
	return fmt.Sprintf("%s (%s)", st.Message(), label)
}

// describeWatch renders the watch's filter for the "watching" note.
func describeWatch(req *tmv1.WatchTransactionsRequest) string {
	var parts []string
	if req.GetState() != tmv1.TransactionState_TRANSACTION_STATE_UNSPECIFIED {
		parts = append(parts, "state "+txState(req.GetState()))
	}
	if len(req.GetLabels()) > 0 {
		parts = append(parts, "labels "+labels(req.GetLabels()))
	}
	if len(parts) == 0 {
		return ""
	}
	return ", " + strings.Join(parts, ", ")
}
