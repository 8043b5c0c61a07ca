package verify

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bascule-migrate/bascule/extract"
	davsink "github.com/bascule-migrate/bascule/load/dav"
	imapsink "github.com/bascule-migrate/bascule/load/imap"
	sievesink "github.com/bascule-migrate/bascule/load/sieve"
	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/planner"
	"github.com/bascule-migrate/bascule/state"
	"github.com/bascule-migrate/bascule/transform"
)

// Options say what to compare and how to reach both sides. Nothing is ever written: the
// source is only listed and read, the targets only SELECTed read-only / FETCHed (IMAP) and
// PROPFINDed / GET (DAV), and the state store only read.
type Options struct {
	Source    extract.Source
	Store     state.Store
	Selection extract.Selection
	// Targets maps lower-case source addresses to target logins (the mapping file); a
	// mailbox not in it goes to the target the state store recorded for it.
	Targets map[string]string

	// Mail: verify mail folders on the IMAP target IMAP (the same settings as migrate's).
	Mail bool
	IMAP *imapsink.Config
	// Kinds of groupware verified on the DAV target (nil: none).
	Kinds []model.CollectionKind
	DAV   *davsink.Sink

	// How migrate converted groupware records (the same --rewrite-domain, --vcard-version and
	// --default-time-zone must be given, or every object differs).
	Rewrite      transform.Rewriter
	VCardVersion string
	TimeZone     string

	// All compares the content of every item; otherwise Sample items per folder (or
	// SamplePercent of them, whichever is larger), chosen by Seed.
	All           bool
	Sample        int
	SamplePercent float64
	Seed          uint64
	// WindowStart, WindowEnd bound the event occurrences compared.
	WindowStart, WindowEnd time.Time

	// Permissions: compare the IMAP ACLs (on IMAP) and the DAV shares (on DAV) with what
	// migrate writes from the source's grants plus Grants (--exchange-csv-dir). Rules: compare
	// the active Sieve script (through Sieve) with the one migrate installs, under SievePolicy.
	Permissions bool
	Grants      planner.GrantSource
	// GrantProblems are the exports' entries that could not be resolved: manual actions.
	GrantProblems []string
	Rules         bool
	Sieve         *sievesink.Client
	SievePolicy   planner.SievePolicy

	MailboxParallel int
	Logger          *slog.Logger
}

