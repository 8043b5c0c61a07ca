package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/planner"
	"github.com/bascule-migrate/bascule/state"
)

func init() { registerCommand(newWorkerCommand) }

// WorkerOptions are the flags of worker: migrate's, plus the fleet's.
type WorkerOptions struct {
	MigrateOptions
	Queue     string
	WorkerID  string
	LeaseTTL  time.Duration
	Heartbeat time.Duration
	Poll      time.Duration
	Attempts  int
}

func (o *WorkerOptions) AddFlags(cmd *cobra.Command) {
	o.MigrateOptions.AddFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.Queue, "queue", "migrate", "name of the fleet's work queue in the state store (a new name for a new pass, e.g. the cutover delta)")
	f.StringVar(&o.WorkerID, "worker-id", "", "this worker's name in the queue (default: host name and process id)")
	f.DurationVar(&o.LeaseTTL, "lease-ttl", 2*time.Minute, "how long a mailbox stays leased without a heartbeat; a dead worker's mailbox is taken over after this")
	f.DurationVar(&o.Heartbeat, "heartbeat", 0, "interval between lease renewals (default: a quarter of --lease-ttl)")
	f.DurationVar(&o.Poll, "poll", 0, "wait between tries when every remaining mailbox is leased by another worker (default: --heartbeat)")
	f.IntVar(&o.Attempts, "lease-attempts", 3, "leases of a mailbox whose run fails as a whole (target account unreachable, source error) before it is marked failed; until then it goes back to the queue")
}

func newWorkerCommand(g *GlobalOptions) *cobra.Command {
	o := &WorkerOptions{}
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Migrate as one of a fleet: lease mailboxes one by one from a shared state store (PostgreSQL)",
		Long: `worker runs one share of a migration that many workers, on many machines, carry out
together. Every worker is started with the same flags as migrate and the same --state, a
PostgreSQL database (postgres://…); a SQLite file works for workers on one machine.

Each worker enqueues the selected mailboxes (idempotently: all workers may list the same
ones), then leases mailboxes one at a time (SELECT … FOR UPDATE SKIP LOCKED; up to
--mailbox-parallel at once), migrates each exactly as migrate would, renews its lease every
--heartbeat while it works, and marks it done or failed. A worker that dies stops renewing:
after --lease-ttl another worker takes its mailbox over and resumes it from the last
checkpoint in the store (nothing is written twice). A worker exits when no mailbox is left to
lease and none is held by another live worker. See docs/FLEET.md.

Watch the fleet with "bascule status --state postgres://…".

Exit codes: 0 every mailbox this worker handled is done, 1 usage/configuration error,
2 some items or mailboxes failed, 4 interrupted (its mailbox is given back to the queue).`,
		Example: `  # The same command on every machine (or as a systemd unit, or a Kubernetes Job with parallelism)
  export PGPASSWORD=… BASCULE_CLIENT_SECRET=… BASCULE_IMAP_ADMIN_PASSWORD=…
  bascule worker --state postgres://bascule@db.example.fr/bascule --config bascule.yaml --all \
      --metrics-addr :9464

  # A second pass (the cutover delta) in its own queue
  bascule worker --state postgres://bascule@db.example.fr/bascule --config bascule.yaml --all --queue cutover

  # Four workers on one machine sharing a SQLite file
  for i in 1 2 3 4; do bascule worker --state wave1.db --mapping wave1.csv --config bascule.yaml & done; wait`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWorker(cmd.Context(), o, g, cmd)
		},
	}
	o.AddFlags(cmd)
	return cmd
}

