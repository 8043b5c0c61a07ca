// Package statetest is the conformance suite every state.Store passes. A store's own test
// file is a few lines:
//
//	func TestConformance(t *testing.T) {
//		statetest.Run(t, func(t *testing.T) state.Store { return openFresh(t) },
//			statetest.WithReopen(func(t *testing.T, closed state.Store) state.Store { … }))
//	}
//
// The suite uses only the state.Store interface, so the same tests hold SQLite today and
// PostgreSQL later to one contract.
package statetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/state"
)

// Option tunes the suite to what a store can do.
type Option func(*config)

type config struct {
	reopen    func(t *testing.T, closed state.Store) state.Store
	precision time.Duration
	second    func(t *testing.T, s state.Store) state.Store
}

// WithReopen lets the suite check that data outlives Close: reopen opens the same data that
// closed was opened on (closed has been closed by the suite before the call). Without it
// the persistence test is skipped with a message saying so.
func WithReopen(reopen func(t *testing.T, closed state.Store) state.Store) Option {
	return func(c *config) { c.reopen = reopen }
}

// WithTimePrecision declares the precision a store keeps times to (default: 1ns, the exact
// time). A store that keeps microseconds (PostgreSQL timestamptz) passes time.Microsecond.
func WithTimePrecision(d time.Duration) Option {
	return func(c *config) { c.precision = d }
}

// Run runs the whole suite. open returns a new, empty store for the test t; the suite
// closes it (a store's Close must tolerate being the only cleanup).
func Run(t *testing.T, open func(t *testing.T) state.Store, opts ...Option) {
	c := config{precision: time.Nanosecond}
	for _, o := range opts {
		o(&c)
	}
	s := &suite{open: open, cfg: c}
	t.Run("Runs", s.testRuns)
	t.Run("FinishRunNotFound", s.testFinishRunNotFound)
	t.Run("Mailboxes", s.testMailboxes)
	t.Run("Folders", s.testFolders)
	t.Run("FolderNotFound", s.testFolderNotFound)
	t.Run("ItemNotFound", s.testItemNotFound)
	t.Run("ItemRoundTrip", s.testItemRoundTrip)
	t.Run("ItemReplace", s.testItemReplace)
	t.Run("ItemsByFolder", s.testItemsByFolder)
	t.Run("PutItemsEmptyAndDuplicates", s.testPutItemsEdge)
	t.Run("Counts", s.testCounts)
	t.Run("ConcurrentPutItems", s.testConcurrent)
	t.Run("LargeBatch", s.testLargeBatch)
	t.Run("Reopen", s.testReopen)
	t.Run("LeaseQueue", s.testLeaseQueue)
	t.Run("LeaseExpiry", s.testLeaseExpiry)
	t.Run("LeaseConcurrent", s.testLeaseConcurrent)
}

type suite struct {
	open func(t *testing.T) state.Store
	cfg  config
}

// store opens a fresh store and closes it at the end of the test.
func (s *suite) store(t *testing.T) state.Store {
	t.Helper()
	st := s.open(t)
	if st == nil {
		t.Fatal("open returned a nil store")
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return st
}

// Hostile strings, in the spirit of rclone's fstests.
const (
	unicodePath = "Boîte de réception/êé/Hello, 世界/😀 'quoted' \"double\" %s ; DROP TABLE items; --"
	longID      = "AAMkAGI2TG93AAA=" // repeated below to the length of a Graph immutable id
)

func graphID(n int) string {
	return fmt.Sprintf("%s-%06d-%s", strings.Repeat(longID, 9), n, "Ünïcødé/+=")
}

func (s *suite) sameTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if want.IsZero() {
		if !got.IsZero() {
			t.Errorf("%s = %v, want the zero time", what, got)
		}
		return
	}
	d := got.Sub(want)
	if d < 0 {
		d = -d
	}
	if d >= s.cfg.precision {
		t.Errorf("%s = %v, want %v (precision %v)", what, got, want, s.cfg.precision)
	}
}