// Run verifies every selected mailbox and returns the report. The error is non-nil only for
// what stops the whole verification (a fatal configuration error: bad admin credentials, a
// broken state store); the report is returned with it when there is one. An interrupted
// context gives a report with VerdictInterrupted and ctx's error.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Source == nil || o.Store == nil {
		return nil, errors.New("verify: a source and a state store are needed")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MailboxParallel <= 0 {
		o.MailboxParallel = 4
	}
	if o.WindowStart.IsZero() || o.WindowEnd.IsZero() {
		now := time.Now().UTC()
		o.WindowStart, o.WindowEnd = now.AddDate(-2, 0, 0), now.AddDate(2, 0, 0)
	}
	rep := &Report{Schema: SchemaVersion, Started: time.Now().UTC(), Differences: []Difference{}, Mailboxes: []MailboxReport{}}
	rep.Options = ReportOptions{All: o.All, Sample: o.Sample, SamplePercent: o.SamplePercent, Seed: o.Seed,
		WindowStart: o.WindowStart, WindowEnd: o.WindowEnd}
	if o.Mail && o.IMAP != nil {
		rep.Options.Kinds = append(rep.Options.Kinds, "mail")
	}
	if o.DAV != nil {
		for _, k := range o.Kinds {
			rep.Options.Kinds = append(rep.Options.Kinds, string(k))
		}
	}
	if o.Permissions {
		rep.Options.Kinds = append(rep.Options.Kinds, itemPermissions)
		rep.ManualActions = append(rep.ManualActions, planner.GrantProblemActions(o.GrantProblems)...)
	}
	if o.Rules {
		rep.Options.Kinds = append(rep.Options.Kinds, itemRules)
	}
	if o.VCardVersion == "" {
		o.VCardVersion = "3.0"
	}
	conv := planner.NewConverter(planner.ConvertOptions{Rewrite: o.Rewrite, VCardVersion: o.VCardVersion, TimeZone: o.TimeZone})

	mbs, err := o.Source.Mailboxes(ctx, o.Selection)
	if err != nil {
		return finish(ctx, rep), fmt.Errorf("listing the source's mailboxes: %w", err)
	}
	sort.Slice(mbs, func(i, j int) bool { return strings.ToLower(mbs[i].Address) < strings.ToLower(mbs[j].Address) })
	known, err := o.Store.Mailboxes(ctx)
	if err != nil {
		return finish(ctx, rep), fmt.Errorf("reading the state store: %w", err)
	}
	byID := map[string]state.Mailbox{}
	for _, m := range known {
		byID[m.ID] = m
	}

	results := make([]*mailboxVerifier, len(mbs))
	sem := make(chan struct{}, o.MailboxParallel)
	var wg sync.WaitGroup
	var fatalMu sync.Mutex
	var fatal error
	for i, mbx := range mbs {
		sm, inStore := byID[mbx.ID]
		target := o.Targets[strings.ToLower(mbx.Address)]
		if target == "" {
			target = sm.Target
		}
		mbx.Target = target
		v := &mailboxVerifier{o: &o, conv: conv, mbx: mbx, rep: MailboxReport{ID: mbx.ID, Address: mbx.Address, Target: target, Folders: []FolderReport{}}}
		results[i] = v
		if !inStore {
			v.rep.Error = "not in the state store: it was never migrated (run migrate first, with the same --state)"
			continue
		}
		if target == "" {
			v.rep.Error = "no target login known for this mailbox (give the mapping file)"
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			if err := v.run(ctx); err != nil {
				if errors.Is(err, model.ErrFatal) {
					fatalMu.Lock()
					if fatal == nil {
						fatal = err
					}
					fatalMu.Unlock()
				}
				if v.rep.Error == "" && ctx.Err() == nil {
					v.rep.Error = err.Error()
				}
			}
		}()
	}
	wg.Wait()
	for _, v := range results {
		rep.Mailboxes = append(rep.Mailboxes, v.rep)
		rep.Differences = append(rep.Differences, v.diffs...)
		rep.Errors = append(rep.Errors, v.problems...)
		rep.ManualActions = append(rep.ManualActions, v.manuals...)
		rep.NotVerifiable = append(rep.NotVerifiable, v.unverifiable...)
		if v.rep.Error != "" {
			rep.Errors = append(rep.Errors, Problem{Mailbox: v.mbx.Address, Message: v.rep.Error})
		}
	}
	finish(ctx, rep)
	if fatal != nil {
		return rep, fatal
	}
	if ctx.Err() != nil {
		return rep, ctx.Err()
	}
	return rep, nil
}

// finish totals the report and sets its verdict.
func finish(ctx context.Context, rep *Report) *Report {
	rep.Finished = time.Now().UTC()
	t := Totals{Mailboxes: len(rep.Mailboxes), Differences: map[DiffKind]int{}}
	for _, m := range rep.Mailboxes {
		for _, f := range m.Folders {
			t.Folders++
			t.Source.Items += f.Source.Items
			t.Source.Bytes += f.Source.Bytes
			t.Target.Items += f.Target.Items
			t.Target.Bytes += f.Target.Bytes
			t.Checked += f.Checked
			t.Occurrences += f.Occurrences
		}
	}
	for _, d := range rep.Differences {
		t.Differences[d.Kind]++
	}
	rep.Totals = t
	switch {
	case ctx.Err() != nil:
		rep.Verdict = VerdictInterrupted
	case len(rep.Differences) > 0:
		rep.Verdict = VerdictDifferences
	case len(rep.Errors) > 0:
		rep.Verdict = VerdictIncomplete
	default:
		rep.Verdict = VerdictOK
	}
	return rep
}