func runWorker(ctx context.Context, o *WorkerOptions, g *GlobalOptions, cmd *cobra.Command) error {
	usage := func(err error) error { return &exitError{code: exitConfig, err: err} }
	if o.DryRun {
		return usage(errors.New("worker does not dry-run: use migrate --dry-run"))
	}
	if o.LeaseTTL < time.Second {
		return usage(fmt.Errorf("--lease-ttl %v is too short (at least 1s)", o.LeaseTTL))
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = o.LeaseTTL / 4
	}
	if o.Heartbeat >= o.LeaseTTL {
		return usage(fmt.Errorf("--heartbeat %v must be shorter than --lease-ttl %v", o.Heartbeat, o.LeaseTTL))
	}
	if o.Poll <= 0 {
		o.Poll = o.Heartbeat
	}
	if o.Attempts < 1 {
		o.Attempts = 1
	}
	if o.WorkerID == "" {
		host, _ := os.Hostname()
		o.WorkerID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	popts, closeAll, err := o.prepare(ctx, g)
	if err != nil {
		return err
	}
	defer closeAll()
	store, err := openStore(ctx, g)
	if err != nil {
		return usage(fmt.Errorf("opening the state store %s: %w", stateName(g), err))
	}
	defer store.Close()
	queue, ok := store.(state.Leaser)
	if !ok {
		return usage(fmt.Errorf("the state store %s offers no work queue", stateName(g)))
	}
	popts.Store = store
	log := g.logger.With("worker", o.WorkerID, "queue", o.Queue)

	// Every worker enqueues the selection: the queue keeps one row per mailbox.
	mbs, err := popts.Source.Mailboxes(ctx, popts.Selection)
	if err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return usage(err)
		}
		return fmt.Errorf("listing mailboxes: %w", err)
	}
	var entries []state.Mailbox
	known := map[string]model.Mailbox{} // by source id: what the source listed, reused for each lease
	for _, m := range mbs {
		entries = append(entries, state.Mailbox{ID: m.ID, Address: m.Address, Target: mailboxTarget(popts.Targets, m)})
		known[m.ID] = m
	}
	added, err := queue.Enqueue(ctx, o.Queue, entries)
	if err != nil {
		return model.Fatal(fmt.Errorf("state store: %w", err))
	}
	log.Info("worker started", "mailboxes", len(entries), "enqueued", added)

	prog := newProgress(g, cmd.ErrOrStderr())
	popts.Progress = g.observe(prog)
	total := &planner.Result{Started: time.Now(), Failures: []planner.Failure{}, Problems: []planner.Problem{}, ManualActions: []model.ManualAction{}}
	// --mailbox-parallel lanes, each leasing and migrating one mailbox at a time.
	var (
		mu       sync.Mutex
		failed   bool
		storeErr error
		lanes    sync.WaitGroup
	)
	lctx, stopLanes := context.WithCancel(ctx)
	defer stopLanes()
	// A lane waiting for a free mailbox wakes up when another lane of this worker releases
	// one (its own poll covers the other workers).
	var wakeMu sync.Mutex
	wake := make(chan struct{})
	wakeCh := func() chan struct{} {
		wakeMu.Lock()
		defer wakeMu.Unlock()
		return wake
	}
	notify := func() {
		wakeMu.Lock()
		close(wake)
		wake = make(chan struct{})
		wakeMu.Unlock()
	}
	for range max(o.MailboxParallel, 1) {
		lanes.Add(1)
		go func() {
			defer lanes.Done()
			var failingSince time.Time // the store has refused every Lease since then
			for lctx.Err() == nil {
				woken := wakeCh()
				l, err := queue.Lease(lctx, o.Queue, o.WorkerID, o.LeaseTTL)
				if err == nil || errors.Is(err, state.ErrQueueFinished) || errors.Is(err, state.ErrNoneFree) {
					failingSince = time.Time{}
				} else if lctx.Err() == nil && (failingSince.IsZero() || time.Since(failingSince) < o.LeaseTTL) {
					// The store may be failing over: try again for a lease's time to live.
					if failingSince.IsZero() {
						failingSince = time.Now()
					}
					log.Warn("leasing failed; retrying", "err", err)
					select {
					case <-lctx.Done():
					case <-time.After(o.Poll):
					}
					continue
				}
				switch {
				case errors.Is(err, state.ErrQueueFinished):
					return
				case errors.Is(err, state.ErrNoneFree):
					select {
					case <-lctx.Done():
					case <-woken:
					case <-time.After(o.Poll):
					}
					continue
				case err != nil:
					if lctx.Err() == nil {
						mu.Lock()
						storeErr = err
						mu.Unlock()
						stopLanes()
					}
					return
				}
				one := popts
				if m, ok := known[l.Mailbox]; ok {
					one.Mailboxes = []model.Mailbox{m}
				}
				// The queue says where the mailbox goes (the worker that enqueued it decided);
				// the rest of the mapping stays (grantees map through it).
				one.Targets = maps.Clone(popts.Targets)
				if one.Targets == nil {
					one.Targets = map[string]string{}
				}
				one.Targets[strings.ToLower(l.Address)] = l.Target
				res, outcome, _ := runLeased(ctx, o, queue, one, l, log)
				notify()
				if g.metrics != nil {
					g.metrics.leaseEnded(outcome)
				}
				if outcome == state.LeasePending && ctx.Err() == nil {
					// Given back after a failure: let some time pass before the next try.
					select {
					case <-lctx.Done():
					case <-time.After(o.Poll):
					}
				}
				mu.Lock()
				if res != nil {
					mergeResult(total, res)
				}
				if outcome == state.LeaseFailed {
					failed = true
				}
				mu.Unlock()
			}
		}()
	}
	lanes.Wait()
	if storeErr != nil {
		prog.Wait()
		return model.Fatal(fmt.Errorf("state store: %w", storeErr))
	}
	if ctx.Err() == nil {
		log.Info("queue finished: nothing left to lease")
	}
	prog.Wait()
	total.Finished = time.Now()
	total.Interrupted = ctx.Err() != nil
	if err := printResult(cmd.OutOrStdout(), g, total); err != nil {
		return err
	}
	g.lingerMetrics(ctx)
	switch {
	case total.Interrupted:
		return &exitError{code: exitInterrupted, err: errors.New("interrupted; the mailbox in progress went back to the queue: start a worker again to resume")}
	case failed || total.Totals.Failed > 0:
		return &exitError{code: exitItemsFailed}
	}
	return nil
}

