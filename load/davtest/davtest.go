// Package davtest is the conformance suite every groupware sink (load.GroupwareSink) passes
// against a real CalDAV/CardDAV server: default and extra collections of each kind (found
// again, never duplicated, display names kept, non-ASCII names), conditional writes
// (If-None-Match to create, If-Match to update, stale versions refused), Stat and Delete,
// refusals classified as permanent with the server's reason, concurrent writes, an admin
// writing into another user's collections, sharing a calendar and an address book (what each
// delegate may then do, with their own password), and a wrong password classified as fatal.
//
// What the sink wrote is read back through testenv.DAVServer (go-webdav and plain GETs),
// never through the sink.
package davtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/internal/testenv"
	"github.com/bascule-migrate/bascule/load"
	"github.com/bascule-migrate/bascule/model"
)

// Harness tells the suite which sinks to test and how the server behaves. The accounts may
// hold anything already; every case works in collections and resources of its own, named
// uniquely per run (defaults aside).
type Harness struct {
	// Server is the running server, used to read back what the sinks wrote.
	Server *testenv.DAVServer
	// Sink logs in as each account with its own password (Server.Users).
	Sink load.GroupwareSink
	// Admin writes into every account's collections with the admin's login; nil leaves that
	// case out.
	Admin load.GroupwareSink
	// WrongPassword logs Account in with WrongSecret.
	WrongPassword load.GroupwareSink
	WrongSecret   string
	// Account is the account most cases write into; Other is a second one (admin case).
	Account, Other string
	// RefusedText is a piece of the server's reason for refusing a malformed iCalendar
	// object, which the error must carry (e.g. "valid-calendar-data").
	RefusedText string
	// UIDConflictText, when set, is a piece of the server's reason for refusing a second
	// resource with the UID of another one in the same collection (e.g. "no-uid-conflict");
	// "" leaves that case out (servers that accept it).
	UIDConflictText string
	// HasDefaults: the server has a default calendar and address book before anything is
	// created (Cyrus); the sink must use them rather than create its own.
	HasDefaults bool
	// AdminNamesPrivate: a display name set by the admin is the admin's own, not what the
	// owner sees (Cyrus keeps DAV:displayname per user for anybody but the owner); the
	// owner's view of it is then not checked.
	AdminNamesPrivate bool
	// Concurrency is the number of resources written at once in the concurrent case
	// (default 40).
	Concurrency int
	// Share case: Account shares a calendar and an address book with Reader (read only) and
	// Writer (read-write); Stranger gets nothing. Each then works with their own password.
	// Reader "" leaves the case out.
	Reader, Writer, Stranger string
	// ShareUnsupported: the server cannot share a collection; Share must say so with
	// load.ErrUnsupported.
	ShareUnsupported bool

	run string // unique per Run, so the suite can run again against the same accounts
}