// mailboxVerifier verifies one mailbox; it is used by one goroutine.
type mailboxVerifier struct {
	o        *Options
	conv     planner.Converter
	mbx      model.Mailbox
	rep      MailboxReport
	diffs    []Difference
	problems []Problem
	// manuals and unverifiable: permissions and rules left to the administrator, and what
	// the target cannot show.
	manuals      []model.ManualAction
	unverifiable []Problem
}

func (v *mailboxVerifier) run(ctx context.Context) error {
	if v.o.Mail && v.o.IMAP != nil {
		if err := v.mail(ctx); err != nil {
			return err
		}
	}
	if v.o.DAV != nil && len(v.o.Kinds) > 0 {
		if _, ok := v.o.Source.(extract.GroupwareSource); ok {
			if err := v.groupware(ctx); err != nil {
				return err
			}
		}
	}
	if v.o.Permissions || v.o.Rules {
		if err := v.settings(ctx); err != nil {
			return err
		}
	}
	sortDiffs(v.diffs)
	return nil
}

// diff records one difference of this mailbox (and counts it in its folder).
func (v *mailboxVerifier) diff(f *FolderReport, d Difference) {
	d.Mailbox, d.Target = v.mbx.Address, v.mbx.Target
	if f != nil {
		d.ItemKind, d.Folder, d.FolderID = f.Kind, f.Path, f.ID
		f.Differences++
	}
	v.rep.Differences++
	v.diffs = append(v.diffs, d)
}

func (v *mailboxVerifier) problem(folder, msg string) {
	v.problems = append(v.problems, Problem{Mailbox: v.mbx.Address, Folder: folder, Message: msg})
}

func sortDiffs(ds []Difference) {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.ItemKind != b.ItemKind {
			return kindOrder(a.ItemKind) < kindOrder(b.ItemKind)
		}
		if a.Folder != b.Folder {
			return a.Folder < b.Folder
		}
		if a.ItemID != b.ItemID {
			return a.ItemID < b.ItemID
		}
		if a.TargetRef != b.TargetRef {
			return a.TargetRef < b.TargetRef
		}
		if a.Occurrence != b.Occurrence {
			return a.Occurrence < b.Occurrence
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Field < b.Field
	})
}

func kindOrder(k string) int {
	switch k {
	case "mail":
		return 0
	case string(model.KindCalendar):
		return 1
	case string(model.KindContacts):
		return 2
	case string(model.KindTasks):
		return 3
	case itemPermissions:
		return 4
	case itemRules:
		return 5
	}
	return 6
}

// sample chooses which of ids have their content compared: all with All, else the Sample (or
// SamplePercent) ids whose seeded hash is lowest. The choice depends only on the seed and the
// ids, not on their order: the same seed checks the same items again.
func (o *Options) sample(ids []string) map[string]bool {
	out := map[string]bool{}
	n := len(ids)
	if !o.All {
		k := o.Sample
		if p := int(math.Ceil(o.SamplePercent / 100 * float64(len(ids)))); p > k {
			k = p
		}
		n = min(k, len(ids))
	}
	if n == len(ids) {
		for _, id := range ids {
			out[id] = true
		}
		return out
	}
	type scored struct {
		id string
		h  uint64
	}
	ss := make([]scored, len(ids))
	for i, id := range ids {
		h := fnv.New64a()
		var seed [8]byte
		for j := range seed {
			seed[j] = byte(o.Seed >> (8 * j))
		}
		h.Write(seed[:])
		h.Write([]byte(id))
		ss[i] = scored{id, h.Sum64()}
	}
	sort.Slice(ss, func(i, j int) bool {
		if ss[i].h != ss[j].h {
			return ss[i].h < ss[j].h
		}
		return ss[i].id < ss[j].id
	})
	for _, s := range ss[:n] {
		out[s.id] = true
	}
	return out
}
