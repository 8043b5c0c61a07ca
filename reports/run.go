package reports

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/bascule-migrate/bascule/state"
)

// RunSchema is RunReport.Schema.
const RunSchema = "bascule.run-report/1"

// RunReport is what the state store knows about a migration: its runs, every mailbox's
// progress, the failures with their reasons, the throughput over time and the size
// distribution of what was written. Its JSON is run.json (schema: reports/schema/run.schema.json).
type RunReport struct {
	Schema    string    `json:"schema"`
	Generated time.Time `json:"generated"`
	// Runs, newest first.
	Runs   []RunInfo `json:"runs"`
	Totals RunTotals `json:"totals"`
	// Kinds: items per kind (mail, calendar, contacts, tasks), in that order.
	Kinds []KindTotals `json:"kinds"`
	// Mailboxes, by address.
	Mailboxes []RunMailbox `json:"mailboxes"`
	// Failures: every failed item and every failed mailbox, by mailbox and folder.
	Failures []RunFailure `json:"failures"`
	// Throughput: per run, the items done over time.
	Throughput []RunSeries `json:"throughput"`
	// Sizes: the items done by size.
	Sizes []SizeBucket `json:"sizes"`
}

// RunInfo is one run of the journal.
type RunInfo struct {
	ID       int64     `json:"id"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
	Command  string    `json:"command"`
	Status   string    `json:"status"`
	Written  int64     `json:"written"`
	Updated  int64     `json:"updated"`
	Deleted  int64     `json:"deleted"`
	Failed   int64     `json:"failed"`
	Skipped  int64     `json:"skipped"`
	Bytes    int64     `json:"bytes"`
}

// RunTotals sums every mailbox.
type RunTotals struct {
	Mailboxes int `json:"mailboxes"`
	// MailboxStatus counts mailboxes by status (pending, running, done, failed).
	MailboxStatus map[string]int `json:"mailbox_status"`
	Done          int64          `json:"done"`
	InFlight      int64          `json:"in_flight"`
	Failed        int64          `json:"failed"`
	Deleted       int64          `json:"deleted"`
	// Bytes is the size of the items done.
	Bytes int64 `json:"bytes"`
	// First and Last are the earliest and latest times an item was done.
	First time.Time `json:"first,omitzero"`
	Last  time.Time `json:"last,omitzero"`
}

// KindTotals counts one kind's items by status.
type KindTotals struct {
	Kind     string `json:"kind"`
	Done     int64  `json:"done"`
	InFlight int64  `json:"in_flight"`
	Failed   int64  `json:"failed"`
	Deleted  int64  `json:"deleted"`
	Bytes    int64  `json:"bytes"`
}

// RunMailbox is one mailbox's progress.
type RunMailbox struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	Target  string `json:"target"`
	Status  string `json:"status"`
	Error   string `json:"error,omitempty"`
	// Folders are mail folders; Collections groupware collections.
	Folders     int   `json:"folders"`
	Collections int   `json:"collections"`
	Done        int64 `json:"done"`
	InFlight    int64 `json:"in_flight"`
	Failed      int64 `json:"failed"`
	Deleted     int64 `json:"deleted"`
	Bytes       int64 `json:"bytes"`
	// Kinds counts the items done per kind.
	Kinds map[string]int64 `json:"kinds"`
	// First and Last bound the times its items were done.
	First time.Time `json:"first,omitzero"`
	Last  time.Time `json:"last,omitzero"`
}

// RunFailure is one failed item (ItemID set) or a failed mailbox (ItemID "").
type RunFailure struct {
	Mailbox string `json:"mailbox"`
	Target  string `json:"target"`
	// Folder is the source folder's display path.
	Folder   string    `json:"folder,omitempty"`
	Kind     string    `json:"kind,omitempty"`
	ItemID   string    `json:"item_id,omitempty"`
	Attempts int       `json:"attempts,omitempty"`
	Error    string    `json:"error"`
	Updated  time.Time `json:"updated,omitzero"`
}

// RunSeries is the throughput of one run: items done per bucket of BucketSeconds, from the
// items' last update times. RunID 0 gathers items done outside any recorded run window.
type RunSeries struct {
	RunID         int64             `json:"run_id"`
	BucketSeconds float64           `json:"bucket_seconds"`
	Points        []ThroughputPoint `json:"points"`
}

// ThroughputPoint is one bucket: the items and bytes done from Start for BucketSeconds.
type ThroughputPoint struct {
	Start time.Time `json:"start"`
	Items int64     `json:"items"`
	Bytes int64     `json:"bytes"`
}

// SizeBucket counts the items whose size lies in [Min, Max) (Max 0 = no upper bound).
type SizeBucket struct {
	Min   int64 `json:"min"`
	Max   int64 `json:"max"`
	Items int64 `json:"items"`
}

// sizeBounds are the size buckets' limits.
var sizeBounds = []int64{10 << 10, 100 << 10, 1 << 20, 10 << 20, 25 << 20}

func newSizeBuckets(bounds []int64) []SizeBucket {
	out := []SizeBucket{{Min: 0, Max: bounds[0]}}
	for i := 1; i < len(bounds); i++ {
		out = append(out, SizeBucket{Min: bounds[i-1], Max: bounds[i]})
	}
	return append(out, SizeBucket{Min: bounds[len(bounds)-1]})
}

func kindOf(it state.Item) string {
	if it.Kind == "" {
		return "mail"
	}
	return string(it.Kind)
}

var kindOrder = []string{"mail", "calendar", "contacts", "tasks"}

// runBuilder accumulates mailboxes one at a time, so a report over a large store holds one
// mailbox's items at a time.
type runBuilder struct {
	rep   RunReport
	kinds map[string]*KindTotals
	// done sums the items done per 100 ms slot (the finest throughput bucket), so memory
	// grows with the span of the migration, not with its number of items.
	done map[int64]*doneAt
}

// doneAt is n items of size bytes in all, done in the 100 ms from t.
type doneAt struct {
	t    time.Time
	size int64
	n    int64
}

const slot = 100 * time.Millisecond

func newRunBuilder(runs []state.Run, generated time.Time) *runBuilder {
	b := &runBuilder{kinds: map[string]*KindTotals{}, done: map[int64]*doneAt{}}
	b.rep = RunReport{Schema: RunSchema, Generated: generated.UTC(), Runs: []RunInfo{}, Mailboxes: []RunMailbox{},
		Failures: []RunFailure{}, Throughput: []RunSeries{}, Sizes: newSizeBuckets(sizeBounds)}
	b.rep.Totals.MailboxStatus = map[string]int{}
	for _, r := range runs {
		b.rep.Runs = append(b.rep.Runs, RunInfo{ID: r.ID, Started: r.Started.UTC(), Finished: r.Finished.UTC(), Command: r.Command,
			Status: r.Status, Written: r.Written, Updated: r.Updated, Deleted: r.Deleted, Failed: r.Failed, Skipped: r.Skipped, Bytes: r.Bytes})
	}
	return b
}

func (b *runBuilder) add(m state.Mailbox, folders []state.Folder, items []state.Item) {
	rm := RunMailbox{ID: m.ID, Address: m.Address, Target: m.Target, Status: m.Status, Error: m.Error, Kinds: map[string]int64{}}
	paths := map[string]string{}
	for _, f := range folders {
		paths[f.ID] = f.Path
		if f.Kind == "" {
			rm.Folders++
		} else {
			rm.Collections++
		}
	}
	var fails []RunFailure
	for _, it := range items {
		k := kindOf(it)
		kt := b.kinds[k]
		if kt == nil {
			kt = &KindTotals{Kind: k}
			b.kinds[k] = kt
		}
		switch it.Status {
		case state.StatusDone:
			rm.Done++
			rm.Bytes += it.Size
			rm.Kinds[k]++
			kt.Done++
			kt.Bytes += it.Size
			if !it.Updated.IsZero() {
				u := it.Updated.UTC()
				if rm.First.IsZero() || u.Before(rm.First) {
					rm.First = u
				}
				if u.After(rm.Last) {
					rm.Last = u
				}
				k := u.Truncate(slot).UnixNano()
				d := b.done[k]
				if d == nil {
					d = &doneAt{t: u.Truncate(slot)}
					b.done[k] = d
				}
				d.n++
				d.size += it.Size
			}
			for i := range b.rep.Sizes {
				s := &b.rep.Sizes[i]
				if it.Size >= s.Min && (s.Max == 0 || it.Size < s.Max) {
					s.Items++
					break
				}
			}
		case state.StatusInFlight:
			rm.InFlight++
			kt.InFlight++
		case state.StatusFailed:
			rm.Failed++
			kt.Failed++
			fails = append(fails, RunFailure{Mailbox: m.Address, Target: m.Target, Folder: paths[it.FolderID], Kind: k, ItemID: it.ID,
				Attempts: it.Attempts, Error: it.LastError, Updated: it.Updated.UTC()})
		case state.StatusDeleted:
			rm.Deleted++
			kt.Deleted++
		}
	}
	if m.Error != "" || m.Status == "failed" {
		b.rep.Failures = append(b.rep.Failures, RunFailure{Mailbox: m.Address, Target: m.Target, Error: m.Error, Updated: m.Updated.UTC()})
	}
	sort.SliceStable(fails, func(i, j int) bool {
		if fails[i].Folder != fails[j].Folder {
			return fails[i].Folder < fails[j].Folder
		}
		return fails[i].ItemID < fails[j].ItemID
	})
	b.rep.Failures = append(b.rep.Failures, fails...)
	t := &b.rep.Totals
	t.Mailboxes++
	t.MailboxStatus[m.Status]++
	t.Done += rm.Done
	t.InFlight += rm.InFlight
	t.Failed += rm.Failed
	t.Deleted += rm.Deleted
	t.Bytes += rm.Bytes
	if !rm.First.IsZero() && (t.First.IsZero() || rm.First.Before(t.First)) {
		t.First = rm.First
	}
	if rm.Last.After(t.Last) {
		t.Last = rm.Last
	}
	b.rep.Mailboxes = append(b.rep.Mailboxes, rm)
}

// bucketSizes are the throughput bucket widths tried, smallest first.
var bucketSizes = []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond, time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute,
	5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour,
	12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}

// maxBuckets bounds the points of one series.
const maxBuckets = 120

func series(runID int64, pts []doneAt) RunSeries {
	sort.Slice(pts, func(i, j int) bool { return pts[i].t.Before(pts[j].t) })
	first, last := pts[0].t, pts[len(pts)-1].t
	span := last.Sub(first)
	w := span/maxBuckets + 1 // beyond the largest size (years of item times): plain division
	for _, d := range bucketSizes {
		if span/d < maxBuckets {
			w = d
			break
		}
	}
	start := first.Truncate(w)
	n := int(last.Sub(start)/w) + 1
	s := RunSeries{RunID: runID, BucketSeconds: w.Seconds(), Points: make([]ThroughputPoint, n)}
	for i := range s.Points {
		s.Points[i].Start = start.Add(time.Duration(i) * w)
	}
	for _, p := range pts {
		i := int(p.t.Sub(start) / w)
		s.Points[i].Items += p.n
		s.Points[i].Bytes += p.size
	}
	return s
}

func (b *runBuilder) finish() *RunReport {
	for _, k := range kindOrder {
		if kt := b.kinds[k]; kt != nil {
			b.rep.Kinds = append(b.rep.Kinds, *kt)
			delete(b.kinds, k)
		}
	}
	var rest []string
	for k := range b.kinds {
		rest = append(rest, k)
	}
	sort.Strings(rest)
	for _, k := range rest {
		b.rep.Kinds = append(b.rep.Kinds, *b.kinds[k])
	}
	if b.rep.Kinds == nil {
		b.rep.Kinds = []KindTotals{}
	}
	// Throughput: each item done goes to the run whose window holds its time (the newest
	// such run), else to run 0.
	byRun := map[int64][]doneAt{}
	within := func(t time.Time, r RunInfo, slack time.Duration) bool {
		end := r.Finished
		if end.IsZero() {
			end = b.rep.Generated
		}
		return !t.Before(r.Started.Add(-slack)) && !t.After(end.Add(slack))
	}
	for _, d := range b.done {
		d := *d
		var id int64
		for _, slack := range []time.Duration{0, time.Second} {
			for _, r := range b.rep.Runs { // newest first
				if within(d.t, r, slack) {
					id = r.ID
					break
				}
			}
			if id != 0 {
				break
			}
		}
		byRun[id] = append(byRun[id], d)
	}
	var ids []int64
	for id := range byRun {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] > ids[j] })
	for _, id := range ids {
		b.rep.Throughput = append(b.rep.Throughput, series(id, byRun[id]))
	}
	b.done = nil
	return &b.rep
}

// BuildRun reads the whole state store into a RunReport (one mailbox's items in memory at a
// time). generated is the report's time (zero = now).
func BuildRun(ctx context.Context, st state.Store, generated time.Time) (*RunReport, error) {
	if generated.IsZero() {
		generated = time.Now()
	}
	runs, err := st.Runs(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading runs: %w", err)
	}
	mbs, err := st.Mailboxes(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading mailboxes: %w", err)
	}
	b := newRunBuilder(runs, generated)
	for _, m := range mbs {
		folders, err := st.Folders(ctx, m.ID)
		if err != nil {
			return nil, fmt.Errorf("reading folders of %s: %w", m.Address, err)
		}
		items, err := st.Items(ctx, m.ID, "")
		if err != nil {
			return nil, fmt.Errorf("reading items of %s: %w", m.Address, err)
		}
		b.add(m, folders, items)
	}
	return b.finish(), nil
}
