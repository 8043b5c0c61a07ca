package sourcetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/model"
)

// GroupwareTruth is what a groupware source really holds.
type GroupwareTruth struct {
	Mailboxes []GroupwareMailboxTruth
}

// GroupwareMailboxTruth is one mailbox's collections and records.
type GroupwareMailboxTruth struct {
	// Mailbox is passed to the source as it is (ID and Address at least).
	Mailbox model.Mailbox
	// Collections in any order; ID, Kind, Name, Default, Owner and ReadOnly are compared,
	// Color when the truth has one.
	Collections []model.Collection
	// Records are the live records of every collection.
	Records []RecordTruth
}

// RecordTruth is one live record.
type RecordTruth struct {
	ID, CollectionID string
	Kind             model.CollectionKind
	// Subject is compared with the Upsert's Subject.
	Subject string
	// ChangeKey is compared when not "".
	ChangeKey string
	// PhotoSHA256 is the hex SHA-256 of a contact's photo, "" when it has none.
	PhotoSHA256 string
}

// Mutation says what a GroupwareHarness.Mutate call changed in one collection.
type Mutation struct {
	// Changed was modified, Added created, Deleted removed; each may be "" when the
	// harness cannot do it for that kind.
	Changed, Added, Deleted string
}

// GroupwareHarness gives RunGroupware a GroupwareSource and the means to know and change
// what it serves. Every func is required unless said otherwise.
type GroupwareHarness struct {
	Source extract.GroupwareSource
	// Truth returns the source's current content.
	Truth func(t testing.TB) GroupwareTruth
	// Mutate changes one record, adds one and deletes another in col, directly on the
	// source's side.
	Mutate func(t testing.TB, mbx model.Mailbox, col model.Collection) Mutation
	// ExpireCursors makes every server-side cursor issued so far invalid.
	ExpireCursors func(t testing.TB)
	// SelfContainedCursors lists the kinds whose cursor holds the whole sync state (no
	// server-side token), which ExpireCursors cannot expire; for them the suite checks that
	// a damaged cursor is reported as expired instead.
	SelfContainedCursors []model.CollectionKind
	// CheckRecord, optional, checks one Upsert further (its payload, as the source's
	// transforms will read it).
	CheckRecord func(t testing.TB, rec model.Record)
	// Timeout bounds the whole suite (default 5 minutes).
	Timeout time.Duration
}

type gwSuite struct {
	h       GroupwareHarness
	ctx     context.Context
	truth   GroupwareTruth
	cols    map[string][]model.Collection // by mailbox id
	cursors map[folderKey]string
}

// RunGroupware runs the groupware conformance suite against h: collections (default
// first, kinds filter, not found), a full pass yielding every record exactly once with
// its payload, a no-change pass, a pass after mutations yielding exactly them, and
// expired cursors. The tests run in order and share state.
func RunGroupware(t *testing.T, h GroupwareHarness) {
	if h.Source == nil || h.Truth == nil || h.Mutate == nil || h.ExpireCursors == nil {
		t.Fatal("sourcetest.GroupwareHarness: Source, Truth, Mutate and ExpireCursors are required")
	}
	timeout := h.Timeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	s := &gwSuite{h: h, ctx: ctx, truth: h.Truth(t), cols: map[string][]model.Collection{}, cursors: map[folderKey]string{}}
	steps := []struct {
		name string
		fn   func(*testing.T)
	}{
		{"Collections", s.testCollections},
		{"FullPass", s.testFullPass},
		{"NoChangePass", s.testNoChange},
		{"Mutations", s.testMutations},
		{"ExpiredCursor", s.testExpired},
	}
	for _, st := range steps {
		if !t.Run(st.name, st.fn) {
			t.Fatalf("%s failed: the following tests depend on it", st.name)
		}
	}
}

var allKinds = []model.CollectionKind{model.KindCalendar, model.KindContacts, model.KindTasks}