func (s *suite) testRuns(t *testing.T) {
	ctx := context.Background()
	st := s.store(t)
	runs, err := st.Runs(ctx)
	if err != nil {
		t.Fatalf("Runs() = %v", err)
	}
	if len(runs) != 0 {
		t.Fatalf("Runs() on an empty store = %d runs, want 0", len(runs))
	}
	before := time.Now()
	id1, err := st.BeginRun(ctx, "migrate")
	if err != nil {
		t.Fatalf("BeginRun() = %v", err)
	}
	id2, err := st.BeginRun(ctx, "migrate --dry-run")
	if err != nil {
		t.Fatalf("BeginRun() = %v", err)
	}
	after := time.Now()
	if id1 == id2 {
		t.Fatalf("BeginRun returned the same id %d twice", id1)
	}
	runs, err = st.Runs(ctx)
	if err != nil {
		t.Fatalf("Runs() = %v", err)
	}
	if len(runs) != 2 {
		t.Fatalf("Runs() = %d runs, want 2", len(runs))
	}
	if runs[0].ID != id2 || runs[1].ID != id1 {
		t.Fatalf("Runs() ids = [%d %d], want newest first [%d %d]", runs[0].ID, runs[1].ID, id2, id1)
	}
	for _, r := range runs {
		if r.Status != "running" {
			t.Errorf("run %d status = %q, want running", r.ID, r.Status)
		}
		if !r.Finished.IsZero() {
			t.Errorf("run %d Finished = %v, want zero while running", r.ID, r.Finished)
		}
		if r.Started.Before(before.Add(-s.cfg.precision)) || r.Started.After(after.Add(s.cfg.precision)) {
			t.Errorf("run %d Started = %v, want between %v and %v", r.ID, r.Started, before, after)
		}
	}
	if runs[0].Command != "migrate --dry-run" || runs[1].Command != "migrate" {
		t.Errorf("commands = %q, %q", runs[0].Command, runs[1].Command)
	}

	fin := time.Date(2031, 3, 4, 5, 6, 7, 123456789, time.FixedZone("CET", 3600))
	want := state.Run{ID: id1, Finished: fin, Status: "done",
		Written: 1, Updated: 2, Deleted: 3, Failed: 4, Skipped: 5, Bytes: math.MaxInt64}
	if err := st.FinishRun(ctx, want); err != nil {
		t.Fatalf("FinishRun() = %v", err)
	}
	runs, err = st.Runs(ctx)
	if err != nil {
		t.Fatalf("Runs() = %v", err)
	}
	got := runs[1]
	if got.ID != id1 || got.Status != "done" || got.Command != "migrate" ||
		got.Written != 1 || got.Updated != 2 || got.Deleted != 3 || got.Failed != 4 ||
		got.Skipped != 5 || got.Bytes != math.MaxInt64 {
		t.Errorf("finished run = %+v, want %+v (command migrate)", got, want)
	}
	s.sameTime(t, "Finished", got.Finished, fin)
	if runs[0].Status != "running" || !runs[0].Finished.IsZero() {
		t.Errorf("FinishRun(%d) changed run %d: %+v", id1, id2, runs[0])
	}
}

func (s *suite) testFinishRunNotFound(t *testing.T) {
	st := s.store(t)
	err := st.FinishRun(context.Background(), state.Run{ID: 987654, Status: "done"})
	if !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("FinishRun(unknown id) = %v, want model.ErrNotFound", err)
	}
}

