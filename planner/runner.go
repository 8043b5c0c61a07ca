// Package planner turns a selection of mailboxes into work and runs it: every mailbox's
// folders and messages go from an extract.Source to a load.Sink, with every item's progress in
// a state.Store, exactly once across crashes and reruns.
package planner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/load"
	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/state"
	"github.com/bascule-migrate/bascule/transform"
)

// DeletePolicy says what a deletion on the source does to the target.
type DeletePolicy string

const (
	// DeletesKeep leaves the target copy in place (the default: a migration never loses mail).
	DeletesKeep DeletePolicy = "keep"
	// DeletesMirror removes the target copy too.
	DeletesMirror DeletePolicy = "mirror"
)

// Options configure a run. Zero values take the defaults noted.
type Options struct {
	Source extract.Source
	Sink   load.Sink
	Store  state.Store

	// Groupware: calendars, contacts and task lists of the Kinds listed go to GroupwareSink
	// (CalDAV/CardDAV), converted by Converter, when the source is an
	// extract.GroupwareSource. Nil GroupwareSink or empty Kinds: mail only.
	GroupwareSink load.GroupwareSink
	Kinds         []model.CollectionKind
	Converter     Converter
	// SkipMail leaves mail out (groupware only).
	SkipMail bool
	// Rewrite changes address domains (--rewrite-domain) in Sieve forwards and conditions
	// (the Converter carries its own for events and contacts).
	Rewrite transform.Rewriter

	// Settings (after a mailbox's items): Permissions carries grants — the source's own
	// (Graph calendar permissions) and Grants' (Exchange CSV exports) — as IMAP ACLs and DAV
	// shares; Rules carries inbox rules and out-of-office as a Sieve script through Sieve.
	// What cannot be carried becomes a manual action in the result.
	Permissions bool
	Rules       bool
	Grants      GrantSource
	// GrantProblems are identities or lines the grant exports could not resolve; they are
	// reported as manual actions.
	GrantProblems []string
	Sieve         SieveTarget
	SievePolicy   SievePolicy

	Selection extract.Selection
	// Mailboxes, when not nil, are the mailboxes to run as the source listed them, and the
	// source is not listed again (a fleet worker runs the mailbox it leased): see fleet.go.
	Mailboxes []model.Mailbox
	// Targets maps a source address (lower case) to the target login; an address that is not
	// in the map moves to the login equal to its address.
	Targets map[string]string

	MailboxParallel int // mailboxes at once, default 4
	ItemParallel    int // items in flight per mailbox, default 4 (Graph's per-mailbox concurrency)
	Deletes         DeletePolicy
	// DryRun reads the source and plans, writes nothing to the target nor to the store.
	DryRun bool
	// MaxMessageSize flags (dry-run) or refuses (run) messages larger than this; 0 = no limit.
	MaxMessageSize int64

	SpoolDir        string // temporary files for large bodies, default os.TempDir()
	MemoryItemLimit int64  // bodies up to this size stay in memory, default 1 MiB (less with much parallelism)
	MaxAttempts     int    // attempts per item within one run for retryable errors, default 5

	Command  string // recorded in the run journal
	Progress Progress
	Logger   *slog.Logger
}

// memorySpoolBudget bounds the message bodies a run holds in memory at once by default.
const memorySpoolBudget = 32 << 20

// Progress receives what a run does, for progress bars or logs. Implementations are called
// from many goroutines.
type Progress interface {
	MailboxStart(address string, estimatedItems int64)
	ItemDone(address string, bytes int64)
	MailboxDone(address string, err error)
}

// Counters count what a run did.
type Counters struct {
	Written   int64 `json:"written"`   // appended to the target
	Recovered int64 `json:"recovered"` // found already on the target after an interruption
	Updated   int64 `json:"updated"`   // flags changed
	Deleted   int64 `json:"deleted"`   // deletions recorded (and applied with mirror)
	Skipped   int64 `json:"skipped"`   // already done and unchanged
	Failed    int64 `json:"failed"`    // recorded as failed
	Bytes     int64 `json:"bytes"`     // bytes written
	// Dry-run plan.
	Planned      int64 `json:"planned"`
	PlannedBytes int64 `json:"planned_bytes"`
}

