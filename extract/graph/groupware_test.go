package graph

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jsonserialization "github.com/microsoft/kiota-serialization-json-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/extract/sourcetest"
	"github.com/bascule-migrate/bascule/model"
	simgraph "github.com/bascule-migrate/bascule/sim/graph"
	"github.com/bascule-migrate/bascule/sim/tenant"
)

func addressOf(u tenant.User) string {
	if u.Mail != "" {
		return u.Mail
	}
	return u.UPN
}

func photoSum(p []byte) string {
	if p == nil {
		return ""
	}
	s := sha256.Sum256(p)
	return hex.EncodeToString(s[:])
}

// gwTruth reads the calendars, contacts and To Do lists of the generated tenant.
func (e *env) gwTruth(testing.TB) sourcetest.GroupwareTruth {
	var tr sourcetest.GroupwareTruth
	for _, u := range e.ten.Users() {
		addr := addressOf(u)
		mt := sourcetest.GroupwareMailboxTruth{Mailbox: model.Mailbox{ID: u.ID, Address: addr, DisplayName: u.DisplayName}}
		for _, c := range e.ten.Calendars(u.ID) {
			col := model.Collection{ID: c.ID, Kind: model.KindCalendar, Name: c.Name, Default: c.IsDefault,
				ReadOnly: !c.CanEdit, Color: normColor(c.HexColor)}
			if c.Owner.Address != "" && !strings.EqualFold(c.Owner.Address, addr) {
				col.Owner, col.Default = c.Owner.Address, false
			}
			mt.Collections = append(mt.Collections, col)
			for _, ev := range e.ten.Events(u.ID, c.ID) {
				mt.Records = append(mt.Records, sourcetest.RecordTruth{ID: ev.ID, CollectionID: c.ID, Kind: model.KindCalendar,
					Subject: ev.Subject, ChangeKey: ev.ChangeKey})
			}
		}
		for _, f := range e.ten.ContactFolders(u.ID) {
			mt.Collections = append(mt.Collections, model.Collection{ID: f.ID, Kind: model.KindContacts, Name: f.DisplayName, Default: f.IsDefault})
			for _, c := range e.ten.Contacts(u.ID, f.ID) {
				mt.Records = append(mt.Records, sourcetest.RecordTruth{ID: c.ID, CollectionID: f.ID, Kind: model.KindContacts,
					Subject: c.DisplayName, ChangeKey: c.ChangeKey, PhotoSHA256: photoSum(c.Photo)})
			}
		}
		for _, l := range e.ten.TaskLists(u.ID) {
			if l.WellKnown == "flaggedEmails" {
				continue // flagged messages: carried by the mail's \Flagged, not listed
			}
			mt.Collections = append(mt.Collections, model.Collection{ID: l.ID, Kind: model.KindTasks, Name: l.DisplayName, Default: l.WellKnown == "defaultList"})
			for _, tk := range e.ten.Tasks(u.ID, l.ID) {
				// A task's ChangeKey is Bascule's own (etag + checklist digest): not compared.
				mt.Records = append(mt.Records, sourcetest.RecordTruth{ID: tk.ID, CollectionID: l.ID, Kind: model.KindTasks, Subject: tk.Title})
			}
		}
		tr.Mailboxes = append(tr.Mailboxes, mt)
	}
	return tr
}

// payloadStats counts what the checked payloads carried, to prove the suite saw them.
type payloadStats struct {
	exceptions, cancelled, attachments, checklists, photos atomic.Int64
}