func (s *suite) testMailboxes(t *testing.T) {
	ctx := context.Background()
	st := s.store(t)
	mbs, err := st.Mailboxes(ctx)
	if err != nil || len(mbs) != 0 {
		t.Fatalf("Mailboxes() on an empty store = %v, %v; want none", mbs, err)
	}
	in := []state.Mailbox{
		{ID: "m-c", Address: "zoé@example.org", Target: "zoe", Status: "pending"},
		{ID: "m-a", Address: "alice@example.org", Target: "alice", Status: "running"},
		{ID: "m-b", Address: "bob@example.org", Target: "bob", Status: "failed", Error: "quota exceeded: 世界"},
	}
	before := time.Now()
	for _, m := range in {
		if err := st.PutMailbox(ctx, m); err != nil {
			t.Fatalf("PutMailbox(%s) = %v", m.ID, err)
		}
	}
	// Upsert: the second put of m-a replaces its fields.
	upd := state.Mailbox{ID: "m-a", Address: "alice@example.org", Target: "alice2", Status: "done"}
	if err := st.PutMailbox(ctx, upd); err != nil {
		t.Fatalf("PutMailbox(update) = %v", err)
	}
	mbs, err = st.Mailboxes(ctx)
	if err != nil {
		t.Fatalf("Mailboxes() = %v", err)
	}
	var ids []string
	for _, m := range mbs {
		ids = append(ids, m.ID)
		if m.Updated.Before(before.Add(-time.Second)) {
			t.Errorf("mailbox %s Updated = %v, want set by the store (>= %v)", m.ID, m.Updated, before)
		}
	}
	if want := []string{"m-a", "m-b", "m-c"}; !slices.Equal(ids, want) {
		t.Fatalf("Mailboxes() ids = %v, want %v (ordered by address)", ids, want)
	}
	a, b := mbs[0], mbs[1]
	if a.Target != "alice2" || a.Status != "done" || a.Error != "" || a.Address != "alice@example.org" {
		t.Errorf("updated mailbox = %+v, want %+v", a, upd)
	}
	if b.Status != "failed" || b.Error != "quota exceeded: 世界" || b.Target != "bob" {
		t.Errorf("mailbox b = %+v, want %+v", b, in[2])
	}
	if mbs[2].Address != "zoé@example.org" {
		t.Errorf("mailbox c address = %q", mbs[2].Address)
	}
}

func (s *suite) testFolders(t *testing.T) {
	ctx := context.Background()
	st := s.store(t)
	fs, err := st.Folders(ctx, "m1")
	if err != nil || len(fs) != 0 {
		t.Fatalf("Folders() on an empty store = %v, %v; want none", fs, err)
	}
	f1 := state.Folder{Mailbox: "m1", ID: graphID(1), Path: unicodePath, Target: "Boîte de réception/&AOo-",
		UIDValidity: math.MaxUint32}
	f2 := state.Folder{Mailbox: "m1", ID: "f2", Path: "Inbox", Target: "INBOX", UIDValidity: 1, Cursor: "c0"}
	other := state.Folder{Mailbox: "m2", ID: "f2", Path: "Other", Target: "Other", UIDValidity: 7}
	cal := state.Folder{Mailbox: "m1", ID: "cal1", Path: "Calendrier", Target: "/dav/calendars/user/m1/Default/",
		Kind: model.KindCalendar, Cursor: "ck"}
	for _, f := range []state.Folder{f1, f2, other, cal} {
		if err := st.PutFolder(ctx, f); err != nil {
			t.Fatalf("PutFolder(%s/%s) = %v", f.Mailbox, f.ID, err)
		}
	}
	got, err := st.Folder(ctx, "m1", f1.ID)
	if err != nil {
		t.Fatalf("Folder() = %v", err)
	}
	if got != f1 {
		t.Errorf("Folder() = %+v, want %+v", got, f1)
	}
	if got, err := st.Folder(ctx, "m1", cal.ID); err != nil || got != cal {
		t.Errorf("Folder(calendar) = %+v, %v; want %+v", got, err, cal)
	}
	// Cursor updates replace the cursor, and nothing leaks between mailboxes.
	cursor := "https://graph.microsoft.com/v1.0/me/mailFolders/x/messages/delta?$deltatoken=" + strings.Repeat("Zz9-_", 400)
	f2.Cursor = cursor
	f2.UIDValidity = 2
	if err := st.PutFolder(ctx, f2); err != nil {
		t.Fatalf("PutFolder(cursor) = %v", err)
	}
	got, err = st.Folder(ctx, "m1", "f2")
	if err != nil {
		t.Fatalf("Folder() = %v", err)
	}
	if got != f2 {
		t.Errorf("Folder() after cursor update = %+v, want %+v", got, f2)
	}
	if got, err := st.Folder(ctx, "m2", "f2"); err != nil || got != other {
		t.Errorf("Folder(m2, f2) = %+v, %v; want %+v", got, err, other)
	}
	// Reset the cursor to "" (a cursor that expired).
	f2.Cursor = ""
	if err := st.PutFolder(ctx, f2); err != nil {
		t.Fatalf("PutFolder(reset) = %v", err)
	}
	fs, err = st.Folders(ctx, "m1")
	if err != nil {
		t.Fatalf("Folders() = %v", err)
	}
	slices.SortFunc(fs, func(a, b state.Folder) int { return strings.Compare(a.ID, b.ID) })
	want := []state.Folder{f1, f2, cal}
	slices.SortFunc(want, func(a, b state.Folder) int { return strings.Compare(a.ID, b.ID) })
	if !slices.Equal(fs, want) {
		t.Errorf("Folders(m1) = %+v, want %+v", fs, want)
	}
}