func (c *Counters) add(o *Counters) {
	c.Written += atomic.LoadInt64(&o.Written)
	c.Recovered += atomic.LoadInt64(&o.Recovered)
	c.Updated += atomic.LoadInt64(&o.Updated)
	c.Deleted += atomic.LoadInt64(&o.Deleted)
	c.Skipped += atomic.LoadInt64(&o.Skipped)
	c.Failed += atomic.LoadInt64(&o.Failed)
	c.Bytes += atomic.LoadInt64(&o.Bytes)
	c.Planned += atomic.LoadInt64(&o.Planned)
	c.PlannedBytes += atomic.LoadInt64(&o.PlannedBytes)
}

// Failure is one item that could not be moved.
type Failure struct {
	Mailbox string `json:"mailbox"`
	Folder  string `json:"folder"`
	ItemID  string `json:"item_id"`
	Subject string `json:"subject,omitempty"`
	Reason  string `json:"reason"`
}

// Problem is something that blocks or endangers a migration (mailbox level), found by a run
// or a dry-run.
type Problem struct {
	Mailbox  string `json:"mailbox,omitempty"`
	Severity string `json:"severity"` // "error" blocks; "warning" does not
	Message  string `json:"message"`
}

// MailboxResult is what happened to one mailbox.
type MailboxResult struct {
	Address        string   `json:"address"`
	Target         string   `json:"target"`
	Kind           string   `json:"kind,omitempty"`
	Folders        int      `json:"folders"`
	FoldersCreated []string `json:"folders_to_create,omitempty"`
	Counters
	// Kinds breaks the groupware part of the counters down by kind (calendar, contacts,
	// tasks); the mailbox's counters above include them.
	Kinds map[model.CollectionKind]Counters `json:"kinds,omitempty"`
	// Settings counts the grants, shares and Sieve rules carried.
	Settings *SettingsCounters `json:"settings,omitempty"`
	Error    string            `json:"error,omitempty"`
}

// Result is what a run did.
type Result struct {
	RunID     int64           `json:"run_id,omitempty"`
	DryRun    bool            `json:"dry_run"`
	Started   time.Time       `json:"started"`
	Finished  time.Time       `json:"finished"`
	Mailboxes []MailboxResult `json:"mailboxes"`
	Totals    Counters        `json:"totals"`
	// Kinds totals the groupware counters by kind.
	Kinds    map[model.CollectionKind]Counters `json:"kinds,omitempty"`
	Failures []Failure                         `json:"failures"`
	Problems []Problem                         `json:"problems"`
	// ManualActions are what the migration could not carry, with the exact instruction for
	// the administrator, per mailbox.
	ManualActions []model.ManualAction `json:"manual_actions"`
	Interrupted   bool                 `json:"interrupted"`
}

// Blocking reports whether the result holds problems of severity "error".
func (r *Result) Blocking() bool {
	for _, p := range r.Problems {
		if p.Severity == "error" {
			return true
		}
	}
	return false
}

