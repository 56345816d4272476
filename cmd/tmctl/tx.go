package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tmcluster/tmcluster/client"
	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

func newTxCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "tx", Short: "Inspect, abort and watch transactions"}
	cmd.AddCommand(newTxListCmd(a), newTxGetCmd(a), newTxAbortCmd(a), newTxWatchCmd(a))
	return cmd
}

func newTxListCmd(a *app) *cobra.Command {
	var (
		state     string
		labels    map[string]string
		limit     int
		olderThan time.Duration
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List recorded transactions, in tx id order",
		Long: "Lists recorded transactions in tx id order. --state and --label are filtered by\n" +
			"the cluster; --older-than by tmctl while it pages, so it may read many pages\n" +
			"to find --limit matches.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := parseState(state)
			if err != nil {
				return err
			}
			if olderThan < 0 || limit < 0 {
				return errors.New("--older-than and --limit must not be negative")
			}
			var keep func(*tmv1.Transaction) bool
			if olderThan > 0 {
				keep = createdBefore(time.Now().Add(-olderThan))
			}
			f := client.ListFilter{State: st, Labels: labels}
			return a.withClient(cmd, func(ctx context.Context, c *client.Client) error {
				l, err := listTx(ctx, c, f, limit, keep)
				if err != nil {
					return err
				}
				if a.json {
					return writeJSON(a.out, &tmv1.ListTransactionsResponse{Transactions: l.txs, NextPageToken: l.next})
				}
				return formatTxList(a.out, l)
			})
		},
	}
	cmd.Flags().StringVar(&state, "state", "", "only this state: committed, aborted, active or preparing")
	cmd.Flags().StringToStringVar(&labels, "label", nil, "only transactions with this label k=v; repeatable")
	cmd.Flags().DurationVar(&olderThan, "older-than", 0, "only transactions created more than this long ago (e.g. 10m)")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many transactions; 0 for all")
	return cmd
}

// createdBefore keeps the transactions created before cutoff.
func createdBefore(cutoff time.Time) func(*tmv1.Transaction) bool {
	return func(tx *tmv1.Transaction) bool {
		return tx.GetCreateTime() != nil && tx.GetCreateTime().AsTime().Before(cutoff)
	}
}

// txListing is what listTx found.
type txListing struct {
	txs []*tmv1.Transaction
	// next is the token of the page right after txs, "" when there is
	// none or when txs ends inside a page (a --older-than cut).
	next string
	// more: the listing stopped at --limit with records left unread.
	more bool
}

// listTx pages through the cluster until limit transactions (0: all) that
// keep accepts (nil: every one) were found.
func listTx(ctx context.Context, c *client.Client, f client.ListFilter, limit int, keep func(*tmv1.Transaction) bool) (txListing, error) {
	var l txListing
	for {
		f.PageSize = pageSize(limit, len(l.txs), keep != nil)
		txs, next, err := c.List(ctx, f)
		if err != nil {
			return txListing{}, err
		}
		for _, tx := range txs {
			if keep != nil && !keep(tx) {
				continue
			}
			if limit > 0 && len(l.txs) == limit {
				// A match past --limit inside the page: the server's
				// token would skip the rest of it, so none is given.
				l.more = true
				return l, nil
			}
			l.txs = append(l.txs, tx)
		}
		if next == "" {
			return l, nil
		}
		if limit > 0 && len(l.txs) == limit {
			l.next, l.more = next, true
			return l, nil
		}
		f.PageToken = next
	}
}

// pageSize asks for what is still missing when the cluster does all the
// filtering, so a listing cut at --limit ends on a page boundary; with a
// client-side filter it reads pages of at least 100.
func pageSize(limit, have int, clientFilter bool) int32 {
	const maxPage = 1000 // the server's cap
	if limit == 0 {
		return maxPage
	}
	n := limit - have
	if clientFilter {
		n = max(n, 100)
	}
	return int32(min(n, maxPage))
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