func (s *suite) testFolderNotFound(t *testing.T) {
	ctx := context.Background()
	st := s.store(t)
	if err := st.PutFolder(ctx, state.Folder{Mailbox: "m1", ID: "f1"}); err != nil {
		t.Fatalf("PutFolder() = %v", err)
	}
	for _, k := range [][2]string{{"m1", "nope"}, {"m2", "f1"}, {"", ""}} {
		_, err := st.Folder(ctx, k[0], k[1])
		if !errors.Is(err, model.ErrNotFound) {
			t.Errorf("Folder(%q, %q) = %v, want model.ErrNotFound", k[0], k[1], err)
		}
	}
}

func (s *suite) testItemNotFound(t *testing.T) {
	ctx := context.Background()
	st := s.store(t)
	if err := st.PutItems(ctx, []state.Item{{Mailbox: "m1", ID: "i1", FolderID: "f1", Status: state.StatusDone}}); err != nil {
		t.Fatalf("PutItems() = %v", err)
	}
	for _, k := range [][2]string{{"m1", "i2"}, {"m2", "i1"}, {"", ""}} {
		_, err := st.Item(ctx, k[0], k[1])
		if !errors.Is(err, model.ErrNotFound) {
			t.Errorf("Item(%q, %q) = %v, want model.ErrNotFound", k[0], k[1], err)
		}
	}
	// Listing what does not exist is empty, not an error.
	items, err := st.Items(ctx, "m2", "")
	if err != nil || len(items) != 0 {
		t.Errorf("Items(unknown mailbox) = %v, %v; want none and nil", items, err)
	}
	items, err = st.Items(ctx, "m1", "f-unknown")
	if err != nil || len(items) != 0 {
		t.Errorf("Items(unknown folder) = %v, %v; want none and nil", items, err)
	}
}

// fullItem sets every field to a value that would show a lossy round trip.
func fullItem(n int) state.Item {
	loc, err := time.LoadLocation("America/Sao_Paulo")
	if err != nil {
		loc = time.FixedZone("BRT", -3*3600)
	}
	return state.Item{
		Mailbox:      "mbx-" + graphID(0),
		ID:           graphID(n),
		FolderID:     "fld/" + unicodePath,
		ChangeKey:    "CQAAABYAAAD/" + fmt.Sprint(n),
		Status:       state.StatusFailed,
		TargetFolder: "Boîte de réception/&AOo-/Hello, &ThZ1TA-",
		UIDValidity:  math.MaxUint32,
		UID:          math.MaxUint32 - uint32(n),
		SHA256:       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		Size:         1<<40 + int64(n),
		Flags: model.Flags{Seen: true, Flagged: n%2 == 0, Answered: true, Draft: n%3 == 0,
			Keywords: []string{"", "$Forwarded", "$Forwarded $Junk $label1 NonJunk", "Étiquette"}[n%4]},
		MessageID: fmt.Sprintf("<%d.ünï@example.org>", n),
		Received:  time.Date(2024, 2, 29, 23, 59, 59, 999999999, loc),
		Attempts:  math.MaxInt32,
		LastError: "451 4.3.0 temporary failure: " + strings.Repeat("é", 5000),
		Kind:      []model.CollectionKind{"", model.KindCalendar, model.KindContacts, model.KindTasks}[n%4],
		Href:      fmt.Sprintf("/dav/calendars/user/ünï/Default/%d.ics", n),
		ETag:      fmt.Sprintf(`W/"%d-é"`, n),
	}
}