// mailboxTarget is the target login of m: the mapping's, else the source's, else its address
// (as the planner decides).
func mailboxTarget(targets map[string]string, m model.Mailbox) string {
	if t := targets[strings.ToLower(m.Address)]; t != "" {
		return t
	}
	if m.Target != "" {
		return m.Target
	}
	return m.Address
}

// runLeased migrates the mailbox of lease l while a heartbeat keeps the lease alive, then
// releases it: done, failed (with the reason), or pending when the worker is interrupted. A
// lost lease (another worker took the mailbox over) cancels the run and releases nothing.
func runLeased(ctx context.Context, o *WorkerOptions, queue state.Leaser, popts planner.Options, l state.Lease,
	log interface {
		Info(string, ...any)
		Warn(string, ...any)
		Error(string, ...any)
	}) (*planner.Result, state.LeaseStatus, string) {
	log.Info("leased", "mailbox", l.Address, "attempt", l.Attempts)
	mctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var cur sync.Mutex
	held := l
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(o.Heartbeat)
		defer t.Stop()
		lastOK := time.Now()
		for {
			select {
			case <-stop:
				return
			case <-mctx.Done():
				return
			case <-t.C:
			}
			cur.Lock()
			nl, err := queue.Renew(mctx, held, o.LeaseTTL)
			if err == nil {
				held, lastOK = nl, time.Now()
			}
			cur.Unlock()
			switch {
			case errors.Is(err, state.ErrLeaseLost):
				cancel(err)
				return
			case err != nil && time.Since(lastOK) >= o.LeaseTTL:
				// The store is unreachable long enough for the lease to have expired: another
				// worker may be on this mailbox now.
				cancel(fmt.Errorf("%w: no heartbeat for %v: %v", state.ErrLeaseLost, time.Since(lastOK).Round(time.Second), err))
				return
			case err != nil:
				log.Warn("heartbeat failed; retrying", "mailbox", l.Address, "err", err)
			}
		}
	}()
	one := popts
	if one.Mailboxes == nil {
		// Enqueued by another worker from its own selection: ask the source.
		one.Selection = extract.Selection{Addresses: []string{l.Address}}
	}
	one.MailboxParallel = 1
	one.Command = fmt.Sprintf("worker %s: %s", o.WorkerID, l.Address)
	res, err := planner.Run(mctx, one)
	close(stop)
	wg.Wait()
	cur.Lock()
	final := held
	cur.Unlock()

	if cause := context.Cause(mctx); errors.Is(cause, state.ErrLeaseLost) {
		log.Error("lease lost: another worker took the mailbox over; leaving it", "mailbox", l.Address, "err", cause)
		if res != nil {
			res.Interrupted = false
		}
		return res, "", ""
	}
	rctx := context.WithoutCancel(ctx)
	outcome, reason := state.LeaseDone, ""
	switch {
	case ctx.Err() != nil:
		outcome, reason = state.LeasePending, "worker interrupted"
	case err != nil:
		outcome, reason = state.LeaseFailed, err.Error()
	case res != nil && len(res.Mailboxes) == 0:
		outcome, reason = state.LeaseFailed, "the source no longer lists this mailbox"
		for _, p := range res.Problems {
			reason = p.Message
		}
	case res != nil && res.Mailboxes[0].Error != "":
		outcome, reason = state.LeaseFailed, res.Mailboxes[0].Error
	}
	if outcome == state.LeaseFailed && l.Attempts < o.Attempts {
		// The mailbox failed as a whole: give it back for another try (maybe elsewhere).
		log.Warn("mailbox failed; back to the queue", "mailbox", l.Address, "attempt", l.Attempts, "of", o.Attempts, "err", reason)
		outcome = state.LeasePending
	}
	switch {
	case outcome != state.LeaseDone:
	case res != nil && res.Totals.Failed > 0:
		outcome, reason = state.LeaseFailed, fmt.Sprintf("%d item(s) failed (retried at the next pass)", res.Totals.Failed)
	}
	if rerr := queue.Release(rctx, final, outcome, reason); rerr != nil {
		log.Error("releasing the lease", "mailbox", l.Address, "err", rerr)
	} else {
		log.Info("released", "mailbox", l.Address, "status", outcome, "reason", reason)
	}
	if err != nil && res == nil {
		res = &planner.Result{Problems: []planner.Problem{{Mailbox: l.Address, Severity: "error", Message: err.Error()}}}
	}
	return res, outcome, reason
}

// mergeResult adds one mailbox's run to the worker's total.
func mergeResult(total, r *planner.Result) {
	total.Mailboxes = append(total.Mailboxes, r.Mailboxes...)
	t, c := &total.Totals, r.Totals
	t.Written += c.Written
	t.Recovered += c.Recovered
	t.Updated += c.Updated
	t.Deleted += c.Deleted
	t.Skipped += c.Skipped
	t.Failed += c.Failed
	t.Bytes += c.Bytes
	for k, kc := range r.Kinds {
		if total.Kinds == nil {
			total.Kinds = map[model.CollectionKind]planner.Counters{}
		}
		tk := total.Kinds[k]
		tk.Written += kc.Written
		tk.Recovered += kc.Recovered
		tk.Updated += kc.Updated
		tk.Deleted += kc.Deleted
		tk.Skipped += kc.Skipped
		tk.Failed += kc.Failed
		tk.Bytes += kc.Bytes
		total.Kinds[k] = tk
	}
	total.Failures = append(total.Failures, r.Failures...)
	total.Problems = append(total.Problems, r.Problems...)
	total.ManualActions = append(total.ManualActions, r.ManualActions...)
}
