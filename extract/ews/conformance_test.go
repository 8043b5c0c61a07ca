package ews

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"iter"
	"strings"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/extract/sourcetest"
	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/sim/tenant"
)

// gwOnly is the groupware half of the EWS source over a bare Client.
type gwOnly struct{ c *Client }

func (g gwOnly) Collections(ctx context.Context, mbx model.Mailbox, kinds []model.CollectionKind) ([]model.Collection, error) {
	return gwCollections(ctx, g.c, mbx, kinds)
}

func (g gwOnly) Records(ctx context.Context, mbx model.Mailbox, col model.Collection, cursor string) iter.Seq2[extract.Change, error] {
	return func(yield func(extract.Change, error) bool) { gwRecords(ctx, g.c, mbx, col, cursor, nil, yield) }
}

func photoSum(p []byte) string {
	if p == nil {
		return ""
	}
	s := sha256.Sum256(p)
	return hex.EncodeToString(s[:])
}

// ewsTruth is what sim/ews serves of the tenant's groupware: the mailbox's own calendars
// (EWS lists no calendar shared by someone else among a mailbox's folders), every contact
// folder, the task lists but To Do's "Flagged Emails" (no folder in Exchange), the default
// one named "Tasks" as sim/ews names it. EWS has no calendar colours.
func ewsTruth(ten *tenant.Tenant) sourcetest.GroupwareTruth {
	var tr sourcetest.GroupwareTruth
	for _, u := range ten.Users() {
		if u.Mail == "" {
			continue
		}
		mt := sourcetest.GroupwareMailboxTruth{Mailbox: model.Mailbox{ID: u.ID, Address: u.Mail, DisplayName: u.DisplayName}}
		for _, c := range ten.Calendars(u.ID) {
			if c.Owner.Address != "" && !strings.EqualFold(c.Owner.Address, u.Mail) {
				continue
			}
			mt.Collections = append(mt.Collections, model.Collection{ID: c.ID, Kind: model.KindCalendar, Name: c.Name, Default: c.IsDefault})
			for _, ev := range ten.Events(u.ID, c.ID) {
				mt.Records = append(mt.Records, sourcetest.RecordTruth{ID: ev.ID, CollectionID: c.ID, Kind: model.KindCalendar,
					Subject: ev.Subject, ChangeKey: ev.ChangeKey})
			}
		}
		for _, f := range ten.ContactFolders(u.ID) {
			mt.Collections = append(mt.Collections, model.Collection{ID: f.ID, Kind: model.KindContacts, Name: f.DisplayName, Default: f.IsDefault})
			for _, c := range ten.Contacts(u.ID, f.ID) {
				mt.Records = append(mt.Records, sourcetest.RecordTruth{ID: c.ID, CollectionID: f.ID, Kind: model.KindContacts,
					Subject: c.DisplayName, ChangeKey: c.ChangeKey, PhotoSHA256: photoSum(c.Photo)})
			}
		}
		for _, l := range ten.TaskLists(u.ID) {
			if l.WellKnown == "flaggedEmails" {
				continue
			}
			name := l.DisplayName
			if l.WellKnown == "defaultList" {
				name = "Tasks"
			}
			mt.Collections = append(mt.Collections, model.Collection{ID: l.ID, Kind: model.KindTasks, Name: name, Default: l.WellKnown == "defaultList"})
			for _, tk := range ten.Tasks(u.ID, l.ID) {
				mt.Records = append(mt.Records, sourcetest.RecordTruth{ID: tk.ID, CollectionID: l.ID, Kind: model.KindTasks, Subject: tk.Title, ChangeKey: tk.ChangeKey})
			}
		}
		tr.Mailboxes = append(tr.Mailboxes, mt)
	}
	return tr
}