func (s *suite) sameItem(t *testing.T, got, want state.Item) {
	t.Helper()
	g, w := got, want
	s.sameTime(t, "Received of "+want.ID, g.Received, w.Received)
	g.Received, w.Received = time.Time{}, time.Time{}
	g.Updated, w.Updated = time.Time{}, time.Time{}
	if g != w {
		t.Errorf("item round trip:\n got %+v\nwant %+v", g, w)
	}
}

func (s *suite) testItemRoundTrip(t *testing.T) {
	ctx := context.Background()
	st := s.store(t)
	var in []state.Item
	for n := range 6 {
		in = append(in, fullItem(n))
	}
	// Every flag combination, every status, and zero values.
	for bits := range 16 {
		in = append(in, state.Item{Mailbox: "m-flags", ID: fmt.Sprint("flags-", bits), Status: state.StatusDone,
			Flags: model.Flags{Seen: bits&1 != 0, Flagged: bits&2 != 0, Answered: bits&4 != 0, Draft: bits&8 != 0}})
	}
	for _, stt := range []state.Status{state.StatusInFlight, state.StatusDone, state.StatusFailed, state.StatusDeleted} {
		in = append(in, state.Item{Mailbox: "m-status", ID: string(stt), Status: stt})
	}
	in = append(in, state.Item{Mailbox: "m-zero", ID: "zero"})
	// Times at the edges of what a source might send.
	in = append(in,
		state.Item{Mailbox: "m-time", ID: "unix0", Received: time.Unix(0, 0)},
		state.Item{Mailbox: "m-time", ID: "1601", Received: time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC)},
		state.Item{Mailbox: "m-time", ID: "9999", Received: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)},
		state.Item{Mailbox: "m-time", ID: "ns", Received: time.Unix(1700000000, 1)},
	)
	before := time.Now()
	if err := st.PutItems(ctx, in); err != nil {
		t.Fatalf("PutItems() = %v", err)
	}
	after := time.Now()
	for _, want := range in {
		got, err := st.Item(ctx, want.Mailbox, want.ID)
		if err != nil {
			t.Fatalf("Item(%q, %q) = %v", want.Mailbox, want.ID, err)
		}
		s.sameItem(t, got, want)
		if got.Updated.Before(before.Add(-time.Second)) || got.Updated.After(after.Add(time.Second)) {
			t.Errorf("Item(%s).Updated = %v, want set by the store between %v and %v", want.ID, got.Updated, before, after)
		}
	}
	if in[0].Updated != (time.Time{}) {
		t.Errorf("PutItems modified the caller's slice (Updated = %v)", in[0].Updated)
	}
}

func (s *suite) testItemReplace(t *testing.T) {
	ctx := context.Background()
	st := s.store(t)
	first := fullItem(1)
	if err := st.PutItems(ctx, []state.Item{first}); err != nil {
		t.Fatalf("PutItems() = %v", err)
	}
	g1, err := st.Item(ctx, first.Mailbox, first.ID)
	if err != nil {
		t.Fatalf("Item() = %v", err)
	}
	time.Sleep(2 * time.Millisecond)
	// Replace, not merge: fields set to zero must come back zero.
	second := state.Item{Mailbox: first.Mailbox, ID: first.ID, FolderID: "other-folder", ChangeKey: "ck2",
		Status: state.StatusDone, UID: 42, Attempts: 2}
	if err := st.PutItems(ctx, []state.Item{second}); err != nil {
		t.Fatalf("PutItems(replace) = %v", err)
	}
	g2, err := st.Item(ctx, first.Mailbox, first.ID)
	if err != nil {
		t.Fatalf("Item() = %v", err)
	}
	s.sameItem(t, g2, second)
	if !g2.Updated.After(g1.Updated) {
		t.Errorf("Updated did not move forward on replace: %v then %v", g1.Updated, g2.Updated)
	}
	all, err := st.Items(ctx, first.Mailbox, "")
	if err != nil || len(all) != 1 {
		t.Fatalf("Items() after replace = %d items, %v; want 1", len(all), err)
	}
	if old, err := st.Items(ctx, first.Mailbox, first.FolderID); err != nil || len(old) != 0 {
		t.Errorf("Items(old folder) after the item moved = %d items, %v; want 0", len(old), err)
	}
}