// checkRecord parses an Upsert's payload with msgraph-sdk-go's models through kiota's JSON
// parse node (as the transforms do) and compares it with the tenant.
func (e *env) checkRecord(st *payloadStats) func(testing.TB, model.Record) {
	return func(t testing.TB, rec model.Record) {
		t.Helper()
		pn, err := jsonserialization.NewJsonParseNode(rec.Payload)
		if err != nil {
			t.Errorf("record %s: payload does not parse: %v", rec.ID, err)
			return
		}
		var top map[string]json.RawMessage
		if err := json.Unmarshal(rec.Payload, &top); err != nil {
			t.Errorf("record %s: payload is not a JSON object: %v", rec.ID, err)
			return
		}
		switch rec.Kind {
		case model.KindCalendar:
			v, err := pn.GetObjectValue(models.CreateEventFromDiscriminatorValue)
			if err != nil {
				t.Errorf("event %s: %v", rec.ID, err)
				return
			}
			ev := v.(models.Eventable)
			keepsEveryField(t, rec.ID, top, ev.GetFieldDeserializers(), ev.GetAdditionalData())
			truth, ok := e.findEvent(rec.ID)
			if !ok {
				t.Errorf("event %s not in the tenant", rec.ID)
				return
			}
			if str(ev.GetId()) != rec.ID || str(ev.GetSubject()) != truth.Subject {
				t.Errorf("event %s: payload id %q subject %q, want %q", rec.ID, str(ev.GetId()), str(ev.GetSubject()), truth.Subject)
			}
			if s := ev.GetStart(); s == nil || str(s.GetTimeZone()) != "UTC" {
				t.Errorf("event %s: start %v not in UTC", rec.ID, s)
			}
			if truth.Type == "seriesMaster" {
				if ev.GetRecurrence() == nil {
					t.Errorf("event %s: a series master without recurrence", rec.ID)
				}
				if len(ev.GetExceptionOccurrences()) != len(truth.Exceptions) || len(ev.GetCancelledOccurrences()) != len(truth.Cancelled) {
					t.Errorf("event %s: %d exceptions and %d cancellations, want %d and %d", rec.ID,
						len(ev.GetExceptionOccurrences()), len(ev.GetCancelledOccurrences()), len(truth.Exceptions), len(truth.Cancelled))
				}
				for _, x := range ev.GetExceptionOccurrences() {
					if str(x.GetId()) == "" || x.GetStart() == nil || x.GetOriginalStart() == nil {
						t.Errorf("event %s: an exception without id, start or originalStart", rec.ID)
					}
				}
				st.exceptions.Add(int64(len(ev.GetExceptionOccurrences())))
				st.cancelled.Add(int64(len(ev.GetCancelledOccurrences())))
			}
			if len(ev.GetAttachments()) != len(truth.Attachments) {
				t.Errorf("event %s: %d attachments, want %d", rec.ID, len(ev.GetAttachments()), len(truth.Attachments))
			}
			for i, a := range ev.GetAttachments() {
				fa, ok := a.(models.FileAttachmentable)
				if !ok || i >= len(truth.Attachments) {
					t.Errorf("event %s: attachment %d is %T", rec.ID, i, a)
					continue
				}
				if w := truth.Attachments[i]; str(fa.GetName()) != w.Name || !bytes.Equal(fa.GetContentBytes(), w.Bytes()) {
					t.Errorf("event %s: attachment %q (%d bytes) differs from %q (%d bytes)", rec.ID, str(fa.GetName()), len(fa.GetContentBytes()), w.Name, len(w.Bytes()))
				}
				st.attachments.Add(1)
			}
		case model.KindContacts:
			v, err := pn.GetObjectValue(models.CreateContactFromDiscriminatorValue)
			if err != nil {
				t.Errorf("contact %s: %v", rec.ID, err)
				return
			}
			c := v.(models.Contactable)
			keepsEveryField(t, rec.ID, top, c.GetFieldDeserializers(), c.GetAdditionalData())
			if str(c.GetId()) != rec.ID || str(c.GetDisplayName()) != rec.Subject {
				t.Errorf("contact %s: payload id %q displayName %q, Subject %q", rec.ID, str(c.GetId()), str(c.GetDisplayName()), rec.Subject)
			}
			if rec.Photo != nil {
				st.photos.Add(1)
			}
		case model.KindTasks:
			v, err := pn.GetObjectValue(models.CreateTodoTaskFromDiscriminatorValue)
			if err != nil {
				t.Errorf("task %s: %v", rec.ID, err)
				return
			}
			tk := v.(models.TodoTaskable)
			keepsEveryField(t, rec.ID, top, tk.GetFieldDeserializers(), tk.GetAdditionalData())
			if _, ok := top["checklistItems"]; !ok {
				t.Errorf("task %s: no checklistItems in the payload", rec.ID)
			}
			truth, ok := e.findTask(rec.ID)
			if !ok {
				t.Errorf("task %s not in the tenant", rec.ID)
				return
			}
			if len(tk.GetChecklistItems()) != len(truth.Checklist) {
				t.Errorf("task %s: %d checklist items, want %d", rec.ID, len(tk.GetChecklistItems()), len(truth.Checklist))
			}
			for i, ci := range tk.GetChecklistItems() {
				if i < len(truth.Checklist) && str(ci.GetDisplayName()) != truth.Checklist[i].DisplayName {
					t.Errorf("task %s: checklist item %d = %q, want %q", rec.ID, i, str(ci.GetDisplayName()), truth.Checklist[i].DisplayName)
				}
			}
			st.checklists.Add(int64(len(tk.GetChecklistItems())))
		}
	}
}