// ewsMutate changes, adds and deletes one record of col in the tenant.
func ewsMutate(ten *tenant.Tenant) func(t testing.TB, mbx model.Mailbox, col model.Collection) sourcetest.Mutation {
	return func(t testing.TB, mbx model.Mailbox, col model.Collection) sourcetest.Mutation {
		t.Helper()
		var m sourcetest.Mutation
		switch col.Kind {
		case model.KindCalendar:
			evs := ten.Events(mbx.ID, col.ID)
			for _, ev := range evs {
				if ev.Type != "seriesMaster" {
					continue
				}
				starts, err := ev.OccurrenceStarts(ev.Start.AddDate(2, 0, 0))
				if err != nil || len(starts) < 3 {
					continue
				}
				if err := ten.CancelOccurrence(mbx.ID, ev.ID, starts[2]); err != nil {
					continue
				}
				m.Changed = ev.ID
				break
			}
			if m.Changed == "" {
				m.Changed = evs[0].ID
				if err := ten.SetEventSubject(mbx.ID, m.Changed, "Changed by the test"); err != nil {
					t.Fatalf("SetEventSubject = %v", err)
				}
			}
			for _, ev := range evs {
				if ev.ID != m.Changed {
					m.Deleted = ev.ID
					break
				}
			}
			if err := ten.DeleteEvent(mbx.ID, m.Deleted); err != nil {
				t.Fatalf("DeleteEvent = %v", err)
			}
			start := time.Now().UTC().Truncate(time.Hour).Add(72 * time.Hour)
			ev, err := ten.AddEvent(mbx.ID, col.ID, tenant.Event{Type: "singleInstance", Subject: "Added by the test",
				Start: start, End: start.Add(time.Hour), StartZone: "Romance Standard Time", EndZone: "Romance Standard Time",
				Organizer: tenant.Address{Name: mbx.DisplayName, Address: mbx.Address}, IsOrganizer: true,
				Sensitivity: "normal", ShowAs: "busy", Importance: "normal", Response: "organizer"})
			if err != nil {
				t.Fatalf("AddEvent = %v", err)
			}
			m.Added = ev.ID
		case model.KindContacts:
			cs := ten.Contacts(mbx.ID, col.ID)
			m.Changed, m.Deleted = cs[0].ID, cs[1].ID
			if err := ten.UpdateContact(mbx.ID, m.Changed, func(c *tenant.Contact) { c.JobTitle = "Changed by the test" }); err != nil {
				t.Fatalf("UpdateContact = %v", err)
			}
			if err := ten.DeleteContact(mbx.ID, m.Deleted); err != nil {
				t.Fatalf("DeleteContact = %v", err)
			}
			c, err := ten.AddContact(mbx.ID, col.ID, tenant.Contact{GivenName: "Added", Surname: "Bytest", DisplayName: "Added Bytest",
				Emails: []tenant.Address{{Name: "Added Bytest", Address: "added@example.org"}}})
			if err != nil {
				t.Fatalf("AddContact = %v", err)
			}
			m.Added = c.ID
		case model.KindTasks:
			ts := ten.Tasks(mbx.ID, col.ID)
			m.Changed, m.Deleted = ts[0].ID, ts[1].ID
			if err := ten.UpdateTask(mbx.ID, m.Changed, func(tk *tenant.Task) { tk.Title = "Changed by the test" }); err != nil {
				t.Fatalf("UpdateTask = %v", err)
			}
			if err := ten.DeleteTask(mbx.ID, m.Deleted); err != nil {
				t.Fatalf("DeleteTask = %v", err)
			}
		}
		return m
	}
}

// TestGroupwareConformance runs extract/sourcetest's groupware suite over sim/ews:
// collections, a full pass, a pass with no change, changes, additions and deletions
// (a cancelled occurrence changes its series), and expired sync states.
func TestGroupwareConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the emulators")
	}
	tf := startTwoFaces(t)
	sourcetest.RunGroupware(t, sourcetest.GroupwareHarness{
		Source:        gwOnly{tf.ews},
		Truth:         func(testing.TB) sourcetest.GroupwareTruth { return ewsTruth(tf.ten) },
		Mutate:        ewsMutate(tf.ten),
		ExpireCursors: func(testing.TB) { tf.sim.ExpireSyncStates() },
		Timeout:       3 * time.Minute,
	})
}
