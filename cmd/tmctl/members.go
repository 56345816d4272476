package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/tmcluster/tmcluster/client"
	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

func newMembersCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "members", Short: "Change the Raft membership"}
	cmd.AddCommand(newMembersAddCmd(a), newMembersRemoveCmd(a), newTransferLeadershipCmd(a))
	return cmd
}

func newMembersAddCmd(a *app) *cobra.Command {
	var nonVoter bool
	cmd := &cobra.Command{
		Use:   "add ID RAFT_ADDR GRPC_ADDR",
		Short: "Add a node to the Raft configuration",
		Args:  cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withClient(cmd, func(ctx context.Context, c *client.Client) error {
				nodes, err := c.AddMember(ctx, args[0], args[1], args[2], nonVoter)
				if err != nil {
					return err
				}
				if a.json {
					return writeJSON(a.out, &tmv1.AddMemberResponse{Nodes: nodes})
				}
				return formatNodes(a.out, nodes, "")
			})
		},
	}
	cmd.Flags().BoolVar(&nonVoter, "non-voter", false, "join as a non-voter")
	return cmd
}

func newMembersRemoveCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a node from the Raft configuration",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withClient(cmd, func(ctx context.Context, c *client.Client) error {
				nodes, err := c.RemoveMember(ctx, args[0])
				if err != nil {
					return err
				}
				if a.json {
					return writeJSON(a.out, &tmv1.RemoveMemberResponse{Nodes: nodes})
				}
				return formatNodes(a.out, nodes, "")
			})
		},
	}
}

func newTransferLeadershipCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "transfer-leadership [ID]",
		Short: "Hand leadership to voter ID, or to any voter, and show the members",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			target := ""
			if len(args) == 1 {
				target = args[0]
			}
			return a.withClient(cmd, func(ctx context.Context, c *client.Client) error {
				before, _ := c.Status(ctx, "") // who led: not who leads after
				leader, err := c.TransferLeadership(ctx, target)
				if err != nil {
					return err
				}
				st, err := awaitLeader(ctx, c, leader, before.GetLeaderId())
				if err != nil {
					return fmt.Errorf("leadership was handed over, but no new leader was seen: %w", err)
				}
				if a.json {
					return writeJSON(a.out, &tmv1.TransferLeadershipResponse{LeaderId: st.GetLeaderId()})
				}
				if _, err := fmt.Fprintf(a.out, "leader: %s\n\n", st.GetLeaderId()); err != nil {
					return err
				}
				return formatNodes(a.out, st.GetNodes(), st.GetLeaderId())
			})
		},
	}
}

// leaderPoll is how often awaitLeader asks who leads.
const leaderPoll = 100 * time.Millisecond

// awaitLeader asks the cluster until a node names the new leader and
// returns that node's view. The new leader is leader when the old one
// already knew it as it stepped down (it often does not), else any leader
// other than old.
func awaitLeader(ctx context.Context, c *client.Client, leader, old string) (*tmv1.GetClusterStatusResponse, error) {
	for {
		st, err := c.Status(ctx, "")
		if err == nil && isNewLeader(st.GetLeaderId(), leader, old) {
			return st, nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
			return nil, err
		case <-time.After(leaderPoll):
		}
	}
}

// isNewLeader reports whether got is the leader awaitLeader waits for.
func isNewLeader(got, leader, old string) bool {
	switch {
	case got == "":
		return false
	case leader != "":
		return got == leader
	}
	return got != old
}
