package ews

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/extract/graph"
	"github.com/bascule-migrate/bascule/model"
	simews "github.com/bascule-migrate/bascule/sim/ews"
	simgraph "github.com/bascule-migrate/bascule/sim/graph"
	"github.com/bascule-migrate/bascule/sim/tenant"
	"github.com/bascule-migrate/bascule/transform/ical"
	"github.com/bascule-migrate/bascule/transform/vcard"
)

// twoFaces serves one generated tenant through both emulators.
type twoFaces struct {
	ten   *tenant.Tenant
	graph *graph.Source
	ews   *Client
	sim   *simews.Server
}

func startTwoFaces(t *testing.T) *twoFaces {
	t.Helper()
	ten := tenant.Generate(tenant.Small())
	const secret = "ews-graph-compare"
	gs, err := simgraph.Start(simgraph.Options{Tenant: ten, ClientID: "bascule-test", ClientSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gs.Close() })
	es, err := simews.Start(simews.Options{Tenant: ten})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { es.Close() })
	dir := t.TempDir()
	gca, eca := filepath.Join(dir, "graph.pem"), filepath.Join(dir, "ews.pem")
	if err := gs.WriteCAFile(gca); err != nil {
		t.Fatal(err)
	}
	if err := es.WriteCAFile(eca); err != nil {
		t.Fatal(err)
	}
	src, err := graph.New(context.Background(), graph.Config{Endpoint: gs.GraphEndpoint(), AuthorityHost: gs.AuthorityHost(),
		TenantID: gs.TenantID(), ClientID: "bascule-test", ClientSecret: secret, CAFile: gca})
	if err != nil {
		t.Fatal(err)
	}
	domain := ""
	for _, u := range ten.Users() {
		if i := strings.LastIndexByte(u.Mail, '@'); i > 0 {
			domain = u.Mail[i+1:]
			break
		}
	}
	c, err := NewClient(ClientConfig{URL: es.EWSURL(), Auth: AuthBasic, Username: "svc-bascule@" + domain,
		Password: "Service-Pa55!", Impersonate: true, CAFile: eca})
	if err != nil {
		t.Fatal(err)
	}
	return &twoFaces{ten: ten, graph: src, ews: c, sim: es}
}

func drain(t *testing.T, seq func(yield func(extract.Change, error) bool)) map[string]model.Record {
	t.Helper()
	out := map[string]model.Record{}
	final := false
	for ch, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		switch ch.Kind {
		case extract.Upsert:
			out[ch.Record.ID] = ch.Record
		case extract.Checkpoint:
			final = ch.Final
		}
	}
	if !final {
		t.Fatal("stream ended without a final checkpoint")
	}
	return out
}

// withoutChecklist returns a todoTask payload with an empty checklistItems, and how many
// items it had.
func withoutChecklist(t *testing.T, payload []byte) ([]byte, int) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	var items []json.RawMessage
	_ = json.Unmarshal(m["checklistItems"], &items)
	m["checklistItems"] = json.RawMessage("[]")
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b, len(items)
}

// stamp drops what differs by construction between two conversions of the same item:
// DTSTAMP (the conversion time) and the line folding.
var stamp = regexp.MustCompile(`(?m)^DTSTAMP:.*\r?\n`)

// sortAttendees sorts the ATTENDEE lines of one component in place: EWS groups them by
// kind (required, optional, resources), Graph keeps the order they were invited in, and
// iCalendar gives the order no meaning.
func sortAttendees(ev string) string {
	lines := strings.Split(ev, "\n")
	var at []int
	var vals []string
	for i, l := range lines {
		if strings.HasPrefix(l, "ATTENDEE") {
			at = append(at, i)
			vals = append(vals, l)
		}
	}
	slices.Sort(vals)
	for k, i := range at {
		lines[i] = vals[k]
	}
	return strings.Join(lines, "\n")
}

// normalise unfolds, drops DTSTAMP and sorts the VEVENTs of a VCALENDAR (their order
// means nothing; it follows the order the source listed the exceptions in).
func normalise(b []byte) string {
	s := stamp.ReplaceAllString(strings.ReplaceAll(string(b), "\r\n ", ""), "")
	var head, tail strings.Builder
	var events []string
	for {
		i := strings.Index(s, "BEGIN:VEVENT")
		if i < 0 {
			break
		}
		j := strings.Index(s[i:], "END:VEVENT")
		if j < 0 {
			break
		}
		head.WriteString(s[:i])
		events = append(events, sortAttendees(s[i:i+j]))
		s = s[i+j:]
	}
	tail.WriteString(s)
	slices.Sort(events)
	return head.String() + strings.Join(events, "") + tail.String()
}