func (s *gwSuite) testCollections(t *testing.T) {
	kindsSeen := map[model.CollectionKind]int{}
	for _, mt := range s.truth.Mailboxes {
		mbx := mt.Mailbox
		got, err := s.h.Source.Collections(s.ctx, mbx, nil)
		if err != nil {
			t.Fatalf("Collections(%s) = %v", mbx.Address, err)
		}
		byID := map[string]model.Collection{}
		// Kinds come together, the default of each first.
		firstOfKind := map[model.CollectionKind]int{}
		for i, c := range got {
			if _, dup := byID[c.ID]; dup {
				t.Errorf("%s: collection %q listed twice", mbx.Address, c.ID)
			}
			byID[c.ID] = c
			if _, ok := firstOfKind[c.Kind]; !ok {
				firstOfKind[c.Kind] = i
			} else if c.Default {
				t.Errorf("%s: default %s collection %q (%s) is not the first of its kind", mbx.Address, c.Kind, c.ID, c.Name)
			}
			if i > 0 && got[i-1].Kind != c.Kind && firstOfKind[c.Kind] != i {
				t.Errorf("%s: the %s collections are not listed together", mbx.Address, c.Kind)
			}
		}
		defaults := map[model.CollectionKind]int{}
		for _, w := range mt.Collections {
			kindsSeen[w.Kind]++
			g, ok := byID[w.ID]
			if !ok {
				t.Errorf("%s: %s collection %q (%s) missing", mbx.Address, w.Kind, w.ID, w.Name)
				continue
			}
			delete(byID, w.ID)
			if g.Kind != w.Kind || g.Name != w.Name || g.Default != w.Default || g.Owner != w.Owner || g.ReadOnly != w.ReadOnly ||
				(w.Color != "" && g.Color != w.Color) {
				t.Errorf("%s: collection %q = %+v, want %+v", mbx.Address, w.ID, g, w)
			}
			if g.Default {
				defaults[g.Kind]++
			}
		}
		for id, c := range byID {
			t.Errorf("%s: collection %q (%s %s) is not in the truth", mbx.Address, id, c.Kind, c.Name)
		}
		for k, n := range defaults {
			if n > 1 {
				t.Errorf("%s: %d default %s collections", mbx.Address, n, k)
			}
		}
		s.cols[mbx.ID] = got

		// The kinds filter.
		for _, k := range allKinds {
			only, err := s.h.Source.Collections(s.ctx, mbx, []model.CollectionKind{k})
			if err != nil {
				t.Fatalf("Collections(%s, %s) = %v", mbx.Address, k, err)
			}
			var want []string
			for _, c := range got {
				if c.Kind == k {
					want = append(want, c.ID)
				}
			}
			var ids []string
			for _, c := range only {
				ids = append(ids, c.ID)
			}
			if !slices.Equal(ids, want) {
				t.Errorf("Collections(%s, %s) = %q, want %q", mbx.Address, k, ids, want)
			}
		}
	}
	for _, k := range allKinds {
		if kindsSeen[k] == 0 {
			t.Errorf("the truth has no %s collection: the suite proves nothing about them", k)
		}
	}
	absent := model.Mailbox{ID: "00000000-0000-0000-0000-00000000dead", Address: fmt.Sprintf("nobody-%d@absent.invalid", time.Now().UnixNano())}
	if _, err := s.h.Source.Collections(s.ctx, absent, nil); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Collections(absent mailbox) = %v, want an error wrapping model.ErrNotFound", err)
	}
}

// pass runs Records over one collection and checks the stream's shape.
func (s *gwSuite) pass(t *testing.T, mbx model.Mailbox, c model.Collection, cursor string) (ups, dels []model.Record, final string) {
	t.Helper()
	var last extract.Change
	for ch, err := range s.h.Source.Records(s.ctx, mbx, c, cursor) {
		if err != nil {
			t.Fatalf("Records(%s, %s %q) = %v", mbx.Address, c.Kind, c.Name, err)
		}
		if last.Final {
			t.Fatalf("Records(%s, %s %q): an element after the Final checkpoint: %+v", mbx.Address, c.Kind, c.Name, ch)
		}
		switch ch.Kind {
		case extract.Upsert:
			ups = append(ups, ch.Record)
		case extract.Delete:
			if ch.Record.ID == "" {
				t.Errorf("Records(%s, %s %q): a Delete without Record.ID", mbx.Address, c.Kind, c.Name)
			}
			dels = append(dels, ch.Record)
		case extract.Checkpoint:
			if ch.Cursor == "" {
				t.Errorf("Records(%s, %s %q): a Checkpoint without Cursor", mbx.Address, c.Kind, c.Name)
			}
		default:
			t.Errorf("Records(%s, %s %q): unknown kind %d", mbx.Address, c.Kind, c.Name, ch.Kind)
		}
		last = ch
	}
	if last.Kind != extract.Checkpoint || !last.Final {
		t.Fatalf("Records(%s, %s %q) ended on %+v, want a Final Checkpoint", mbx.Address, c.Kind, c.Name, last)
	}
	return ups, dels, last.Cursor
}

