package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/bascule-migrate/bascule/state"
	"github.com/bascule-migrate/bascule/state/postgres"
)

func newStatusCommand(g *GlobalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show what the state file knows: runs, mailboxes, items by status",
		Example: `  bascule status --state wave1.db
  bascule status --output json | jq '.mailboxes[] | select(.items.failed > 0)'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(cmd.Context(), g, cmd)
		},
	}
}

type statusMailbox struct {
	state.Mailbox
	Items map[state.Status]int64 `json:"items"`
	Bytes map[state.Status]int64 `json:"bytes"`
	// Kinds breaks Items down by kind: mail, calendar, contacts, tasks.
	Kinds map[string]map[state.Status]int64 `json:"kinds"`
}

func runStatus(ctx context.Context, g *GlobalOptions, cmd *cobra.Command) error {
	if !postgres.IsDSN(g.StatePath) {
		if _, err := os.Stat(g.StatePath); err != nil {
			return &exitError{code: exitConfig, err: fmt.Errorf("no state file at %s (give --state, or run migrate first)", g.StatePath)}
		}
	}
	store, err := openStore(ctx, g)
	if err != nil {
		return &exitError{code: exitConfig, err: fmt.Errorf("opening the state store %s: %w", stateName(g), err)}
	}
	defer store.Close()
	runs, err := store.Runs(ctx)
	if err != nil {
		return err
	}
	mbs, err := store.Mailboxes(ctx)
	if err != nil {
		return err
	}
	var out []statusMailbox
	for _, m := range mbs {
		c, err := store.Counts(ctx, m.ID)
		if err != nil {
			return err
		}
		out = append(out, statusMailbox{Mailbox: m, Items: c.Items, Bytes: c.Bytes, Kinds: c.Kinds})
	}
	w := cmd.OutOrStdout()
	if g.Output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"runs": runs, "mailboxes": out})
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTARTED\tCOMMAND\tSTATUS\tWRITTEN\tUPDATED\tDELETED\tFAILED\tBYTES")
	for i, r := range runs {
		if i == 10 {
			break
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", r.ID, r.Started.Format("2006-01-02 15:04:05"), r.Command, r.Status, r.Written, r.Updated, r.Deleted, r.Failed, humanBytes(r.Bytes))
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MAILBOX\tTARGET\tSTATUS\tDONE\tIN FLIGHT\tFAILED\tDELETED\tBYTES DONE\tDONE BY KIND")
	for _, m := range out {
		var kinds []string
		for _, k := range []string{"mail", "calendar", "contacts", "tasks"} {
			if n := m.Kinds[k][state.StatusDone]; n > 0 {
				kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\n", m.Address, m.Target, m.Status,
			m.Items[state.StatusDone], m.Items[state.StatusInFlight], m.Items[state.StatusFailed], m.Items[state.StatusDeleted],
			humanBytes(m.Bytes[state.StatusDone]), strings.Join(kinds, ", "))
	}
	return tw.Flush()
}