// TestSameAsGraph is the acceptance test of the EWS groupware: for every calendar, contact
// folder and task list of every mailbox, the records read over EWS (sim/ews) and over Graph
// (sim/graph) from the same tenant give the same collections, the same record ids and,
// through transform/ical and transform/vcard, the same iCalendar and vCard text.
func TestSameAsGraph(t *testing.T) {
	if testing.Short() {
		t.Skip("starts both emulators")
	}
	tf := startTwoFaces(t)
	ctx := context.Background()
	compared := map[model.CollectionKind]int{}
	checklists := 0
	seen := map[string]int{}
	for _, u := range tf.ten.Users() {
		if u.Mail == "" {
			continue
		}
		gm := model.Mailbox{ID: u.ID, Address: u.Mail}
		em := model.Mailbox{ID: u.Mail, Address: u.Mail}
		gcols, err := tf.graph.Collections(ctx, gm, nil)
		if err != nil {
			t.Fatalf("%s: graph collections: %v", u.Mail, err)
		}
		ecols, err := gwCollections(ctx, tf.ews, em, nil)
		if err != nil {
			t.Fatalf("%s: ews collections: %v", u.Mail, err)
		}
		// Known differences of the two faces, not of the conversion: Graph lists the
		// calendars others share with the mailbox (Owner set) and To Do's "Flagged Emails"
		// list (flagged messages, no folder in EWS); sim/ews names the default task folder
		// "Tasks" whatever the mailbox language, where To Do shows the localised name.
		flagged := map[string]bool{}
		for _, l := range tf.ten.TaskLists(u.ID) {
			if l.WellKnown == "flaggedEmails" {
				flagged[l.ID] = true
			}
		}
		key := func(c model.Collection) string {
			name := c.Name
			if c.Kind == model.KindTasks && c.Default {
				name = "(default)"
			}
			return fmt.Sprintf("%s %s %q default=%v", c.Kind, c.ID, name, c.Default)
		}
		var gk, ek []string
		for _, c := range gcols {
			if c.Owner == "" && !flagged[c.ID] {
				gk = append(gk, key(c))
			}
		}
		for _, c := range ecols {
			ek = append(ek, key(c))
		}
		if !slices.Equal(gk, ek) {
			t.Errorf("%s: collections differ:\ngraph %v\n  ews %v", u.Mail, gk, ek)
			continue
		}
		for _, col := range ecols {
			grecs := drain(t, tf.graph.Records(ctx, gm, col, ""))
			erecs := drain(t, func(yield func(extract.Change, error) bool) {
				gwRecords(ctx, tf.ews, em, col, "", nil, yield)
			})
			if len(grecs) != len(erecs) {
				t.Errorf("%s %s %q: %d records over Graph, %d over EWS", u.Mail, col.Kind, col.Name, len(grecs), len(erecs))
			}
			for id, g := range grecs {
				e, ok := erecs[id]
				if !ok {
					t.Errorf("%s %s %q: record %s (%s) missing over EWS", u.Mail, col.Kind, col.Name, id, g.Subject)
					continue
				}
				var gd, ed []byte
				var gerr, eerr error
				switch col.Kind {
				case model.KindCalendar:
					var gr, er ical.Result
					gr, gerr = ical.Event(g.Payload, ical.Options{})
					er, eerr = ical.Event(e.Payload, ical.Options{})
					gd, ed = gr.Data, er.Data
				case model.KindContacts:
					var gr, er vcard.Result
					gr, gerr = vcard.Contact(g.Payload, g.Photo, vcard.Options{})
					er, eerr = vcard.Contact(e.Payload, e.Photo, vcard.Options{})
					gd, ed = gr.Data, er.Data
				case model.KindTasks:
					// EWS tasks have no checklist (To Do keeps steps outside the task
					// item): the Graph payload is compared without its checklistItems.
					gp, n := withoutChecklist(t, g.Payload)
					if n > 0 {
						checklists++
					}
					var gr, er ical.Result
					gr, gerr = ical.Task(gp, ical.Options{})
					er, eerr = ical.Task(e.Payload, ical.Options{})
					gd, ed = gr.Data, er.Data
				}
				if gerr != nil || eerr != nil {
					t.Errorf("%s %s: conversion errors: graph %v, ews %v", u.Mail, id, gerr, eerr)
					continue
				}
				if gs, es := normalise(gd), normalise(ed); gs != es {
					t.Errorf("%s %s %q (%s): differs:\n%s", u.Mail, col.Kind, g.Subject, id, lineDiff(gs, es))
				}
				compared[col.Kind]++
				for k, marker := range map[string]string{"exceptions": `"exceptionOccurrences":[{`, "cancellations": `"cancelledOccurrences":["OID.`,
					"all-day": `"isAllDay":true`, "attachments": `"attachments":[{`, "recurring tasks": `"recurrence":{`} {
					if strings.Contains(string(e.Payload), marker) && (k != "recurring tasks" || col.Kind == model.KindTasks) {
						seen[k]++
					}
				}
				if e.Photo != nil {
					seen["photos"]++
				}
			}
		}
	}
	if compared[model.KindCalendar] == 0 || compared[model.KindContacts] == 0 || compared[model.KindTasks] == 0 {
		t.Errorf("compared %v: some kind never compared", compared)
	}
	for _, k := range []string{"exceptions", "cancellations", "all-day", "attachments", "recurring tasks", "photos"} {
		if seen[k] == 0 {
			t.Errorf("no record with %s was compared: %v", k, seen)
		}
	}
	t.Logf("compared %v, among them %v (%d tasks with checklist items EWS does not have)", compared, seen, checklists)
}

// lineDiff lists the lines only one side has.
func lineDiff(a, b string) string {
	count := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		count[l]++
	}
	for _, l := range strings.Split(b, "\n") {
		count[l]--
	}
	var out []string
	for l, n := range count {
		switch {
		case n > 0:
			out = append(out, fmt.Sprintf("graph (%d more): %s", n, strings.TrimSpace(l)))
		case n < 0:
			out = append(out, fmt.Sprintf("  ews (%d more): %s", -n, strings.TrimSpace(l)))
		}
	}
	slices.Sort(out)
	if len(out) == 0 {
		return "(same lines, another order)"
	}
	return strings.Join(out, "\n")
}
