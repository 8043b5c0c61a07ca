package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/bascule-migrate/bascule/state"
	"github.com/bascule-migrate/bascule/state/postgres"
)

// StatusOptions are the flags of status.
type StatusOptions struct {
	Queue string
	Runs  int
}

func (o *StatusOptions) AddFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.Queue, "queue", "", "fleet queue to show (default: every queue)")
	f.IntVar(&o.Runs, "runs", 10, "runs to list in text output, newest first (JSON lists them all)")
}

func newStatusCommand(g *GlobalOptions) *cobra.Command {
	o := &StatusOptions{}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show what the state store knows: runs, mailboxes, items by status, fleet workers",
		Long: `status reads the state store (a SQLite file, or a fleet's PostgreSQL database) and shows
the runs, every mailbox with its items by status and, when workers share the store, every
fleet queue (mailboxes pending, leased, done, failed) and every worker: the mailbox it holds,
the age of its last heartbeat, when its lease expires, and that mailbox's progress. A worker
whose lease has expired has probably died: another worker takes its mailbox over.`,
		Example: `  bascule status --state wave1.db
  bascule status --output json | jq '.mailboxes[] | select(.items.failed > 0)'

  # A fleet: watch the workers
  PGPASSWORD=… watch bascule status --state postgres://bascule@db.example.fr/bascule
  bascule status --state postgres://bascule@db/bascule --output json | jq '.workers[] | select(.expired)'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(cmd.Context(), o, g, cmd)
		},
	}
	o.AddFlags(cmd)
	return cmd
}

type statusMailbox struct {
	state.Mailbox
	Items map[state.Status]int64 `json:"items"`
	Bytes map[state.Status]int64 `json:"bytes"`
	// Kinds breaks Items down by kind: mail, calendar, contacts, tasks.
	Kinds map[string]map[state.Status]int64 `json:"kinds"`
	// Leases are the mailbox's places in the fleet queues (none without workers).
	Leases []statusLease `json:"leases,omitempty"`
}

// statusLease is one mailbox's place in a fleet queue.
type statusLease struct {
	Queue    string            `json:"queue"`
	Status   state.LeaseStatus `json:"status"`
	Worker   string            `json:"worker,omitempty"`
	Attempts int               `json:"attempts"`
	Expired  bool              `json:"expired,omitempty"`
	Error    string            `json:"error,omitempty"`
}

// statusQueue counts one fleet queue's mailboxes by lease status.
type statusQueue struct {
	Queue   string `json:"queue"`
	Pending int    `json:"pending"`
	Leased  int    `json:"leased"`
	// Expired counts leased mailboxes whose lease ran out (their worker probably died).
	Expired int `json:"expired"`
	Done    int `json:"done"`
	Failed  int `json:"failed"`
}

// statusWorker is one worker as the queue shows it.
type statusWorker struct {
	Worker string `json:"worker"`
	Queue  string `json:"queue"`
	// Mailbox is the address it holds now ("" when it holds none).
	Mailbox string `json:"mailbox,omitempty"`
	// Expired: its lease ran out without a heartbeat; the worker is probably dead.
	Expired          bool      `json:"expired"`
	LastHeartbeat    time.Time `json:"last_heartbeat"`
	HeartbeatAgeSecs float64   `json:"heartbeat_age_seconds"`
	LeaseExpires     time.Time `json:"lease_expires,omitzero"`
	// Progress of the mailbox it holds, from the items table.
	ItemsDone     int64 `json:"items_done"`
	ItemsInFlight int64 `json:"items_in_flight"`
	ItemsFailed   int64 `json:"items_failed"`
	BytesDone     int64 `json:"bytes_done"`
	// Mailboxes it finished (it was the last to hold them).
	MailboxesDone   int `json:"mailboxes_done"`
	MailboxesFailed int `json:"mailboxes_failed"`
}

func runStatus(ctx context.Context, o *StatusOptions, g *GlobalOptions, cmd *cobra.Command) error {
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
	counts := map[string]state.Counts{}
	for _, m := range mbs {
		c, err := store.Counts(ctx, m.ID)
		if err != nil {
			return err
		}
		counts[m.ID] = c
		out = append(out, statusMailbox{Mailbox: m, Items: c.Items, Bytes: c.Bytes, Kinds: c.Kinds})
	}
	var leases []state.Lease
	if q, ok := store.(state.Leaser); ok {
		if leases, err = q.Leases(ctx, o.Queue); err != nil {
			return err
		}
	}
	now := time.Now()
	byMailbox := map[string][]statusLease{}
	for _, l := range leases {
		byMailbox[l.Mailbox] = append(byMailbox[l.Mailbox], statusLease{Queue: l.Queue, Status: l.Status, Worker: l.Worker,
			Attempts: l.Attempts, Expired: l.Expired(now), Error: l.Error})
	}
	for i := range out {
		out[i].Leases = byMailbox[out[i].ID]
	}
	queues, workers, err := fleetStatus(ctx, store, leases, counts, now)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	if g.Output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		v := map[string]any{"state": stateName(g), "runs": runs, "mailboxes": out}
		if len(leases) > 0 {
			v["queues"], v["workers"] = queues, workers
		}
		return enc.Encode(v)
	}
	if len(workers) > 0 {
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "QUEUE\tPENDING\tLEASED\tEXPIRED\tDONE\tFAILED")
		for _, q := range queues {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\n", q.Queue, q.Pending, q.Leased, q.Expired, q.Done, q.Failed)
		}
		tw.Flush()
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "WORKER\tQUEUE\tSTATE\tMAILBOX\tHEARTBEAT\tLEASE\tITEMS DONE\tIN FLIGHT\tFAILED\tBYTES DONE\tMAILBOXES DONE\tMAILBOXES FAILED")
		for _, wk := range workers {
			st, mbx, lease := "idle", "-", "-"
			if wk.Mailbox != "" {
				st, mbx = "working", wk.Mailbox
				lease = "expires in " + wk.LeaseExpires.Sub(now).Round(100*time.Millisecond).String()
				if wk.Expired {
					st, lease = "DEAD?", "expired "+now.Sub(wk.LeaseExpires).Round(100*time.Millisecond).String()+" ago"
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s ago\t%s\t%d\t%d\t%d\t%s\t%d\t%d\n", wk.Worker, wk.Queue, st, mbx,
				time.Duration(wk.HeartbeatAgeSecs*float64(time.Second)).Round(100*time.Millisecond), lease,
				wk.ItemsDone, wk.ItemsInFlight, wk.ItemsFailed, humanBytes(wk.BytesDone), wk.MailboxesDone, wk.MailboxesFailed)
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTARTED\tCOMMAND\tSTATUS\tWRITTEN\tUPDATED\tDELETED\tFAILED\tBYTES")
	for i, r := range runs {
		if i == o.Runs {
			break
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", r.ID, r.Started.Format("2006-01-02 15:04:05"), r.Command, r.Status, r.Written, r.Updated, r.Deleted, r.Failed, humanBytes(r.Bytes))
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fleet := ""
	if len(leases) > 0 {
		fleet = "\tQUEUE: LEASE (WORKER)"
	}
	fmt.Fprintln(tw, "MAILBOX\tTARGET\tSTATUS\tDONE\tIN FLIGHT\tFAILED\tDELETED\tBYTES DONE\tDONE BY KIND"+fleet)
	for _, m := range out {
		var kinds []string
		for _, k := range []string{"mail", "calendar", "contacts", "tasks"} {
			if n := m.Kinds[k][state.StatusDone]; n > 0 {
				kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
			}
		}
		var ls []string
		for _, l := range m.Leases {
			x := fmt.Sprintf("%s: %s", l.Queue, l.Status)
			if l.Expired {
				x += " (expired)"
			}
			if l.Worker != "" {
				x += " (" + l.Worker + ")"
			}
			ls = append(ls, x)
		}
		lcol := ""
		if fleet != "" {
			lcol = "\t" + strings.Join(ls, ", ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s%s\n", m.Address, m.Target, m.Status,
			m.Items[state.StatusDone], m.Items[state.StatusInFlight], m.Items[state.StatusFailed], m.Items[state.StatusDeleted],
			humanBytes(m.Bytes[state.StatusDone]), strings.Join(kinds, ", "), lcol)
	}
	return tw.Flush()
}

// fleetStatus sums the queues and describes each worker from the leases: the mailbox it
// holds (with that mailbox's item counts), its last heartbeat, the mailboxes it finished.
func fleetStatus(ctx context.Context, store state.Store, leases []state.Lease, counts map[string]state.Counts, now time.Time) ([]statusQueue, []statusWorker, error) {
	qs := map[string]*statusQueue{}
	type wkey struct{ worker, queue string }
	ws := map[wkey]*statusWorker{}
	for _, l := range leases {
		q := qs[l.Queue]
		if q == nil {
			q = &statusQueue{Queue: l.Queue}
			qs[l.Queue] = q
		}
		switch l.Status {
		case state.LeasePending:
			q.Pending++
		case state.LeaseLeased:
			q.Leased++
			if l.Expired(now) {
				q.Expired++
			}
		case state.LeaseDone:
			q.Done++
		case state.LeaseFailed:
			q.Failed++
		}
		if l.Worker == "" {
			continue
		}
		k := wkey{l.Worker, l.Queue}
		w := ws[k]
		if w == nil {
			w = &statusWorker{Worker: l.Worker, Queue: l.Queue}
			ws[k] = w
		}
		if l.Heartbeat.After(w.LastHeartbeat) {
			w.LastHeartbeat = l.Heartbeat
		}
		switch l.Status {
		case state.LeaseDone:
			w.MailboxesDone++
		case state.LeaseFailed:
			w.MailboxesFailed++
		case state.LeaseLeased:
			w.Mailbox, w.LeaseExpires, w.Expired = l.Address, l.Expires, l.Expired(now)
			c, ok := counts[l.Mailbox]
			if !ok {
				var err error
				if c, err = store.Counts(ctx, l.Mailbox); err != nil {
					return nil, nil, err
				}
			}
			w.ItemsDone, w.ItemsInFlight, w.ItemsFailed = c.Items[state.StatusDone], c.Items[state.StatusInFlight], c.Items[state.StatusFailed]
			w.BytesDone = c.Bytes[state.StatusDone]
		}
	}
	queues := make([]statusQueue, 0, len(qs))
	for _, q := range qs {
		queues = append(queues, *q)
	}
	sort.Slice(queues, func(i, j int) bool { return queues[i].Queue < queues[j].Queue })
	workers := make([]statusWorker, 0, len(ws))
	for _, w := range ws {
		w.HeartbeatAgeSecs = now.Sub(w.LastHeartbeat).Seconds()
		workers = append(workers, *w)
	}
	sort.Slice(workers, func(i, j int) bool {
		if workers[i].Queue != workers[j].Queue {
			return workers[i].Queue < workers[j].Queue
		}
		return workers[i].Worker < workers[j].Worker
	})
	return queues, workers, nil
}