func ids(items []state.Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.ID)
	}
	slices.Sort(out)
	return out
}

func (s *suite) testItemsByFolder(t *testing.T) {
	ctx := context.Background()
	st := s.store(t)
	var in []state.Item
	want := map[string][]string{}
	for n := range 30 {
		f := []string{"fa", "fb", unicodePath}[n%3]
		it := state.Item{Mailbox: "m1", ID: fmt.Sprintf("i%02d", n), FolderID: f, Status: state.StatusDone, Size: int64(n)}
		in = append(in, it)
		want[f] = append(want[f], it.ID)
		want[""] = append(want[""], it.ID)
	}
	in = append(in, state.Item{Mailbox: "m2", ID: "i00", FolderID: "fa", Status: state.StatusDone})
	if err := st.PutItems(ctx, in); err != nil {
		t.Fatalf("PutItems() = %v", err)
	}
	for f, w := range want {
		got, err := st.Items(ctx, "m1", f)
		if err != nil {
			t.Fatalf("Items(m1, %q) = %v", f, err)
		}
		slices.Sort(w)
		if g := ids(got); !slices.Equal(g, w) {
			t.Errorf("Items(m1, %q) = %v, want %v", f, g, w)
		}
		for _, it := range got {
			if it.Mailbox != "m1" || (f != "" && it.FolderID != f) {
				t.Errorf("Items(m1, %q) returned %s/%s in folder %q", f, it.Mailbox, it.ID, it.FolderID)
			}
		}
	}
	got, err := st.Items(ctx, "m2", "")
	if err != nil || !slices.Equal(ids(got), []string{"i00"}) {
		t.Errorf("Items(m2) = %v, %v; want [i00]", ids(got), err)
	}
}

func (s *suite) testPutItemsEdge(t *testing.T) {
	ctx := context.Background()
	st := s.store(t)
	if err := st.PutItems(ctx, nil); err != nil {
		t.Fatalf("PutItems(nil) = %v", err)
	}
	// The same id twice in one call: the later one wins.
	batch := []state.Item{
		{Mailbox: "m1", ID: "dup", Status: state.StatusInFlight, Size: 1},
		{Mailbox: "m1", ID: "dup", Status: state.StatusDone, Size: 2, UID: 9},
	}
	if err := st.PutItems(ctx, batch); err != nil {
		t.Fatalf("PutItems(duplicates) = %v", err)
	}
	got, err := st.Item(ctx, "m1", "dup")
	if err != nil {
		t.Fatalf("Item() = %v", err)
	}
	if got.Status != state.StatusDone || got.Size != 2 || got.UID != 9 {
		t.Errorf("Item(dup) = %+v, want the later of the two", got)
	}
	// A cancelled context writes nothing.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := st.PutItems(cctx, []state.Item{{Mailbox: "m1", ID: "cancelled", Status: state.StatusDone}}); err == nil {
		t.Errorf("PutItems(cancelled ctx) = nil, want an error")
	}
	if _, err := st.Item(ctx, "m1", "cancelled"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Item(cancelled) = %v, want model.ErrNotFound", err)
	}
}