// Run runs the suite. Subtests share the accounts.
func Run(t *testing.T, h Harness) {
	if h.Concurrency == 0 {
		h.Concurrency = 40
	}
	h.run = fmt.Sprintf("-%x", time.Now().UnixNano()&0xffffffffff)
	t.Run("Collections", func(t *testing.T) { testCollections(t, h) })
	t.Run("ConditionalPut", func(t *testing.T) { testConditional(t, h) })
	t.Run("ContactsAndTasks", func(t *testing.T) { testKinds(t, h) })
	t.Run("StatDelete", func(t *testing.T) { testStatDelete(t, h) })
	t.Run("Refused", func(t *testing.T) { testRefused(t, h) })
	t.Run("ConcurrentPuts", func(t *testing.T) { testConcurrent(t, h) })
	if h.Admin != nil {
		t.Run("Admin", func(t *testing.T) { testAdmin(t, h) })
	}
	if h.Reader != "" {
		t.Run("Share", func(t *testing.T) { testShare(t, h) })
	}
	t.Run("WrongPassword", func(t *testing.T) { testWrongPassword(t, h) })
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func open(t *testing.T, s load.GroupwareSink, account string) load.CollectionWriter {
	t.Helper()
	w, err := s.Open(ctxT(t), account)
	if err != nil {
		t.Fatalf("Open(%q) = %v", account, err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func ensure(t *testing.T, w load.CollectionWriter, c model.Collection) load.CollectionRef {
	t.Helper()
	ref, err := w.EnsureCollection(ctxT(t), c)
	if err != nil {
		t.Fatalf("EnsureCollection(%s %q) = %v", c.Kind, c.Name, err)
	}
	if ref.Href == "" || !strings.HasSuffix(ref.Href, "/") || ref.Kind != c.Kind {
		t.Fatalf("EnsureCollection(%s %q) = %+v: want an href ending in / and kind %s", c.Kind, c.Name, ref, c.Kind)
	}
	return ref
}

// Event returns a small VEVENT object (CRLF lines, as RFC 5545 wants).
func Event(uid, summary string) []byte {
	return crlf("BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Bascule//davtest//EN",
		"BEGIN:VEVENT", "UID:"+uid, "DTSTAMP:20240101T000000Z", "DTSTART:20240301T090000Z",
		"DTEND:20240301T100000Z", "SUMMARY:"+summary, "END:VEVENT", "END:VCALENDAR")
}

// Todo returns a small VTODO object.
func Todo(uid, summary string) []byte {
	return crlf("BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Bascule//davtest//EN",
		"BEGIN:VTODO", "UID:"+uid, "DTSTAMP:20240101T000000Z", "DUE:20240315T170000Z",
		"SUMMARY:"+summary, "STATUS:NEEDS-ACTION", "END:VTODO", "END:VCALENDAR")
}

// Card returns a small vCard 3.0 (the version every CardDAV server takes).
func Card(uid, name string) []byte {
	return crlf("BEGIN:VCARD", "VERSION:3.0", "UID:"+uid, "FN:"+name, "N:"+name+";;;;",
		"EMAIL;TYPE=INTERNET:"+uid+"@example.org", "END:VCARD")
}

func crlf(lines ...string) []byte { return []byte(strings.Join(lines, "\r\n") + "\r\n") }

// objects reads back the collections of kind ("calendar" covers task lists too).
func objects(t *testing.T, h Harness, user string, kind model.CollectionKind) map[string][]testenv.DAVObject {
	t.Helper()
	k := testenv.KindCalendar
	if kind == model.KindContacts {
		k = testenv.KindContacts
	}
	return h.Server.Objects(t, user, k)
}

func names(t *testing.T, h Harness, user string, kind model.CollectionKind) map[string]string {
	t.Helper()
	k := testenv.KindCalendar
	if kind == model.KindContacts {
		k = testenv.KindContacts
	}
	return h.Server.DisplayNames(t, user, k)
}

// findObject returns the object at href in what was read back.
func findObject(all map[string][]testenv.DAVObject, href string) (testenv.DAVObject, bool) {
	for _, objs := range all {
		for _, o := range objs {
			if o.Href == href {
				return o, true
			}
		}
	}
	return testenv.DAVObject{}, false
}

func testCollections(t *testing.T, h Harness) {
	ctx := ctxT(t)
	w := open(t, h.Sink, h.Account)
	kinds := []model.CollectionKind{model.KindCalendar, model.KindTasks, model.KindContacts}
	before := map[model.CollectionKind]map[string]string{}
	for _, k := range kinds {
		before[k] = names(t, h, h.Account, k)
	}
	type want struct {
		c   model.Collection
		ref load.CollectionRef
	}
	var all []want
	defaults := map[model.CollectionKind]load.CollectionRef{}
	for _, k := range kinds {
		// Exchange's default collections, named as a French Outlook names them.
		def := model.Collection{ID: "default-" + string(k), Kind: k, Default: true, Name: map[model.CollectionKind]string{
			model.KindCalendar: "Calendrier", model.KindTasks: "Tâches", model.KindContacts: "Contacts"}[k]}
		ref := ensure(t, w, def)
		defaults[k] = ref
		if h.HasDefaults {
			if _, existed := before[k][ref.Href]; !existed {
				t.Errorf("default %s went to a new collection %s; the server had %v", k, ref.Href, before[k])
			}
		}
		all = append(all, want{def, ref})
		extras := []model.Collection{
			{ID: "extra-1-" + string(k) + h.run, Kind: k, Name: "Projets Été 2024 — 日本語", Color: "#1E90FF"},
			{ID: "extra-2-" + string(k) + h.run, Kind: k, Name: "A/B tests & <Partenaires> \"quoted\"", Color: "#AA0000"},
			{ID: "extra-3-" + string(k) + h.run, Kind: k, Name: "Calendrier"}, // same name as the default
		}
		seen := map[string]string{ref.Href: def.ID}
		for _, c := range extras {
			r := ensure(t, w, c)
			if prev, dup := seen[r.Href]; dup {
				t.Errorf("EnsureCollection(%s %q) = %s, already given to %s", k, c.Name, r.Href, prev)
			}
			seen[r.Href] = c.ID
			if again := ensure(t, w, c); again != r {
				t.Errorf("EnsureCollection(%s %q) again = %+v, want %+v", k, c.Name, again, r)
			}
			all = append(all, want{c, r})
		}
	}
	t.Logf("defaults: calendar %s, tasks %s, contacts %s", defaults[model.KindCalendar].Href, defaults[model.KindTasks].Href, defaults[model.KindContacts].Href)
	if defaults[model.KindCalendar].Href == defaults[model.KindContacts].Href {
		t.Errorf("default calendar and address book are both %s", defaults[model.KindCalendar].Href)
	}
	// A second session (a rerun) finds every collection again, defaults included.
	w2 := open(t, h.Sink, h.Account)
	for _, c := range all {
		ref, err := w2.EnsureCollection(ctx, c.c)
		if err != nil || ref != c.ref {
			t.Errorf("rerun EnsureCollection(%s %q) = %+v, %v; want %+v", c.c.Kind, c.c.Name, ref, err, c.ref)
		}
	}
	// On the server: each collection once, with its display name.
	for _, k := range kinds {
		got := names(t, h, h.Account, k)
		for _, c := range all {
			if c.c.Kind != k {
				continue
			}
			name, ok := got[c.ref.Href]
			if !ok {
				t.Errorf("%s %q: %s is not on the server (%v)", k, c.c.Name, c.ref.Href, got)
				continue
			}
			if !c.c.Default && name != c.c.Name {
				t.Errorf("%s %s: display name %q, want %q", k, c.ref.Href, name, c.c.Name)
			}
		}
	}
	// Nothing created twice, nothing stray: the collections new on the server are exactly the
	// ones EnsureCollection returned (calendars and task lists share the CalDAV home).
	for _, k := range []model.CollectionKind{model.KindCalendar, model.KindContacts} {
		ours := map[string]bool{}
		for _, c := range all {
			if (c.c.Kind == model.KindContacts) == (k == model.KindContacts) {
				if _, old := before[k][c.ref.Href]; !old {
					ours[c.ref.Href] = true
				}
			}
		}
		for href, name := range names(t, h, h.Account, k) {
			if _, old := before[k][href]; !old && !ours[href] {
				t.Errorf("%s: collection %s (%q) was created but never returned", k, href, name)
			}
		}
	}
	// Putting the right component into each default works.
	if _, err := w.Put(ctx, defaults[model.KindCalendar], load.Resource{Name: "coll-event" + h.run + ".ics", Data: Event("coll-event"+h.run, "in the default calendar")}); err != nil {
		t.Errorf("Put(event) into the default calendar %s = %v", defaults[model.KindCalendar].Href, err)
	}
	if _, err := w.Put(ctx, defaults[model.KindTasks], load.Resource{Name: "coll-todo" + h.run + ".ics", Data: Todo("coll-todo"+h.run, "in the default task list")}); err != nil {
		t.Errorf("Put(todo) into the default task list %s = %v", defaults[model.KindTasks].Href, err)
	}
	if _, err := w.Put(ctx, defaults[model.KindContacts], load.Resource{Name: "coll-card" + h.run + ".vcf", Data: Card("coll-card"+h.run, "Default Contact")}); err != nil {
		t.Errorf("Put(card) into the default address book %s = %v", defaults[model.KindContacts].Href, err)
	}
}

func testConditional(t *testing.T, h Harness) {
	ctx := ctxT(t)
	w := open(t, h.Sink, h.Account)
	col := ensure(t, w, model.Collection{ID: "cond" + h.run, Kind: model.KindCalendar, Name: "Conditional"})
	v1 := Event("cond-1", "Réunion — 会議 v1")
	ref, err := w.Put(ctx, col, load.Resource{Name: "cond-1.ics", Data: v1})
	if err != nil {
		t.Fatalf("Put(new) = %v", err)
	}
	if ref.Href != col.Href+"cond-1.ics" {
		t.Errorf("Put(new).Href = %q, want %q", ref.Href, col.Href+"cond-1.ics")
	}
	if ref.ETag == "" {
		t.Errorf("Put(new) gave no ETag")
	}
	// The same name again as new: the resource exists.
	_, err = w.Put(ctx, col, load.Resource{Name: "cond-1.ics", Data: Event("cond-1", "overwrite attempt")})
	if !errors.Is(err, load.ErrPrecondition) {
		t.Errorf("second Put(new) of the same name = %v, want ErrPrecondition", err)
	}
	if errors.Is(err, model.ErrPermanent) || errors.Is(err, model.ErrFatal) {
		t.Errorf("second Put(new) = %v: a failed condition is not permanent or fatal", err)
	}
	// Update with the right version.
	v2 := Event("cond-1", "Réunion — 会議 v2")
	ref2, err := w.Put(ctx, col, load.Resource{Name: "cond-1.ics", Data: v2, ETag: ref.ETag})
	if err != nil {
		t.Fatalf("Put(update, current ETag) = %v", err)
	}
	if ref2.ETag == "" || ref2.ETag == ref.ETag {
		t.Errorf("Put(update) ETag = %q, was %q: want a new one", ref2.ETag, ref.ETag)
	}
	// Update with a stale version.
	_, err = w.Put(ctx, col, load.Resource{Name: "cond-1.ics", Data: Event("cond-1", "stale write"), ETag: ref.ETag})
	if !errors.Is(err, load.ErrPrecondition) {
		t.Errorf("Put(update, stale ETag) = %v, want ErrPrecondition", err)
	}
	st, err := w.Stat(ctx, col, "cond-1.ics")
	if err != nil || st.ETag != ref2.ETag || st.Href != ref2.Href {
		t.Errorf("Stat = %+v, %v; want %+v", st, err, ref2)
	}
	// What the server holds: v2, under the ETag Put returned.
	obj, ok := findObject(objects(t, h, h.Account, model.KindCalendar), ref2.Href)
	if !ok {
		t.Fatalf("%s is not on the server", ref2.Href)
	}
	if !bytes.Contains(obj.Data, []byte("SUMMARY:Réunion — 会議 v2")) {
		t.Errorf("the server holds:\n%s\nwant the v2 summary", obj.Data)
	}
	if obj.ETag != ref2.ETag {
		t.Errorf("GET ETag = %q, Put returned %q", obj.ETag, ref2.ETag)
	}
	// A conflicting UID under another name.
	if h.UIDConflictText != "" {
		_, err := w.Put(ctx, col, load.Resource{Name: "cond-dup.ics", Data: Event("cond-1", "same UID")})
		if !errors.Is(err, model.ErrPermanent) || !strings.Contains(err.Error(), h.UIDConflictText) {
			t.Errorf("Put(same UID, other name) = %v; want a permanent error saying %q", err, h.UIDConflictText)
		}
	}
}

func testKinds(t *testing.T, h Harness) {
	ctx := ctxT(t)
	w := open(t, h.Sink, h.Account)
	cases := []struct {
		kind model.CollectionKind
		name string
		data []byte
		text string
	}{
		{model.KindContacts, "jerome.vcf", Card("jerome", "Jérôme Müller-Łukasz"), "Jérôme Müller-Łukasz"},
		{model.KindTasks, "task-1.ics", Todo("task-1", "Rendre le rapport ✓"), "Rendre le rapport ✓"},
	}
	for _, c := range cases {
		col := ensure(t, w, model.Collection{ID: "kinds-" + string(c.kind) + h.run, Kind: c.kind, Name: "Kinds " + string(c.kind)})
		ref, err := w.Put(ctx, col, load.Resource{Name: c.name, Data: c.data})
		if err != nil {
			t.Fatalf("Put(%s) = %v", c.name, err)
		}
		obj, ok := findObject(objects(t, h, h.Account, c.kind), ref.Href)
		if !ok || !bytes.Contains(obj.Data, []byte(c.text)) {
			t.Errorf("%s read back = %+v (found %v), want it to hold %q", ref.Href, obj, ok, c.text)
		}
		up, err := w.Put(ctx, col, load.Resource{Name: c.name, Data: bytes.Replace(c.data, []byte(c.text), []byte(c.text+" (2)"), 1), ETag: ref.ETag})
		if err != nil || up.ETag == ref.ETag {
			t.Errorf("Put(%s, update) = %+v, %v", c.name, up, err)
		}
	}
}

func testStatDelete(t *testing.T, h Harness) {
	ctx := ctxT(t)
	w := open(t, h.Sink, h.Account)
	col := ensure(t, w, model.Collection{ID: "statdel" + h.run, Kind: model.KindCalendar, Name: "Stat & Delete"})
	if _, err := w.Stat(ctx, col, "missing.ics"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Stat(missing) = %v, want ErrNotFound", err)
	}
	ref, err := w.Put(ctx, col, load.Resource{Name: "gone.ics", Data: Event("gone", "to be deleted")})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := w.Stat(ctx, col, "gone.ics"); err != nil || st.ETag != ref.ETag {
		t.Errorf("Stat(gone.ics) = %+v, %v; want ETag %q", st, err, ref.ETag)
	}
	if err := w.Delete(ctx, ref); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	if _, err := w.Stat(ctx, col, "gone.ics"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Stat after Delete = %v, want ErrNotFound", err)
	}
	if _, ok := findObject(objects(t, h, h.Account, model.KindCalendar), ref.Href); ok {
		t.Errorf("%s is still on the server after Delete", ref.Href)
	}
	if err := w.Delete(ctx, ref); err != nil {
		t.Errorf("Delete(vanished) = %v, want nil", err)
	}
	// Written again as new after the delete.
	if _, err := w.Put(ctx, col, load.Resource{Name: "gone.ics", Data: Event("gone", "back")}); err != nil {
		t.Errorf("Put(new) after Delete = %v", err)
	}
}

func testRefused(t *testing.T, h Harness) {
	ctx := ctxT(t)
	w := open(t, h.Sink, h.Account)
	col := ensure(t, w, model.Collection{ID: "refused" + h.run, Kind: model.KindCalendar, Name: "Refused"})
	// No END:VEVENT: not iCalendar at all.
	bad := crlf("BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Bascule//davtest//EN", "BEGIN:VEVENT",
		"UID:broken", "DTSTART:20240301T090000Z", "SUMMARY:broken", "END:VCALENDAR")
	_, err := w.Put(ctx, col, load.Resource{Name: "broken.ics", Data: bad})
	if err == nil {
		t.Fatal("Put(malformed iCalendar) = nil, want a refusal")
	}
	if !errors.Is(err, model.ErrPermanent) || errors.Is(err, model.ErrRetryable) || errors.Is(err, load.ErrPrecondition) {
		t.Errorf("Put(malformed) = %v: want permanent only", err)
	}
	t.Logf("refused: %v", err)
	if h.RefusedText != "" && !strings.Contains(err.Error(), h.RefusedText) {
		t.Errorf("Put(malformed) = %v: want the server's reason %q", err, h.RefusedText)
	}
	if _, err := w.Stat(ctx, col, "broken.ics"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Stat(refused) = %v, want ErrNotFound", err)
	}
	// The session goes on after a refusal.
	if _, err := w.Put(ctx, col, load.Resource{Name: "fine.ics", Data: Event("fine", "fine")}); err != nil {
		t.Errorf("Put after a refusal = %v", err)
	}
}

func testConcurrent(t *testing.T, h Harness) {
	ctx := ctxT(t)
	w := open(t, h.Sink, h.Account)
	col := ensure(t, w, model.Collection{ID: "concurrent" + h.run, Kind: model.KindCalendar, Name: "Concurrent"})
	n := h.Concurrency
	refs := make([]load.ResourceRef, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			uid := fmt.Sprintf("conc-%03d", i)
			refs[i], errs[i] = w.Put(ctx, col, load.Resource{Name: uid + ".ics", Data: Event(uid, "concurrent "+uid)})
		})
	}
	// EnsureCollection from many goroutines at once gives one collection.
	ensured := make([]load.CollectionRef, 8)
	for i := range ensured {
		wg.Go(func() {
			ensured[i], _ = w.EnsureCollection(ctx, model.Collection{ID: "concurrent-ensure" + h.run, Kind: model.KindContacts, Name: "Ensured at once"})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Put #%d = %v", i, err)
		}
	}
	for _, r := range ensured[1:] {
		if r != ensured[0] || r.Href == "" {
			t.Errorf("concurrent EnsureCollection gave %+v and %+v", ensured[0], r)
		}
	}
	got := objects(t, h, h.Account, model.KindCalendar)[col.Href]
	if len(got) != n {
		t.Errorf("%s holds %d objects, want %d", col.Href, len(got), n)
	}
	etags := map[string]bool{}
	for _, o := range got {
		etags[o.ETag] = true
	}
	for i, r := range refs {
		if errs[i] == nil && !etags[r.ETag] {
			t.Errorf("Put #%d ETag %q is not one the server serves", i, r.ETag)
		}
	}
}

func testAdmin(t *testing.T, h Harness) {
	ctx := ctxT(t)
	// The owner has used DAV once (Cyrus creates a user's DAV homes only then; a migration
	// into a fresh Cyrus account must do the same).
	h.Server.DisplayNames(t, h.Other, testenv.KindCalendar)
	w := open(t, h.Admin, h.Other)
	def := ensure(t, w, model.Collection{ID: "admin-default", Kind: model.KindCalendar, Default: true, Name: "Calendar"})
	extra := ensure(t, w, model.Collection{ID: "admin-extra" + h.run, Kind: model.KindContacts, Name: "Carnet d'adresses — admin"})
	ev, err := w.Put(ctx, def, load.Resource{Name: "admin-ev" + h.run + ".ics", Data: Event("admin-ev"+h.run, "written by the admin")})
	if err != nil {
		t.Fatalf("admin Put(event) = %v", err)
	}
	card, err := w.Put(ctx, extra, load.Resource{Name: "admin-card" + h.run + ".vcf", Data: Card("admin-card"+h.run, "Admin Card")})
	if err != nil {
		t.Fatalf("admin Put(card) = %v", err)
	}
	// The owner sees them in their own collections, read with their own password.
	if _, ok := findObject(h.Server.Objects(t, h.Other, testenv.KindCalendar), ev.Href); !ok {
		t.Errorf("%s does not see %s", h.Other, ev.Href)
	}
	if _, ok := findObject(h.Server.Objects(t, h.Other, testenv.KindContacts), card.Href); !ok {
		t.Errorf("%s does not see %s", h.Other, card.Href)
	}
	if name := h.Server.DisplayNames(t, h.Other, testenv.KindContacts)[extra.Href]; name != "Carnet d'adresses — admin" {
		if h.AdminNamesPrivate {
			t.Logf("%s: the owner sees the display name %q (the server keeps the admin's to the admin)", extra.Href, name)
		} else {
			t.Errorf("%s display name = %q", extra.Href, name)
		}
	}
	// The owner's own session finds the same collections.
	uw := open(t, h.Sink, h.Other)
	if ref := ensure(t, uw, model.Collection{ID: "whatever", Kind: model.KindCalendar, Default: true}); ref != def {
		t.Errorf("%s's own default calendar = %+v, the admin used %+v", h.Other, ref, def)
	}
	if ref := ensure(t, uw, model.Collection{ID: "admin-extra" + h.run, Kind: model.KindContacts, Name: "x"}); ref != extra {
		t.Errorf("%s's own session found %+v, the admin created %+v", h.Other, ref, extra)
	}
}

func testWrongPassword(t *testing.T, h Harness) {
	_, err := h.WrongPassword.Open(ctxT(t), h.Account)
	t.Logf("wrong password: %v", err)
	if !errors.Is(err, model.ErrFatal) {
		t.Fatalf("Open with a wrong password = %v, want ErrFatal", err)
	}
	if h.WrongSecret != "" && strings.Contains(err.Error(), h.WrongSecret) {
		t.Errorf("the error shows the password: %v", err)
	}
	for _, pw := range h.Server.Users {
		if strings.Contains(err.Error(), pw) {
			t.Errorf("the error shows a password: %v", err)
		}
	}
	if _, err := h.Sink.Open(ctxT(t), "no-such-password-"+h.Account); err == nil {
		t.Errorf("Open(an account without a password) = nil")
	}
}