// keepsEveryField checks that every member of the payload lands in a model field or in
// AdditionalData when kiota parses it: nothing Graph sent is lost to the transforms.
func keepsEveryField[F any](t testing.TB, id string, top map[string]json.RawMessage, fields map[string]F, extra map[string]any) {
	t.Helper()
	for k := range top {
		if _, known := fields[k]; known {
			continue
		}
		if _, kept := extra[k]; !kept {
			t.Errorf("record %s: member %q is neither a model field nor in AdditionalData", id, k)
		}
	}
}

func (e *env) findEvent(id string) (tenant.Event, bool) {
	for _, u := range e.ten.Users() {
		if ev, err := e.ten.Event(u.ID, id); err == nil {
			return ev, true
		}
	}
	return tenant.Event{}, false
}

func (e *env) findTask(id string) (tenant.Task, bool) {
	for _, u := range e.ten.Users() {
		if tk, err := e.ten.Task(u.ID, id); err == nil {
			return tk, true
		}
	}
	return tenant.Task{}, false
}

// mutate changes, adds and deletes one record of col in the tenant. For a calendar the
// change is a cancelled occurrence of a series master (the master's changeKey moves).
func (e *env) mutate(t testing.TB, mbx model.Mailbox, col model.Collection) sourcetest.Mutation {
	t.Helper()
	var m sourcetest.Mutation
	switch col.Kind {
	case model.KindCalendar:
		evs := e.ten.Events(mbx.ID, col.ID)
		for _, ev := range evs {
			if ev.Type != "seriesMaster" {
				continue
			}
			starts, err := ev.OccurrenceStarts(ev.Start.AddDate(2, 0, 0))
			if err != nil || len(starts) < 3 {
				continue
			}
			if err := e.ten.CancelOccurrence(mbx.ID, ev.ID, starts[2]); err != nil {
				continue
			}
			m.Changed = ev.ID
			t.Logf("calendar %q: cancelled the occurrence of %s of series %q", col.Name, starts[2].Format(time.RFC3339), ev.Subject)
			break
		}
		if m.Changed == "" {
			m.Changed = evs[0].ID
			if err := e.ten.SetEventSubject(mbx.ID, m.Changed, "Changed by the test"); err != nil {
				t.Fatalf("SetEventSubject = %v", err)
			}
		}
		for _, ev := range evs {
			if ev.ID != m.Changed {
				m.Deleted = ev.ID
				break
			}
		}
		if err := e.ten.DeleteEvent(mbx.ID, m.Deleted); err != nil {
			t.Fatalf("DeleteEvent = %v", err)
		}
		start := time.Now().UTC().Truncate(time.Hour).Add(72 * time.Hour)
		ev, err := e.ten.AddEvent(mbx.ID, col.ID, tenant.Event{Type: "singleInstance", Subject: "Added by the test",
			Start: start, End: start.Add(time.Hour), StartZone: "Romance Standard Time", EndZone: "Romance Standard Time",
			Organizer: tenant.Address{Name: mbx.DisplayName, Address: mbx.Address}, IsOrganizer: true,
			Sensitivity: "normal", ShowAs: "busy", Importance: "normal", Response: "organizer"})
		if err != nil {
			t.Fatalf("AddEvent = %v", err)
		}
		m.Added = ev.ID
	case model.KindContacts:
		cs := e.ten.Contacts(mbx.ID, col.ID)
		m.Changed, m.Deleted = cs[0].ID, cs[1].ID
		if err := e.ten.UpdateContact(mbx.ID, m.Changed, func(c *tenant.Contact) { c.JobTitle = "Changed by the test" }); err != nil {
			t.Fatalf("UpdateContact = %v", err)
		}
		if err := e.ten.DeleteContact(mbx.ID, m.Deleted); err != nil {
			t.Fatalf("DeleteContact = %v", err)
		}
		c, err := e.ten.AddContact(mbx.ID, col.ID, tenant.Contact{GivenName: "Added", Surname: "Bytest", DisplayName: "Added Bytest",
			Emails: []tenant.Address{{Name: "Added Bytest", Address: "added@example.org"}}})
		if err != nil {
			t.Fatalf("AddContact = %v", err)
		}
		m.Added = c.ID
	case model.KindTasks:
		ts := e.ten.Tasks(mbx.ID, col.ID)
		m.Changed, m.Deleted = ts[0].ID, ts[1].ID
		if err := e.ten.UpdateTask(mbx.ID, m.Changed, func(tk *tenant.Task) { tk.Title = "Changed by the test" }); err != nil {
			t.Fatalf("UpdateTask = %v", err)
		}
		if err := e.ten.DeleteTask(mbx.ID, m.Deleted); err != nil {
			t.Fatalf("DeleteTask = %v", err)
		}
		// The tenant has no way to add a task yet.
	}
	return m
}