func (s *suite) testCounts(t *testing.T) {
	ctx := context.Background()
	st := s.store(t)
	c, err := st.Counts(ctx, "")
	if err != nil {
		t.Fatalf("Counts() = %v", err)
	}
	if c.Items == nil || c.Bytes == nil {
		t.Fatalf("Counts() on an empty store has nil maps: %+v", c)
	}
	if len(c.Items) != 0 || c.Items[state.StatusDone] != 0 {
		t.Errorf("Counts() on an empty store = %+v", c)
	}
	type key struct {
		mbx string
		st  state.Status
	}
	wantN := map[key]int64{}
	wantB := map[key]int64{}
	type kkey struct {
		mbx, kind string
		st        state.Status
	}
	wantK := map[kkey]int64{}
	kinds := []model.CollectionKind{"", model.KindCalendar, model.KindContacts}
	var in []state.Item
	statuses := []state.Status{state.StatusInFlight, state.StatusDone, state.StatusFailed, state.StatusDeleted}
	for n := range 100 {
		m := []string{"m1", "m2"}[n%2]
		stt := statuses[n%len(statuses)]
		if n%5 == 0 {
			stt = state.StatusDone
		}
		size := int64(n)*1000 + 7
		kind := kinds[n%3]
		in = append(in, state.Item{Mailbox: m, ID: fmt.Sprint("i", n), Status: stt, Size: size, Kind: kind})
		kname := string(kind)
		if kname == "" {
			kname = "mail"
		}
		for _, mm := range []string{m, ""} {
			wantN[key{mm, stt}]++
			wantB[key{mm, stt}] += size
			if n != 1 { // item 1 moves below
				wantK[kkey{mm, kname, stt}]++
			}
		}
	}
	if err := st.PutItems(ctx, in); err != nil {
		t.Fatalf("PutItems() = %v", err)
	}
	// A replace moves an item between statuses.
	moved := in[1] // m2, done → failed
	moved.Status = state.StatusFailed
	if err := st.PutItems(ctx, []state.Item{moved}); err != nil {
		t.Fatalf("PutItems() = %v", err)
	}
	for _, mm := range []string{"m2", ""} {
		wantN[key{mm, in[1].Status}]--
		wantB[key{mm, in[1].Status}] -= in[1].Size
		wantN[key{mm, state.StatusFailed}]++
		wantB[key{mm, state.StatusFailed}] += in[1].Size
		wantK[kkey{mm, string(in[1].Kind), state.StatusFailed}]++
	}
	for _, mm := range []string{"m1", "m2", "", "m-none"} {
		c, err := st.Counts(ctx, mm)
		if err != nil {
			t.Fatalf("Counts(%q) = %v", mm, err)
		}
		for _, stt := range statuses {
			if g, w := c.Items[stt], wantN[key{mm, stt}]; g != w {
				t.Errorf("Counts(%q).Items[%s] = %d, want %d", mm, stt, g, w)
			}
			if g, w := c.Bytes[stt], wantB[key{mm, stt}]; g != w {
				t.Errorf("Counts(%q).Bytes[%s] = %d, want %d", mm, stt, g, w)
			}
		}
		for stt, n := range c.Items {
			if n == 0 || !slices.Contains(statuses, stt) {
				t.Errorf("Counts(%q).Items has unexpected entry %q = %d", mm, stt, n)
			}
		}
		for _, kind := range []string{"mail", "calendar", "contacts", "tasks"} {
			for _, stt := range statuses {
				if g, w := c.Kinds[kind][stt], wantK[kkey{mm, kind, stt}]; g != w {
					t.Errorf("Counts(%q).Kinds[%s][%s] = %d, want %d", mm, kind, stt, g, w)
				}
			}
		}
	}
}

