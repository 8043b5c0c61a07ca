package ews

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/sim/tenant"
)

func TestTasks(t *testing.T) {
	s, ten := startCore(t, Options{})
	u := regular(ten)[0]
	c := userClient(t, s, u)
	loc, err := tenant.Zone(tenant.TimeZone(u))
	if err != nil {
		t.Fatal(err)
	}
	var recurring, completed, dated int
	for _, k := range ten.Tasks(u.ID, "") {
		x := c.mustOK(getItemBody(k.ID)).first("Task")
		if x.kid("ItemId").Attr["Id"] != k.ID || x.kid("ParentFolderId").Attr["Id"] != k.ListID || x.kid("Subject").Text != k.Title {
			t.Errorf("%q: %s", k.Title, x.dump())
		}
		if x.kid("Body").Text != k.Body || x.kid("Importance").Text != strings.ToUpper(k.Importance[:1])+k.Importance[1:] {
			t.Errorf("%q: Body %q Importance %q", k.Title, x.kid("Body").Text, x.kid("Importance").Text)
		}
		wantStatus := map[string]string{"notStarted": "NotStarted", "inProgress": "InProgress", "completed": "Completed",
			"waitingOnOthers": "WaitingOnOthers", "deferred": "Deferred"}[k.Status]
		if x.kid("Status").Text != wantStatus || (x.kid("IsComplete").Text == "true") != (k.Status == "completed") {
			t.Errorf("%q: Status %q IsComplete %q, want %q", k.Title, x.kid("Status").Text, x.kid("IsComplete").Text, wantStatus)
		}
		// Dates: midnight in the mailbox's zone; the nearest UTC midnight is the date.
		for elem, d := range map[string]time.Time{"DueDate": k.Due, "StartDate": k.Start} {
			got := x.kid(elem).Text
			if d.IsZero() {
				if got != "" {
					t.Errorf("%q: %s %q, want none", k.Title, elem, got)
				}
				continue
			}
			dated++
			g := parseUTC(t, got)
			if local := g.In(loc); local.Hour() != 0 || local.Format(time.DateOnly) != d.Format(time.DateOnly) {
				t.Errorf("%q: %s %s (%s local), want %s at local midnight", k.Title, elem, got, local, d.Format(time.DateOnly))
			}
			if near := g.Add(12 * time.Hour).UTC().Format(time.DateOnly); near != d.Format(time.DateOnly) {
				t.Errorf("%q: %s %s is nearest to %s", k.Title, elem, got, near)
			}
		}
		if k.Status == "completed" {
			completed++
			if !parseUTC(t, x.kid("CompleteDate").Text).Equal(k.Completed) {
				t.Errorf("%q: CompleteDate %q, want %s", k.Title, x.kid("CompleteDate").Text, k.Completed)
			}
		}
		if (x.kid("ReminderIsSet").Text == "true") != k.ReminderOn || (k.ReminderOn && !parseUTC(t, x.kid("ReminderDueBy").Text).Equal(k.Reminder)) {
			t.Errorf("%q: reminder %q %q, want %v %s", k.Title, x.kid("ReminderIsSet").Text, x.kid("ReminderDueBy").Text, k.ReminderOn, k.Reminder)
		}
		var cats []string
		for _, s := range x.kid("Categories").all("String") {
			cats = append(cats, s.Text)
		}
		if len(cats)+len(k.Categories) > 0 && !slices.Equal(cats, k.Categories) {
			t.Errorf("%q: Categories %v, want %v", k.Title, cats, k.Categories)
		}
		if k.Recurrence != nil {
			recurring++
			r := x.kid("Recurrence")
			if x.kid("IsRecurring").Text != "true" || r.kid("WeeklyRecurrence").kid("DaysOfWeek").Text != "Saturday" ||
				r.kid("NoEndRecurrence").kid("StartDate").Text != k.Recurrence.Range.StartDate {
				t.Errorf("%q: recurrence %s", k.Title, x.dump())
			}
		} else if x.kid("Recurrence").Name != "" {
			t.Errorf("%q: Recurrence on a task without one", k.Title)
		}
	}
	if recurring == 0 || completed == 0 || dated == 0 {
		t.Errorf("the tenant's tasks should include recurring, completed and dated ones: %d %d %d", recurring, completed, dated)
	}
}

