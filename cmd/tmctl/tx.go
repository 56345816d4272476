package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tmcluster/tmcluster/client"
	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

func newTxCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "tx", Short: "Inspect and abort transactions"}
	cmd.AddCommand(newTxListCmd(a), newTxGetCmd(a), newTxAbortCmd(a))
	return cmd
}

func newTxListCmd(a *app) *cobra.Command {
	var (
		state  string
		labels map[string]string
		limit  int
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List recorded transactions, in tx id order",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := parseState(state)
			if err != nil {
				return err
			}
			f := client.ListFilter{State: st, Labels: labels}
			return a.withClient(cmd, func(ctx context.Context, c *client.Client) error {
				txs, next, err := listTx(ctx, c, f, limit)
				if err != nil {
					return err
				}
				if a.json {
					return writeJSON(a.out, &tmv1.ListTransactionsResponse{Transactions: txs, NextPageToken: next})
				}
				return formatTxList(a.out, txs, next)
			})
		},
	}
	cmd.Flags().StringVar(&state, "state", "", "only this state: committed, aborted, active or preparing")
	cmd.Flags().StringToStringVar(&labels, "label", nil, "only transactions with this label k=v; repeatable")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many transactions; 0 for all")
	return cmd
}

// listTx pages through the cluster until limit transactions (0: all) and
// returns them with the token of the page after them ("" at the end).
func listTx(ctx context.Context, c *client.Client, f client.ListFilter, limit int) ([]*tmv1.Transaction, string, error) {
	var all []*tmv1.Transaction
	for {
		if limit > 0 {
			f.PageSize = int32(min(limit-len(all), 1000))
		}
		txs, next, err := c.List(ctx, f)
		if err != nil {
			return nil, "", err
		}
		all = append(all, txs...)
		if limit > 0 && len(all) >= limit {
			return all[:limit], next, nil
		}
		if next == "" {
			return all, "", nil
		}
		f.PageToken = next
	}
}

// parseState maps a --state value to its enum; "" is every state.
func parseState(s string) (tmv1.TransactionState, error) {
	if s == "" {
		return tmv1.TransactionState_TRANSACTION_STATE_UNSPECIFIED, nil
	}
	name := "TRANSACTION_STATE_" + strings.TrimPrefix(strings.ToUpper(s), "TRANSACTION_STATE_")
	v, ok := tmv1.TransactionState_value[name]
	if !ok || v == 0 {
		return 0, fmt.Errorf("unknown --state %q: want committed, aborted, active or preparing", s)
	}
	return tmv1.TransactionState(v), nil
}

func newTxGetCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "get TX_ID",
		Short: "Show one transaction and its branches",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withClient(cmd, func(ctx context.Context, c *client.Client) error {
				tx, err := c.Get(ctx, args[0])
				if err != nil {
					return err
				}
				if a.json {
					return writeJSON(a.out, &tmv1.GetTransactionResponse{Transaction: tx})
				}
				return formatTx(a.out, tx)
			})
		},
	}
}

func newTxAbortCmd(a *app) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "abort TX_ID",
		Short: "Decide a transaction ABORTED (refused once it is committed)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withClient(cmd, func(ctx context.Context, c *client.Client) error {
				res, err := c.Abort(ctx, args[0], reason)
				if err != nil {
					return err
				}
				if a.json {
					return writeJSON(a.out, &tmv1.AbortTransactionResponse{Transaction: res.Tx})
				}
				_, err = fmt.Fprintf(a.out, "%s aborted: %s\n", res.TxID, orDash(res.AbortReason))
				return err
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "aborted by operator", "recorded as the abort reason")
	return cmd
}