func (s *suite) testConcurrent(t *testing.T) {
	ctx := context.Background()
	st := s.store(t)
	const writers, batches, per = 16, 10, 25
	var wg sync.WaitGroup
	errc := make(chan error, writers*2)
	for w := range writers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for b := range batches {
				var items []state.Item
				for i := range per {
					items = append(items, state.Item{Mailbox: fmt.Sprint("m", w%4), ID: fmt.Sprintf("w%d-b%d-i%d", w, b, i),
						FolderID: "f", Status: state.StatusDone, Size: 10})
				}
				if err := st.PutItems(ctx, items); err != nil {
					errc <- fmt.Errorf("writer %d: PutItems() = %w", w, err)
					return
				}
			}
		}()
		// Readers run alongside the writers.
		go func() {
			defer wg.Done()
			for range batches {
				if _, err := st.Items(ctx, fmt.Sprint("m", w%4), "f"); err != nil {
					errc <- fmt.Errorf("reader %d: Items() = %w", w, err)
					return
				}
				if _, err := st.Counts(ctx, ""); err != nil {
					errc <- fmt.Errorf("reader %d: Counts() = %w", w, err)
					return
				}
				if _, err := st.Item(ctx, "m0", "w0-b0-i0"); err != nil && !errors.Is(err, model.ErrNotFound) {
					errc <- fmt.Errorf("reader %d: Item() = %w", w, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	c, err := st.Counts(ctx, "")
	if err != nil {
		t.Fatalf("Counts() = %v", err)
	}
	if g, w := c.Items[state.StatusDone], int64(writers*batches*per); g != w {
		t.Errorf("after concurrent writes Counts().Items[done] = %d, want %d", g, w)
	}
	if g, w := c.Bytes[state.StatusDone], int64(writers*batches*per*10); g != w {
		t.Errorf("after concurrent writes Counts().Bytes[done] = %d, want %d", g, w)
	}
	items, err := st.Items(ctx, "m1", "")
	if err != nil {
		t.Fatalf("Items() = %v", err)
	}
	if g, w := len(items), writers/4*batches*per; g != w {
		t.Errorf("Items(m1) = %d items, want %d", g, w)
	}
}

func (s *suite) testLargeBatch(t *testing.T) {
	ctx := context.Background()
	st := s.store(t)
	const n = 5000
	items := make([]state.Item, n)
	for i := range items {
		items[i] = state.Item{Mailbox: "m1", ID: graphID(i), FolderID: "f", Status: state.StatusDone,
			SHA256: strings.Repeat("ab", 32), Size: int64(i), Received: time.Unix(int64(i), 0)}
	}
	start := time.Now()
	if err := st.PutItems(ctx, items); err != nil {
		t.Fatalf("PutItems(%d items) = %v", n, err)
	}
	t.Logf("PutItems(%d items) took %v", n, time.Since(start))
	got, err := st.Items(ctx, "m1", "f")
	if err != nil || len(got) != n {
		t.Fatalf("Items() = %d items, %v; want %d", len(got), err, n)
	}
}

func (s *suite) testReopen(t *testing.T) {
	if s.cfg.reopen == nil {
		t.Skip("persistence NOT checked: this store was tested without statetest.WithReopen")
	}
	ctx := context.Background()
	st := s.open(t)
	runID, err := st.BeginRun(ctx, "migrate")
	if err != nil {
		t.Fatalf("BeginRun() = %v", err)
	}
	mbx := state.Mailbox{ID: "m1", Address: "a@example.org", Target: "a", Status: "running"}
	fld := state.Folder{Mailbox: "m1", ID: "f1", Path: unicodePath, Target: "INBOX", UIDValidity: math.MaxUint32, Cursor: "tok"}
	item := fullItem(3)
	if err := st.PutMailbox(ctx, mbx); err != nil {
		t.Fatalf("PutMailbox() = %v", err)
	}
	if err := st.PutFolder(ctx, fld); err != nil {
		t.Fatalf("PutFolder() = %v", err)
	}
	if err := st.PutItems(ctx, []state.Item{item}); err != nil {
		t.Fatalf("PutItems() = %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	st2 := s.cfg.reopen(t, st)
	if st2 == nil {
		t.Fatal("reopen returned a nil store")
	}
	defer func() {
		if err := st2.Close(); err != nil {
			t.Errorf("Close() after reopen = %v", err)
		}
	}()
	runs, err := st2.Runs(ctx)
	if err != nil || len(runs) != 1 || runs[0].ID != runID || runs[0].Command != "migrate" {
		t.Errorf("Runs() after reopen = %+v, %v; want run %d", runs, err, runID)
	}
	mbs, err := st2.Mailboxes(ctx)
	if err != nil || len(mbs) != 1 || mbs[0].ID != mbx.ID || mbs[0].Status != mbx.Status {
		t.Errorf("Mailboxes() after reopen = %+v, %v; want [%+v]", mbs, err, mbx)
	}
	if got, err := st2.Folder(ctx, "m1", "f1"); err != nil || got != fld {
		t.Errorf("Folder() after reopen = %+v, %v; want %+v", got, err, fld)
	}
	got, err := st2.Item(ctx, item.Mailbox, item.ID)
	if err != nil {
		t.Fatalf("Item() after reopen = %v", err)
	}
	s.sameItem(t, got, item)
	// The reopened store keeps working.
	next, err := st2.BeginRun(ctx, "sync")
	if err != nil || next == runID {
		t.Errorf("BeginRun() after reopen = %d, %v; want a new id", next, err)
	}
}