func (e *env) gwHarness(src *Source, st *payloadStats) sourcetest.GroupwareHarness {
	return sourcetest.GroupwareHarness{
		Source:               src,
		Truth:                e.gwTruth,
		Mutate:               e.mutate,
		ExpireCursors:        func(testing.TB) { e.ten.ExpireDeltaTokens() },
		SelfContainedCursors: []model.CollectionKind{model.KindCalendar},
		CheckRecord:          e.checkRecord(st),
	}
}

// TestGroupwareConformance runs the groupware suite against the emulator and checks that
// the payloads carried exceptions, cancellations, attachments, photos and checklists.
func TestGroupwareConformance(t *testing.T) {
	e := startSim(t, tenant.Small(), simgraph.Options{})
	src := e.source(t, e.config())
	var st payloadStats
	sourcetest.RunGroupware(t, e.gwHarness(src, &st))
	for name, n := range map[string]int64{"exceptionOccurrences": st.exceptions.Load(), "cancelledOccurrences": st.cancelled.Load(),
		"attachments": st.attachments.Load(), "checklistItems": st.checklists.Load(), "photos": st.photos.Load()} {
		if n == 0 {
			t.Errorf("no payload carried %s: the test proves nothing about them", name)
		}
	}
}

// gwPass runs Records over every collection of every mailbox from the given cursors and
// returns the final cursors and the changes by record id.
func gwPass(t *testing.T, src *Source, boxes []model.Mailbox, cursors map[[2]string]string) (map[[2]string]string, map[string]extract.ChangeKind) {
	t.Helper()
	ctx := context.Background()
	out := map[[2]string]string{}
	changes := map[string]extract.ChangeKind{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, mbx := range boxes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cols, err := src.Collections(ctx, mbx, nil)
			if err != nil {
				t.Errorf("Collections(%s) = %v", mbx.Address, err)
				return
			}
			for _, c := range cols {
				k := [2]string{mbx.ID, c.ID}
				for ch, err := range src.Records(ctx, mbx, c, cursors[k]) {
					if err != nil {
						t.Errorf("Records(%s, %s) = %v", mbx.Address, c.Name, err)
						break
					}
					mu.Lock()
					switch ch.Kind {
					case extract.Upsert, extract.Delete:
						changes[ch.Record.ID] = ch.Kind
					case extract.Checkpoint:
						if ch.Final {
							out[k] = ch.Cursor
						}
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return out, changes
}

func gwBoxes(e *env) []model.Mailbox {
	var boxes []model.Mailbox
	for _, u := range e.ten.Users() {
		boxes = append(boxes, model.Mailbox{ID: u.ID, Address: addressOf(u), DisplayName: u.DisplayName})
	}
	return boxes
}

// TestGroupwareRequests: a delta pass costs the listings and delta pages only, and a pass
// after changes fetches exactly the changed events in full.
func TestGroupwareRequests(t *testing.T) {
	e := startSim(t, tenant.Small(), simgraph.Options{})
	src := e.source(t, e.config())
	boxes := gwBoxes(e)
	cursors, first := gwPass(t, src, boxes, nil)
	if len(first) == 0 {
		t.Fatal("the first pass yielded nothing")
	}
	t.Logf("first pass: %d records, requests %v", len(first), e.sim.Counts())

	e.sim.ResetCounts()
	cursors, changes := gwPass(t, src, boxes, cursors)
	if len(changes) != 0 {
		t.Errorf("a pass with no change yielded %v", changes)
	}
	counts := e.sim.Counts()
	t.Logf("no-change pass: %v", counts)
	var cals, folders, lists int64
	for _, mt := range e.gwTruth(t).Mailboxes {
		for _, c := range mt.Collections {
			switch c.Kind {
			case model.KindCalendar:
				cals++
			case model.KindContacts:
				folders++
			case model.KindTasks:
				lists++
			}
		}
	}
	// One listing page per calendar, one delta page per contact folder and task list.
	if counts["events"] != cals || counts["contacts.delta"] != folders || counts["todo.tasks.delta"] != lists {
		t.Errorf("no-change pass: %d event listings for %d calendars, %d contact deltas for %d folders, %d task deltas for %d lists",
			counts["events"], cals, counts["contacts.delta"], folders, counts["todo.tasks.delta"], lists)
	}
	for class, n := range counts {
		switch class {
		case "token", "openid", "calendars", "contactFolders", "contactFolders.childFolders", "contacts", "contactFolder",
			"todo.lists", "events", "contacts.delta", "todo.tasks.delta":
		default:
			if n != 0 {
				t.Errorf("a no-change pass made %d %q requests", n, class)
			}
		}
	}

	// Change two events of the first mailbox's default calendar, delete a third.
	mbx := boxes[0]
	evs := e.ten.Events(mbx.ID, "")
	var mine []tenant.Event
	def, _ := e.ten.Calendar(mbx.ID, "")
	for _, ev := range evs {
		if ev.CalendarID == def.ID {
			mine = append(mine, ev)
		}
	}
	if len(mine) < 3 {
		t.Fatalf("the default calendar has %d events", len(mine))
	}
	for _, ev := range mine[:2] {
		if err := e.ten.SetEventSubject(mbx.ID, ev.ID, ev.Subject+" (moved)"); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.ten.DeleteEvent(mbx.ID, mine[2].ID); err != nil {
		t.Fatal(err)
	}
	e.sim.ResetCounts()
	_, changes = gwPass(t, src, boxes, cursors)
	want := map[string]extract.ChangeKind{mine[0].ID: extract.Upsert, mine[1].ID: extract.Upsert, mine[2].ID: extract.Delete}
	if len(changes) != len(want) {
		t.Errorf("changes = %v, want %v", changes, want)
	}
	for id, k := range want {
		if changes[id] != k {
			t.Errorf("change of %s = %v, want %v", id, changes[id], k)
		}
	}
	counts = e.sim.Counts()
	if counts["event"] != 2 || counts["event.attachments"] != 0 || counts["events"] != cals {
		t.Errorf("after 2 changes: %d full event requests, %d attachment listings, %d calendar listings (%d calendars); want 2, 0, %d",
			counts["event"], counts["event.attachments"], counts["events"], cals, cals)
	}
}

// TestGroupwareThrottling: under limits far tighter than the source's budget, a full pass
// over every collection completes, every Retry-After honoured.
func TestGroupwareThrottling(t *testing.T) {
	e := startSim(t, tenant.Small(), simgraph.Options{
		Throttle: simgraph.Throttle{Concurrency: 4, Requests: 30, Window: 3 * time.Second}})
	src := e.source(t, e.config())
	start := time.Now()
	_, changes := gwPass(t, src, gwBoxes(e), nil)
	total := totalCount(e.sim.Counts())
	t.Logf("%d records, %d requests in %v, %d throttled, Stats %+v", len(changes), total, time.Since(start), e.sim.Throttled(), src.Stats())
	if v := e.sim.RetryAfterViolations(); v != 0 {
		t.Errorf("RetryAfterViolations() = %d, want 0", v)
	}
	if e.sim.Throttled() == 0 {
		t.Errorf("no 429 at all: the limits were not reached and the test proves nothing")
	}
	var want int
	for _, mt := range e.gwTruth(t).Mailboxes {
		want += len(mt.Records)
	}
	if len(changes) != want {
		t.Errorf("%d records under throttling, want %d", len(changes), want)
	}
}

// TestGroupwareFaults: 503s, 504s, truncated and dropped answers; every record still arrives.
func TestGroupwareFaults(t *testing.T) {
	e := startSim(t, tenant.Small(), simgraph.Options{
		Faults: simgraph.Faults{Seed: 5, Rate503: 0.05, Rate504: 0.03, RateTruncate: 0.05, RateDrop: 0.03}})
	src := e.source(t, e.config())
	_, changes := gwPass(t, src, gwBoxes(e), nil)
	var want int
	for _, mt := range e.gwTruth(t).Mailboxes {
		want += len(mt.Records)
	}
	if len(changes) != want {
		t.Errorf("%d records with faults, want %d", len(changes), want)
	}
	if st := src.Stats(); st.Retries == 0 {
		t.Errorf("Stats() = %+v: the faults were not seen", st)
	}
}

func TestGroupwareUnknownKind(t *testing.T) {
	s := &Source{}
	for _, err := range s.Records(context.Background(), model.Mailbox{}, model.Collection{ID: "x", Kind: "notes"}, "") {
		if !errors.Is(err, model.ErrPermanent) {
			t.Errorf("Records(unknown kind) = %v, want model.ErrPermanent", err)
		}
	}
}

// TestEventDoubleExpandRefused: where Graph refuses "$expand=exceptionOccurrences,attachments"
// with a 400, the source fetches attachments with a second request, once and for all, and
// the payload is the same.
func TestEventDoubleExpandRefused(t *testing.T) {
	e := startSim(t, tenant.Small(), simgraph.Options{})
	// Give a series master an attachment (copied from an event that has one), so that both
	// expands are asked for.
	u := e.ten.Users()[0]
	var att *tenant.Attachment
	var master string
	for _, ev := range e.ten.Events(u.ID, "") {
		if len(ev.Attachments) > 0 && att == nil {
			att = &ev.Attachments[0]
		}
		if ev.Type == "seriesMaster" && len(ev.Exceptions) > 0 && master == "" {
			master = ev.ID
		}
	}
	if att == nil || master == "" {
		t.Fatal("the tenant has no event with an attachment or no series master with exceptions")
	}
	if err := e.ten.UpdateEvent(u.ID, master, func(ev *tenant.Event) {
		a := *att
		a.ID += "-copy"
		ev.Attachments = append(ev.Attachments, a)
	}); err != nil {
		t.Fatal(err)
	}
	target, err := url.Parse(e.sim.GraphEndpoint())
	if err != nil {
		t.Fatal(err)
	}
	var refused atomic.Int64
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host})
	rp.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // test proxy to the emulator
	proxy := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ex := r.URL.Query().Get("$expand"); strings.Contains(ex, ",") {
			refused.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":{"code":"BadRequest","message":"Only one $expand is supported."}}`)
			return
		}
		r.Host = target.Host
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	ca := filepath.Join(t.TempDir(), "both.pem")
	pemBytes := append(e.sim.CAPEM(), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: proxy.Certificate().Raw})...)
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := e.config()
	cfg.Endpoint, cfg.CAFile = proxy.URL+"/v1.0", ca
	src := e.source(t, cfg)
	var st payloadStats
	check := e.checkRecord(&st)
	for _, mbx := range gwBoxes(e) {
		cols, err := src.Collections(context.Background(), mbx, []model.CollectionKind{model.KindCalendar})
		if err != nil {
			t.Fatalf("Collections = %v", err)
		}
		for _, c := range cols {
			for ch, err := range src.Records(context.Background(), mbx, c, "") {
				if err != nil {
					t.Fatalf("Records(%s) = %v", c.Name, err)
				}
				if ch.Kind == extract.Upsert {
					check(t, ch.Record)
				}
			}
		}
	}
	if refused.Load() == 0 || st.attachments.Load() == 0 || st.exceptions.Load() == 0 {
		t.Errorf("%d double expands refused, %d attachments and %d exceptions seen: the fallback was not exercised", refused.Load(), st.attachments.Load(), st.exceptions.Load())
	}
	t.Logf("%d double expands refused", refused.Load())
	if refused.Load() > 4 {
		t.Errorf("%d double expands sent after the first refusal", refused.Load()-1)
	}
}