// checkUpsert compares one Upsert with its truth.
func (s *gwSuite) checkUpsert(t *testing.T, mbx model.Mailbox, c model.Collection, r model.Record, w RecordTruth) {
	t.Helper()
	if r.Kind != c.Kind || r.CollectionID != c.ID {
		t.Errorf("%s: record %q has Kind %q CollectionID %q, want %q %q", mbx.Address, r.ID, r.Kind, r.CollectionID, c.Kind, c.ID)
	}
	if w.CollectionID != c.ID {
		t.Errorf("%s: record %q yielded in collection %q, truth says %q", mbx.Address, r.ID, c.ID, w.CollectionID)
	}
	if r.ChangeKey == "" || (w.ChangeKey != "" && r.ChangeKey != w.ChangeKey) {
		t.Errorf("%s: record %q ChangeKey = %q, want %q (non-empty)", mbx.Address, r.ID, r.ChangeKey, w.ChangeKey)
	}
	if r.Subject != w.Subject {
		t.Errorf("%s: record %q Subject = %q, want %q", mbx.Address, r.ID, r.Subject, w.Subject)
	}
	if len(r.Payload) == 0 {
		t.Errorf("%s: record %q has no Payload", mbx.Address, r.ID)
	}
	photo := ""
	if r.Photo != nil {
		sum := sha256.Sum256(r.Photo)
		photo = hex.EncodeToString(sum[:])
	}
	if photo != w.PhotoSHA256 {
		t.Errorf("%s: record %q photo SHA-256 = %q, want %q", mbx.Address, r.ID, photo, w.PhotoSHA256)
	}
	if s.h.CheckRecord != nil {
		s.h.CheckRecord(t, r)
	}
}

func (s *gwSuite) testFullPass(t *testing.T) {
	total := map[model.CollectionKind]int{}
	photos := 0
	for _, mt := range s.truth.Mailboxes {
		mbx := mt.Mailbox
		want := map[string]RecordTruth{}
		for _, r := range mt.Records {
			want[r.ID] = r
		}
		seen := map[string]string{}
		for _, c := range s.cols[mbx.ID] {
			ups, dels, final := s.pass(t, mbx, c, "")
			if len(dels) > 0 {
				t.Errorf("%s %s %q: the initial pass yielded %d Deletes", mbx.Address, c.Kind, c.Name, len(dels))
			}
			for _, r := range ups {
				if prev, dup := seen[r.ID]; dup {
					t.Errorf("%s: record %q yielded twice (collections %q and %q)", mbx.Address, r.ID, prev, c.ID)
					continue
				}
				seen[r.ID] = c.ID
				w, ok := want[r.ID]
				if !ok {
					t.Errorf("%s: record %q (%s %q) is not in the truth", mbx.Address, r.ID, c.Kind, r.Subject)
					continue
				}
				s.checkUpsert(t, mbx, c, r, w)
				total[c.Kind]++
				if r.Photo != nil {
					photos++
				}
			}
			s.cursors[folderKey{mbx.ID, c.ID}] = final
		}
		for id, w := range want {
			if _, ok := seen[id]; !ok {
				t.Errorf("%s: %s record %q (%q) never yielded", mbx.Address, w.Kind, id, w.Subject)
			}
		}
	}
	for _, k := range allKinds {
		if total[k] == 0 {
			t.Errorf("the full pass yielded no %s record: the suite proves nothing about them", k)
		}
	}
	if photos == 0 {
		t.Errorf("no contact with a photo: the suite proves nothing about photos")
	}
}

func (s *gwSuite) testNoChange(t *testing.T) {
	for _, mt := range s.truth.Mailboxes {
		mbx := mt.Mailbox
		for _, c := range s.cols[mbx.ID] {
			k := folderKey{mbx.ID, c.ID}
			ups, dels, final := s.pass(t, mbx, c, s.cursors[k])
			if len(ups)+len(dels) > 0 {
				t.Errorf("%s %s %q: a pass with no change yielded %d Upserts and %d Deletes", mbx.Address, c.Kind, c.Name, len(ups), len(dels))
			}
			s.cursors[k] = final
		}
	}
}

