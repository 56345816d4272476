package main

import (
	"context"
	"errors"
	"sync"

	"github.com/spf13/cobra"

	"github.com/tmcluster/tmcluster/client"
	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// nodeView is one --addr node's answer to GetClusterStatus.
type nodeView struct {
	addr   string
	status *tmv1.GetClusterStatusResponse
	err    error
}

func newStatusCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the cluster's members, leader, term and indexes",
		Long: "Asks every --addr node for its own view; the header comes from the leader's\n" +
			"view when it is among them, and each asked node reports its applied index.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withClient(cmd, func(ctx context.Context, c *client.Client) error {
				return a.status(ctx, c)
			})
		},
	}
}

// status asks every --addr node and prints what the answering ones said.
func (a *app) status(ctx context.Context, c *client.Client) error {
	views := askNodes(ctx, c, a.addrs)
	var answered []nodeView
	var errs []error
	for _, v := range views {
		if v.err != nil {
			errs = append(errs, v.err)
			continue
		}
		answered = append(answered, v)
	}
	if len(answered) == 0 {
		return errs[0]
	}
	for _, v := range views {
		if v.err != nil {
			a.warn(v.addr + ": " + describeError(v.err, []string{v.addr}))
		}
	}
	if a.json {
		for _, v := range answered {
			if err := writeJSON(a.out, v.status); err != nil {
				return err
			}
		}
		return nil
	}
	return formatStatus(a.out, views)
}

// askNodes asks each addr, concurrently, for its own view of the cluster.
func askNodes(ctx context.Context, c *client.Client, addrs []string) []nodeView {
	views := make([]nodeView, len(addrs))
	var wg sync.WaitGroup
	for i, addr := range addrs {
		wg.Go(func() {
			st, err := c.Status(ctx, addr)
			views[i] = nodeView{addr: addr, status: st, err: err}
		})
	}
	wg.Wait()
	return views
}

// warn prints a non-fatal problem on stderr.
func (a *app) warn(msg string) {
	_, _ = a.errOut.Write([]byte("tmctl: warning: " + msg + "\n"))
}

// errNoView is returned by referenceView when no node answered.
var errNoView = errors.New("no node answered")

// referenceView picks the view for the header: the leader's own, else the
// first that answered.
func referenceView(views []nodeView) (*tmv1.GetClusterStatusResponse, error) {
	var first *tmv1.GetClusterStatusResponse
	for _, v := range views {
		if v.err != nil {
			continue
		}
		if v.status.GetNodeId() != "" && v.status.GetNodeId() == v.status.GetLeaderId() {
			return v.status, nil
		}
		if first == nil {
			first = v.status
		}
	}
	if first == nil {
		return nil, errNoView
	}
	return first, nil
}