// Run executes the migration described by opts. It returns an error only when the run as a
// whole could not go on (source unreachable, store broken); per-item and per-mailbox trouble
// is in the Result. A cancelled ctx stops the run cleanly: Result.Interrupted is set and
// every item is either done or left to be resumed.
func Run(ctx context.Context, opts Options) (*Result, error) {
	o := opts
	if o.MailboxParallel <= 0 {
		o.MailboxParallel = 4
	}
	if o.ItemParallel <= 0 {
		o.ItemParallel = 4
	}
	if o.Deletes == "" {
		o.Deletes = DeletesKeep
	}
	if o.MemoryItemLimit <= 0 {
		// Bodies in memory are bounded by memorySpoolBudget over every item in flight, so
		// that more parallelism never means more memory (1 MiB each at most, 64 KiB at least).
		o.MemoryItemLimit = min(1<<20, max(64<<10, memorySpoolBudget/int64(o.MailboxParallel*o.ItemParallel)))
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.SpoolDir == "" {
		o.SpoolDir = os.TempDir()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = nopProgress{}
	}
	if o.Command == "" {
		o.Command = "migrate"
	}
	store, sink, gsink := o.Store, o.Sink, o.GroupwareSink
	if o.DryRun {
		store = state.ReadOnly(store)
		sink = load.DryRun(sink)
		if gsink != nil {
			gsink = load.DryRunGroupware(gsink)
		}
	}
	if gsink != nil && len(o.Kinds) > 0 && o.Converter == nil {
		return nil, fmt.Errorf("planner: groupware needs a Converter")
	}
	res := &Result{DryRun: o.DryRun, Started: time.Now(), Failures: []Failure{}, Problems: []Problem{}, ManualActions: []model.ManualAction{}}
	if o.Permissions {
		res.ManualActions = append(res.ManualActions, GrantProblemActions(o.GrantProblems)...)
	}

	mailboxes, err := o.listMailboxes(ctx)
	if err != nil {
		if errors.Is(err, model.ErrNotFound) {
			res.Problems = append(res.Problems, Problem{Severity: "error", Message: err.Error()})
			res.Finished = time.Now()
			return res, nil
		}
		return nil, fmt.Errorf("listing mailboxes: %w", err)
	}
	runID, err := store.BeginRun(ctx, o.Command)
	if err != nil {
		return nil, model.Fatal(fmt.Errorf("state store: %w", err))
	}
	res.RunID = runID

	com := newCommitter(store)
	r := &runner{opts: o, store: store, sink: sink, gsink: gsink, com: com, res: res}
	results := make([]*mailboxRun, len(mailboxes))
	sem := make(chan struct{}, o.MailboxParallel)
	var wg sync.WaitGroup
	for i, mbx := range mailboxes {
		mbx.Target = o.target(mbx)
		mr := &mailboxRun{r: r, mbx: mbx, folderLocks: map[string]*uidSet{}}
		results[i] = mr
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				mr.err = ctx.Err()
				return
			}
			defer func() { <-sem }()
			mr.run(ctx)
		}()
	}
	wg.Wait()
	com.close()

	for _, mr := range results {
		mres := MailboxResult{Address: mr.mbx.Address, Target: mr.mbx.Target, Kind: mr.mbx.Kind,
			Folders: mr.folders, FoldersCreated: mr.created}
		mres.Counters.add(&mr.c)
		for k, c := range mr.kinds {
			if mres.Kinds == nil {
				mres.Kinds = map[model.CollectionKind]Counters{}
			}
			var one Counters
			one.add(c)
			mres.Kinds[k] = one
			if res.Kinds == nil {
				res.Kinds = map[model.CollectionKind]Counters{}
			}
			tot := res.Kinds[k]
			tot.add(c)
			res.Kinds[k] = tot
		}
		if mr.err != nil && !errors.Is(mr.err, context.Canceled) {
			mres.Error = mr.err.Error()
			res.Problems = append(res.Problems, Problem{Mailbox: mr.mbx.Address, Severity: "error", Message: mr.err.Error()})
		}
		res.Totals.add(&mr.c)
		res.Mailboxes = append(res.Mailboxes, mres)
		res.Failures = append(res.Failures, mr.failures...)
		res.Problems = append(res.Problems, mr.problems...)
		res.ManualActions = append(res.ManualActions, mr.manuals...)
		if o.Permissions || o.Rules {
			sc := mr.settings
			res.Mailboxes[len(res.Mailboxes)-1].Settings = &sc
		}
	}
	res.Interrupted = ctx.Err() != nil
	res.Finished = time.Now()
	status := "done"
	switch {
	case res.Interrupted:
		status = "interrupted"
	case res.Totals.Failed > 0 || res.Blocking():
		status = "failed"
	}
	t := res.Totals
	if err := store.FinishRun(context.WithoutCancel(ctx), state.Run{ID: runID, Started: res.Started, Finished: res.Finished,
		Command: o.Command, Status: status, Written: t.Written + t.Recovered, Updated: t.Updated, Deleted: t.Deleted,
		Failed: t.Failed, Skipped: t.Skipped, Bytes: t.Bytes}); err != nil {
		return res, model.Fatal(fmt.Errorf("state store: %w", err))
	}
	if r.storeErr.Load() != nil {
		return res, model.Fatal(fmt.Errorf("state store: %w", *r.storeErr.Load()))
	}
	return res, nil
}

func (o *Options) target(m model.Mailbox) string {
	if t, ok := o.Targets[strings.ToLower(m.Address)]; ok && t != "" {
		return t
	}
	if m.Target != "" {
		return m.Target
	}
	return m.Address
}

type runner struct {
	opts     Options
	store    state.Store
	sink     load.Sink
	gsink    load.GroupwareSink
	com      *committer
	res      *Result
	storeErr atomic.Pointer[error]
}

type nopProgress struct{}

func (nopProgress) MailboxStart(string, int64) {}
func (nopProgress) ItemDone(string, int64)     {}
func (nopProgress) MailboxDone(string, error)  {}