func (s *gwSuite) testMutations(t *testing.T) {
	// For each kind, the collection with the most records (of the mailbox with the most).
	type target struct {
		mbx model.Mailbox
		col model.Collection
		n   int
	}
	best := map[model.CollectionKind]target{}
	for _, mt := range s.truth.Mailboxes {
		count := map[string]int{}
		for _, r := range mt.Records {
			count[r.CollectionID]++
		}
		for _, c := range s.cols[mt.Mailbox.ID] {
			if c.ReadOnly || c.Owner != "" {
				continue
			}
			if b, ok := best[c.Kind]; count[c.ID] >= 2 && (!ok || count[c.ID] > b.n) {
				best[c.Kind] = target{mt.Mailbox, c, count[c.ID]}
			}
		}
	}
	type expectation struct {
		kind extract.ChangeKind
		id   string
	}
	expect := map[folderKey][]expectation{}
	for _, k := range allKinds {
		tg, ok := best[k]
		if !ok {
			t.Errorf("no %s collection with 2 records to mutate", k)
			continue
		}
		m := s.h.Mutate(t, tg.mbx, tg.col)
		fk := folderKey{tg.mbx.ID, tg.col.ID}
		for _, e := range []expectation{{extract.Upsert, m.Changed}, {extract.Upsert, m.Added}, {extract.Delete, m.Deleted}} {
			if e.id != "" {
				expect[fk] = append(expect[fk], e)
			}
		}
	}
	s.truth = s.h.Truth(t)
	for _, mt := range s.truth.Mailboxes {
		mbx := mt.Mailbox
		want := map[string]RecordTruth{}
		for _, r := range mt.Records {
			want[r.ID] = r
		}
		for _, c := range s.cols[mbx.ID] {
			k := folderKey{mbx.ID, c.ID}
			ups, dels, final := s.pass(t, mbx, c, s.cursors[k])
			s.cursors[k] = final
			exp := expect[k]
			take := func(kind extract.ChangeKind, id string) bool {
				for i, e := range exp {
					if e.kind == kind && e.id == id {
						exp = slices.Delete(exp, i, i+1)
						return true
					}
				}
				return false
			}
			for _, r := range ups {
				if !take(extract.Upsert, r.ID) {
					t.Errorf("%s %s %q: unexpected Upsert of %q (%q)", mbx.Address, c.Kind, c.Name, r.ID, r.Subject)
					continue
				}
				w, ok := want[r.ID]
				if !ok {
					t.Errorf("%s: upserted record %q is not in the truth", mbx.Address, r.ID)
					continue
				}
				s.checkUpsert(t, mbx, c, r, w)
			}
			for _, r := range dels {
				if !take(extract.Delete, r.ID) {
					t.Errorf("%s %s %q: unexpected Delete of %q", mbx.Address, c.Kind, c.Name, r.ID)
				}
				if _, live := want[r.ID]; live {
					t.Errorf("%s: Delete of %q, which the truth still has", mbx.Address, r.ID)
				}
			}
			for _, e := range exp {
				t.Errorf("%s %s %q: no %s of %q in the pass", mbx.Address, c.Kind, c.Name, kindName(e.kind), e.id)
			}
		}
	}
}

func (s *gwSuite) testExpired(t *testing.T) {
	s.h.ExpireCursors(t)
	for _, k := range allKinds {
		// The first collection of that kind that has records.
		var mbx model.Mailbox
		var col model.Collection
		want := -1
		for _, mt := range s.truth.Mailboxes {
			for _, c := range s.cols[mt.Mailbox.ID] {
				n := 0
				for _, r := range mt.Records {
					if r.CollectionID == c.ID {
						n++
					}
				}
				if c.Kind == k && n > 0 && want < 0 {
					mbx, col, want = mt.Mailbox, c, n
				}
			}
		}
		if want < 0 {
			continue
		}
		cursor := s.cursors[folderKey{mbx.ID, col.ID}]
		if slices.Contains(s.h.SelfContainedCursors, k) {
			cursor = cursor[:len(cursor)/2] + "~damaged~"
		}
		n := 0
		for ch, err := range s.h.Source.Records(s.ctx, mbx, col, cursor) {
			n++
			if n == 1 {
				if !errors.Is(err, model.ErrCursorExpired) {
					t.Errorf("Records(%s %q, expired cursor) first element = %+v, %v; want an error wrapping model.ErrCursorExpired", k, col.Name, ch, err)
				}
				continue
			}
			t.Errorf("Records(%s %q, expired cursor) went on after the error: %+v, %v", k, col.Name, ch, err)
		}
		if n == 0 {
			t.Errorf("Records(%s %q, expired cursor) yielded nothing", k, col.Name)
		}
		ups, _, _ := s.pass(t, mbx, col, "")
		if len(ups) != want {
			t.Errorf("%s %q: a fresh pass after expiry yielded %d records, want %d", k, col.Name, len(ups), want)
		}
	}
}
