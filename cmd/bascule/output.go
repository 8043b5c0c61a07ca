package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/planner"
)

// printResult prints a run's result as a human summary or as JSON (the CI verdict).
func printResult(w io.Writer, g *GlobalOptions, res *planner.Result) error {
	if g.Output == "json" {
		v := struct {
			Verdict string `json:"verdict"` // "ok", "problems", "failed", "interrupted"
			*planner.Result
		}{verdict(res), res}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	title := "Migration"
	if res.DryRun {
		title = "Dry-run (nothing written)"
	}
	fmt.Fprintf(w, "%s: %d mailbox(es), %s\n\n", title, len(res.Mailboxes), res.Finished.Sub(res.Started).Round(1e7))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	if res.DryRun {
		fmt.Fprintln(tw, "MAILBOX\tTARGET\tFOLDERS\tNEW FOLDERS\tTO COPY\tBYTES\tFLAG UPDATES\tDELETES")
		for _, m := range res.Mailboxes {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%d\t%d\n", m.Address, m.Target, m.Folders, len(m.FoldersCreated), m.Planned, humanBytes(m.PlannedBytes), m.Updated, m.Deleted)
		}
	} else {
		fmt.Fprintln(tw, "MAILBOX\tTARGET\tFOLDERS\tWRITTEN\tRECOVERED\tUPDATED\tDELETED\tUNCHANGED\tFAILED\tBYTES")
		for _, m := range res.Mailboxes {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", m.Address, m.Target, m.Folders, m.Written, m.Recovered, m.Updated, m.Deleted, m.Skipped, m.Failed, humanBytes(m.Bytes))
		}
	}
	tw.Flush()
	if len(res.Kinds) > 0 {
		// Calendars, contacts and tasks, apart from mail (the table above counts them all).
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		if res.DryRun {
			fmt.Fprintln(tw, "KIND	TO COPY	UPDATES	DELETES	FAILED")
		} else {
			fmt.Fprintln(tw, "KIND	WRITTEN	RECOVERED	UPDATED	DELETED	UNCHANGED	FAILED")
		}
		for _, k := range []model.CollectionKind{model.KindCalendar, model.KindContacts, model.KindTasks} {
			c, ok := res.Kinds[k]
			if !ok {
				continue
			}
			if res.DryRun {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", k, c.Planned, c.Updated, c.Deleted, c.Failed)
			} else {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\n", k, c.Written, c.Recovered, c.Updated, c.Deleted, c.Skipped, c.Failed)
			}
		}
		tw.Flush()
	}
	if len(res.Failures) > 0 {
		fmt.Fprintf(w, "\n%d item(s) failed (they are retried at the next run):\n", len(res.Failures))
		for i, f := range res.Failures {
			if i == 50 {
				fmt.Fprintf(w, "  … and %d more (see --output json or bascule status)\n", len(res.Failures)-50)
				break
			}
			fmt.Fprintf(w, "  %s / %s: %q: %s\n", f.Mailbox, f.Folder, f.Subject, f.Reason)
		}
	}
	if len(res.ManualActions) > 0 {
		fmt.Fprintf(w, "\nManual actions (%d): what could not be carried, and what to do\n", len(res.ManualActions))
		for _, a := range res.ManualActions {
			mbx := a.Mailbox
			if mbx == "" {
				mbx = "(all)"
			}
			fmt.Fprintf(w, "  %s: %s\n      why: %s\n      do:  %s\n", mbx, a.What, a.Why, strings.ReplaceAll(a.Instruction, "\n", "\n           "))
		}
	}
	if len(res.Problems) > 0 {
		fmt.Fprintf(w, "\nProblems:\n")
		for _, p := range res.Problems {
			fmt.Fprintf(w, "  [%s] %s %s\n", p.Severity, p.Mailbox, p.Message)
		}
	}
	fmt.Fprintf(w, "\nVerdict: %s\n", verdict(res))
	return nil
}

func verdict(res *planner.Result) string {
	switch {
	case res.Interrupted:
		return "interrupted"
	case res.Totals.Failed > 0:
		return "failed"
	case res.Blocking():
		return "problems"
	}
	return "ok"
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
