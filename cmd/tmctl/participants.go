package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tmcluster/tmcluster/client"
	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

func newParticipantsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "participants", Short: "Manage the participant registry"}
	cmd.AddCommand(newParticipantsAddCmd(a), newParticipantsListCmd(a), newParticipantsRemoveCmd(a))
	return cmd
}

func newParticipantsAddCmd(a *app) *cobra.Command {
	var identity string
	cmd := &cobra.Command{
		Use:   "add NAME TARGET",
		Short: "Register a participant name at a gRPC dial target, or re-target it",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withClient(cmd, func(ctx context.Context, c *client.Client) error {
				p, err := c.RegisterParticipantWithIdentity(ctx, args[0], args[1], identity)
				if err != nil {
					return err
				}
				if a.json {
					return writeJSON(a.out, &tmv1.RegisterParticipantResponse{Participant: p})
				}
				_, err = fmt.Fprintf(a.out, "registered %s at %s\n", p.GetName(), p.GetTarget())
				return err
			})
		},
	}
	cmd.Flags().StringVar(&identity, "identity", "",
		"the CommonName of the participant's TLS certificate: with mutual TLS, only it may resolve this participant's branches")
	return cmd
}

func newParticipantsListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the registered participants",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withClient(cmd, func(ctx context.Context, c *client.Client) error {
				ps, err := c.ListParticipants(ctx)
				if err != nil {
					return err
				}
				if a.json {
					return writeJSON(a.out, &tmv1.ListParticipantsResponse{Participants: ps})
				}
				return formatParticipants(a.out, ps)
			})
		},
	}
}

func newParticipantsRemoveCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a participant (refused while it has incomplete branches)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withClient(cmd, func(ctx context.Context, c *client.Client) error {
				if err := c.RemoveParticipant(ctx, args[0]); err != nil {
					return err
				}
				if a.json {
					return writeJSON(a.out, &tmv1.RemoveParticipantResponse{})
				}
				_, err := fmt.Fprintf(a.out, "removed %s\n", args[0])
				return err
			})
		},
	}
}