// gwSyncAll pages through SyncFolderItems of folder id (IdOnly) and returns the created items'
// element names by id.
func gwSyncAll(t *testing.T, c *coreClient, id string) map[string]string {
	t.Helper()
	out := map[string]string{}
	state := ""
	for range 100 {
		body := `<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:SyncFolderId><t:FolderId Id="` + esc(id) + `"/></m:SyncFolderId>`
		if state != "" {
			body += `<m:SyncState>` + state + `</m:SyncState>`
		}
		n := c.mustOK(body + `<m:MaxChangesReturned>5</m:MaxChangesReturned></m:SyncFolderItems>`)
		for _, cr := range n.all("Create") {
			it := cr.Kids[0]
			out[it.kid("ItemId").Attr["Id"]] = it.Name
		}
		state = n.first("SyncState").Text
		if n.first("IncludesLastItemInRange").Text == "true" {
			return out
		}
	}
	t.Fatalf("SyncFolderItems of %s never ended", id)
	return nil
}

func TestGroupwareSync(t *testing.T) {
	s, ten := startCore(t, Options{})
	u := regular(ten)[0]
	c := userClient(t, s, u)
	check := func(folder, elem string, want []string) {
		t.Helper()
		got := gwSyncAll(t, c, folder)
		if len(got) != len(want) {
			t.Errorf("folder %s: %d items, want %d", folder, len(got), len(want))
		}
		for _, id := range want {
			if got[id] != elem {
				t.Errorf("folder %s: item %s is %q, want %s", folder, id, got[id], elem)
			}
		}
	}
	for _, cal := range ten.Calendars(u.ID) {
		if !strings.EqualFold(cal.Owner.Address, u.Mail) {
			continue
		}
		var ids []string
		for _, e := range ten.Events(u.ID, cal.ID) {
			ids = append(ids, e.ID)
		}
		check(cal.ID, "CalendarItem", ids)
	}
	for _, f := range ten.ContactFolders(u.ID) {
		var ids []string
		for _, k := range ten.Contacts(u.ID, f.ID) {
			ids = append(ids, k.ID)
		}
		check(f.ID, "Contact", ids)
	}
	for _, l := range ten.TaskLists(u.ID) {
		if l.WellKnown == "flaggedEmails" {
			continue
		}
		var ids []string
		for _, k := range ten.Tasks(u.ID, l.ID) {
			ids = append(ids, k.ID)
		}
		check(l.ID, "Task", ids)
	}
	// A change is an Update with the new change key; a deletion a Delete.
	cal, _ := ten.Calendar(u.ID, "calendar")
	first := `<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:SyncFolderId><t:DistinguishedFolderId Id="calendar"/></m:SyncFolderId><m:MaxChangesReturned>512</m:MaxChangesReturned></m:SyncFolderItems>`
	state := c.mustOK(first).first("SyncState").Text
	evs := ten.Events(u.ID, cal.ID)
	if err := ten.SetEventSubject(u.ID, evs[0].ID, "Changed"); err != nil {
		t.Fatal(err)
	}
	if err := ten.DeleteEvent(u.ID, evs[1].ID); err != nil {
		t.Fatal(err)
	}
	n := c.mustOK(strings.Replace(first, `<m:MaxChangesReturned>`, `<m:SyncState>`+state+`</m:SyncState><m:MaxChangesReturned>`, 1))
	changed, _ := ten.Event(u.ID, evs[0].ID)
	up, del := n.all("Update"), n.all("Delete")
	if len(up) != 1 || len(del) != 1 || len(n.all("Create")) != 0 ||
		up[0].first("ItemId").Attr["ChangeKey"] != changed.ChangeKey || del[0].first("ItemId").Attr["Id"] != evs[1].ID {
		t.Errorf("delta after a change and a deletion: %s", n.dump())
	}
	g := c.mustOK(getItemBody(evs[0].ID))
	if g.first("Subject").Text != "Changed" {
		t.Errorf("GetItem after the change: %s", g.dump())
	}
}
