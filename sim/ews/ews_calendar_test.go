package ews

import (
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/sim/tenant"
)

func getItemBody(ids ...string) string {
	var b strings.Builder
	b.WriteString(`<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape><t:BodyType>Best</t:BodyType></m:ItemShape><m:ItemIds>`)
	for _, id := range ids {
		b.WriteString(`<t:ItemId Id="` + esc(id) + `"/>`)
	}
	b.WriteString(`</m:ItemIds></m:GetItem>`)
	return b.String()
}

func parseUTC(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("time %q: %v", s, err)
	}
	return v
}

// expectStart is what EWS shows for an event's start: UTC, an all-day event at midnight in
// its zone.
func expectTimes(e tenant.Event) (time.Time, time.Time) {
	if !e.IsAllDay {
		return e.Start, e.End
	}
	loc, err := tenant.Zone(e.StartZone)
	if err != nil {
		loc = time.UTC
	}
	d := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc) }
	return d(e.Start), d(e.End)
}

// origAt is what EWS shows for an original start of series e.
func origAt(e tenant.Event, orig time.Time) time.Time {
	s, _ := expectTimes(tenant.Event{Start: orig, End: orig, IsAllDay: e.IsAllDay, StartZone: e.StartZone})
	return s
}

// allDayChanges gives an all-day series of u an exception and a cancelled occurrence.
func allDayChanges(t *testing.T, ten *tenant.Tenant, u tenant.User) {
	t.Helper()
	for _, e := range ten.Events(u.ID, "") {
		if e.Type != "seriesMaster" || !e.IsAllDay {
			continue
		}
		starts, err := e.OccurrenceStarts(e.Start.AddDate(4, 0, 0))
		if err != nil || len(starts) < 3 {
			t.Fatalf("all-day series %q: %v %v", e.Subject, starts, err)
		}
		if _, err := ten.ModifyOccurrence(u.ID, e.ID, starts[1], func(x *tenant.Event) {
			x.Subject += " (moved)"
			x.Start, x.End = x.Start.AddDate(0, 0, 1), x.End.AddDate(0, 0, 1)
		}); err != nil {
			t.Fatal(err)
		}
		if err := ten.CancelOccurrence(u.ID, e.ID, starts[2]); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("no all-day series")
}

func TestCalendarItems(t *testing.T) {
	s, ten := startCore(t, Options{})
	u := regular(ten)[0]
	c := userClient(t, s, u)
	allDayChanges(t, ten, u)
	var masters, exceptions, cancelled, allDay, attachments, allDayExceptions int
	for _, cal := range ten.Calendars(u.ID) {
		own := strings.EqualFold(cal.Owner.Address, u.Mail)
		for _, e := range ten.Events(u.ID, cal.ID) {
			st, n := c.call(getItemBody(e.ID))
			if !own {
				if st != 200 || n.first("ResponseCode").Text != "ErrorItemNotFound" {
					t.Errorf("event %q of a calendar shared by %s: %s", e.Subject, cal.Owner.Address, n.dump())
				}
				continue
			}
			if st != 200 || n.first("ResponseCode").Text != "NoError" {
				t.Fatalf("GetItem %q: %d %s", e.Subject, st, n.dump())
			}
			x := n.first("CalendarItem")
			if got := x.kid("ItemId").Attr["Id"]; got != e.ID || x.kid("ItemId").Attr["ChangeKey"] != e.ChangeKey {
				t.Errorf("ItemId = %v, want %s %s", x.kid("ItemId").Attr, e.ID, e.ChangeKey)
			}
			if x.kid("ParentFolderId").Attr["Id"] != cal.ID {
				t.Errorf("%q: ParentFolderId %v, want %s", e.Subject, x.kid("ParentFolderId").Attr, cal.ID)
			}
			if x.kid("Subject").Text != e.Subject || x.kid("UID").Text != e.ICalUID {
				t.Errorf("Subject/UID = %q %q, want %q %q", x.kid("Subject").Text, x.kid("UID").Text, e.Subject, e.ICalUID)
			}
			wantType := map[string]string{"singleInstance": "Single", "seriesMaster": "RecurringMaster"}[e.Type]
			if x.kid("CalendarItemType").Text != wantType {
				t.Errorf("%q: CalendarItemType %q, want %q", e.Subject, x.kid("CalendarItemType").Text, wantType)
			}
			ws, we := expectTimes(e)
			if gs, ge := parseUTC(t, x.kid("Start").Text), parseUTC(t, x.kid("End").Text); !gs.Equal(ws) || !ge.Equal(we) {
				t.Errorf("%q: Start/End %s %s, want %s %s", e.Subject, gs, ge, ws.UTC(), we.UTC())
			}
			if x.kid("IsAllDayEvent").Text != map[bool]string{true: "true", false: "false"}[e.IsAllDay] {
				t.Errorf("%q: IsAllDayEvent %q", e.Subject, x.kid("IsAllDayEvent").Text)
			}
			if e.IsAllDay {
				allDay++
			}
			wantBody := map[string]string{"html": "HTML"}[strings.ToLower(e.BodyType)]
			if wantBody == "" {
				wantBody = "Text"
			}
			if b := x.kid("Body"); b.Text != e.Body || b.Attr["BodyType"] != wantBody {
				t.Errorf("%q: Body %v %q", e.Subject, b.Attr, b.Text)
			}
			zone := x.kid("StartTimeZone").Attr["Id"]
			switch {
			case e.StartZone == tenant.CustomZone && zone != CustomTimeZoneID:
				t.Errorf("%q: custom zone shown as %q", e.Subject, zone)
			case e.StartZone != tenant.CustomZone && zone != e.StartZone:
				t.Errorf("%q: StartTimeZone %q, want %q", e.Subject, zone, e.StartZone)
			}
			if x.kid("EndTimeZone").Attr["Id"] != cmpOr(e.EndZone, e.StartZone) && e.StartZone != tenant.CustomZone {
				t.Errorf("%q: EndTimeZone %q, want %q", e.Subject, x.kid("EndTimeZone").Attr["Id"], e.EndZone)
			}
			if got, want := x.kid("LegacyFreeBusyStatus").Text, legacyFreeBusy(e.ShowAs); got != want {
				t.Errorf("%q: LegacyFreeBusyStatus %q, want %q", e.Subject, got, want)
			}
			if got := x.kid("Organizer").first("EmailAddress").Text; got != e.Organizer.Address {
				t.Errorf("%q: Organizer %q, want %q", e.Subject, got, e.Organizer.Address)
			}
			var cats []string
			for _, s := range x.kid("Categories").all("String") {
				cats = append(cats, s.Text)
			}
			if !slices.Equal(cats, e.Categories) && len(cats)+len(e.Categories) > 0 {
				t.Errorf("%q: Categories %v, want %v", e.Subject, cats, e.Categories)
			}
			// Attendees by kind, with their responses.
			for kind, elem := range map[string]string{"required": "RequiredAttendees", "optional": "OptionalAttendees", "resource": "Resources"} {
				var want, got []string
				for _, a := range e.Attendees {
					if a.Type == kind {
						want = append(want, a.Email.Address+"/"+responseTypes[a.Response])
					}
				}
				for _, a := range x.kid(elem).all("Attendee") {
					got = append(got, a.first("EmailAddress").Text+"/"+a.kid("ResponseType").Text)
				}
				if !slices.Equal(got, want) {
					t.Errorf("%q: %s %v, want %v", e.Subject, elem, got, want)
				}
			}
			if (x.kid("JoinOnlineMeetingUrl").Text != e.JoinURL) || (x.kid("IsOnlineMeeting").Text == "true") != (e.JoinURL != "") {
				t.Errorf("%q: online meeting %q %q, want %q", e.Subject, x.kid("IsOnlineMeeting").Text, x.kid("JoinOnlineMeetingUrl").Text, e.JoinURL)
			}
			// Attachments: listed without content, fetched with GetAttachment.
			if got := len(x.kid("Attachments").all("FileAttachment")); got != len(e.Attachments) || (x.kid("HasAttachments").Text == "true") != (got > 0) {
				t.Errorf("%q: %d attachments (HasAttachments %s), want %d", e.Subject, got, x.kid("HasAttachments").Text, len(e.Attachments))
			}
			for i, fa := range x.kid("Attachments").all("FileAttachment") {
				a := e.Attachments[i]
				if fa.kid("Content").Name != "" || fa.kid("Name").Text != a.Name {
					t.Errorf("%q: attachment %d listed as %s", e.Subject, i, n.dump())
				}
				g := c.mustOK(`<m:GetAttachment><m:AttachmentIds><t:AttachmentId Id="` + esc(fa.kid("AttachmentId").Attr["Id"]) + `"/></m:AttachmentIds></m:GetAttachment>`)
				raw, err := base64.StdEncoding.DecodeString(g.first("Content").Text)
				if err != nil || string(raw) != string(a.Bytes()) || g.first("ContentType").Text != a.ContentType {
					t.Errorf("%q: attachment %s content differs (%d bytes, err %v)", e.Subject, a.Name, len(raw), err)
				}
				attachments++
			}
			if e.Type != "seriesMaster" {
				if x.kid("Recurrence").Name != "" {
					t.Errorf("%q: a single instance with Recurrence", e.Subject)
				}
				continue
			}
			masters++
			checkRecurrence(t, e, x.kid("Recurrence"))
			// Exceptions: ModifiedOccurrences, each fetched by its ItemId.
			occ := x.kid("ModifiedOccurrences").all("Occurrence")
			if len(occ) != len(e.Exceptions) {
				t.Errorf("%q: %d modified occurrences, want %d", e.Subject, len(occ), len(e.Exceptions))
			}
			for _, o := range occ {
				id := o.kid("ItemId").Attr["Id"]
				i := slices.IndexFunc(e.Exceptions, func(x tenant.Event) bool { return x.ID == id })
				if i < 0 {
					t.Errorf("%q: occurrence %s is no exception", e.Subject, id)
					continue
				}
				ex := e.Exceptions[i]
				xs, _ := expectTimes(ex)
				if !parseUTC(t, o.kid("OriginalStart").Text).Equal(origAt(e, ex.OriginalStart)) || !parseUTC(t, o.kid("Start").Text).Equal(xs) {
					t.Errorf("%q: occurrence %s times %s", e.Subject, id, n.dump())
				}
				g := c.mustOK(getItemBody(id)).first("CalendarItem")
				if g.kid("CalendarItemType").Text != "Exception" || g.kid("Subject").Text != ex.Subject || g.kid("UID").Text != e.ICalUID ||
					!parseUTC(t, g.kid("OriginalStart").Text).Equal(origAt(e, ex.OriginalStart)) || !parseUTC(t, g.kid("Start").Text).Equal(xs) ||
					g.kid("Recurrence").Name != "" {
					t.Errorf("%q: exception %s answered %s", e.Subject, id, g.dump())
				}
				exceptions++
				if e.IsAllDay {
					allDayExceptions++
				}
			}
			del := x.kid("DeletedOccurrences").all("DeletedOccurrence")
			if len(del) != len(e.Cancelled) {
				t.Errorf("%q: %d deleted occurrences, want %d", e.Subject, len(del), len(e.Cancelled))
			}
			for i, d := range del {
				if !parseUTC(t, d.kid("Start").Text).Equal(origAt(e, e.Cancelled[i])) {
					t.Errorf("%q: deleted occurrence %s, want %s", e.Subject, d.kid("Start").Text, e.Cancelled[i])
				}
				cancelled++
			}
		}
	}
	if masters == 0 || exceptions == 0 || cancelled == 0 || allDay == 0 || attachments == 0 || allDayExceptions == 0 {
		t.Errorf("the tenant's calendars should hold series, exceptions, cancellations, all-day events and attachments: %d %d %d %d %d",
			masters, exceptions, cancelled, allDay, attachments)
	}
}

// checkRecurrence compares an EWS Recurrence with Graph's patternedRecurrence.
func checkRecurrence(t *testing.T, e tenant.Event, r *node) {
	t.Helper()
	p, rg := e.Recurrence.Pattern, e.Recurrence.Range
	elem := map[string]string{"daily": "DailyRecurrence", "weekly": "WeeklyRecurrence", "absoluteMonthly": "AbsoluteMonthlyRecurrence",
		"relativeMonthly": "RelativeMonthlyRecurrence", "absoluteYearly": "AbsoluteYearlyRecurrence", "relativeYearly": "RelativeYearlyRecurrence"}[p.Type]
	if len(r.Kids) != 2 || r.Kids[0].Name != elem {
		t.Errorf("%q: Recurrence %v, want %s first", e.Subject, r.Kids, elem)
		return
	}
	pat := r.Kids[0]
	if !strings.Contains(p.Type, "Yearly") && pat.kid("Interval").Text != itoa(max(p.Interval, 1)) {
		t.Errorf("%q: Interval %q, want %d", e.Subject, pat.kid("Interval").Text, p.Interval)
	}
	if p.Type == "weekly" {
		var days []string
		for _, d := range p.DaysOfWeek {
			days = append(days, strings.ToUpper(d[:1])+d[1:])
		}
		if pat.kid("DaysOfWeek").Text != strings.Join(days, " ") {
			t.Errorf("%q: DaysOfWeek %q, want %v", e.Subject, pat.kid("DaysOfWeek").Text, days)
		}
	}
	if strings.HasPrefix(p.Type, "relative") && pat.kid("DayOfWeekIndex").Text != strings.ToUpper(p.Index[:1])+p.Index[1:] {
		t.Errorf("%q: DayOfWeekIndex %q, want %q", e.Subject, pat.kid("DayOfWeekIndex").Text, p.Index)
	}
	if strings.HasSuffix(p.Type, "Yearly") && pat.kid("Month").Text != time.Month(p.Month).String() {
		t.Errorf("%q: Month %q, want %d", e.Subject, pat.kid("Month").Text, p.Month)
	}
	if strings.HasPrefix(p.Type, "absolute") && pat.kid("DayOfMonth").Text != itoa(p.DayOfMonth) {
		t.Errorf("%q: DayOfMonth %q, want %d", e.Subject, pat.kid("DayOfMonth").Text, p.DayOfMonth)
	}
	rng := r.Kids[1]
	want := map[string]string{"noEnd": "NoEndRecurrence", "endDate": "EndDateRecurrence", "numbered": "NumberedRecurrence"}[rg.Type]
	if rng.Name != want || rng.kid("StartDate").Text != rg.StartDate {
		t.Errorf("%q: range %s from %q, want %s from %q", e.Subject, rng.Name, rng.kid("StartDate").Text, want, rg.StartDate)
	}
	if rg.Type == "endDate" && rng.kid("EndDate").Text != rg.EndDate {
		t.Errorf("%q: EndDate %q, want %q", e.Subject, rng.kid("EndDate").Text, rg.EndDate)
	}
	if rg.Type == "numbered" && rng.kid("NumberOfOccurrences").Text != itoa(rg.NumberOfOccurrences) {
		t.Errorf("%q: NumberOfOccurrences %q, want %d", e.Subject, rng.kid("NumberOfOccurrences").Text, rg.NumberOfOccurrences)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestOccurrenceItemID(t *testing.T) {
	s, ten := startCore(t, Options{})
	u := regular(ten)[0]
	c := userClient(t, s, u)
	allDayChanges(t, ten, u)
	checked := 0
	for _, e := range ten.Events(u.ID, "") {
		if e.Type != "seriesMaster" || (len(e.Exceptions) == 0 && len(e.Cancelled) == 0) {
			continue
		}
		last := e.Start.AddDate(3, 0, 0)
		for _, x := range e.Exceptions {
			if x.OriginalStart.After(last) {
				last = x.OriginalStart
			}
		}
		for _, x := range e.Cancelled {
			if x.After(last) {
				last = x
			}
		}
		starts, err := e.OccurrenceStarts(last)
		if err != nil {
			t.Fatal(err)
		}
		for i, orig := range starts {
			if i > 60 {
				break
			}
			st, n := c.call(`<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape><m:ItemIds><t:OccurrenceItemId RecurringMasterId="` +
				e.ID + `" InstanceIndex="` + itoa(i+1) + `"/></m:ItemIds></m:GetItem>`)
			code := n.first("ResponseCode").Text
			x := n.first("CalendarItem")
			switch {
			case slices.ContainsFunc(e.Cancelled, orig.Equal):
				if code != "ErrorItemNotFound" {
					t.Errorf("%q #%d (cancelled): %d %s", e.Subject, i+1, st, n.dump())
				}
			case slices.ContainsFunc(e.Exceptions, func(x tenant.Event) bool { return x.OriginalStart.Equal(orig) }):
				if code != "NoError" || x.kid("CalendarItemType").Text != "Exception" || !parseUTC(t, x.kid("OriginalStart").Text).Equal(origAt(e, orig)) {
					t.Errorf("%q #%d (exception): %s", e.Subject, i+1, n.dump())
				}
			default:
				ws, _ := expectTimes(tenant.Event{Start: orig, IsAllDay: e.IsAllDay, StartZone: e.StartZone})
				if code != "NoError" || x.kid("CalendarItemType").Text != "Occurrence" || !parseUTC(t, x.kid("Start").Text).Equal(ws) ||
					x.kid("Subject").Text != e.Subject || x.kid("UID").Text != e.ICalUID || x.kid("ItemId").Attr["Id"] != tenant.OccurrenceID(e.ID, orig) {
					t.Errorf("%q #%d (occurrence at %s): %s", e.Subject, i+1, orig, n.dump())
				}
			}
			checked++
		}
	}
	if checked == 0 {
		t.Error("no series with exceptions or cancellations")
	}
	st, n := c.call(`<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ItemIds><t:OccurrenceItemId RecurringMasterId="nope" InstanceIndex="1"/></m:ItemIds></m:GetItem>`)
	if st != 200 || n.first("ResponseCode").Text != "ErrorItemNotFound" {
		t.Errorf("occurrence of an unknown master: %d %s", st, n.dump())
	}
}

// FuzzGroupwareOps feeds arbitrary operation elements to the groupware and settings
// operations: they never panic, and what they write is well-formed XML.
func FuzzGroupwareOps(f *testing.F) {
	ten := tenant.Generate(tenant.Small())
	s, err := Start(Options{Tenant: ten})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	u := regular(ten)[0]
	ev := ten.Events(u.ID, "")[0]
	for _, seed := range []string{
		getItemBody(ev.ID),
		`<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ItemIds><t:OccurrenceItemId RecurringMasterId="` + ev.ID + `" InstanceIndex="3"/></m:ItemIds></m:GetItem>`,
		`<m:GetAttachment><m:AttachmentIds><t:AttachmentId Id="` + ev.ID + `.x"/></m:AttachmentIds></m:GetAttachment>`,
		`<m:GetDelegate IncludePermissions="true"><m:Mailbox><t:EmailAddress>` + u.Mail + `</t:EmailAddress></m:Mailbox><m:UserIds><t:UserId><t:PrimarySmtpAddress>x@y</t:PrimarySmtpAddress></t:UserId></m:UserIds></m:GetDelegate>`,
		`<m:GetUserOofSettingsRequest><t:Mailbox><t:Address>` + u.Mail + `</t:Address></t:Mailbox></m:GetUserOofSettingsRequest>`,
		`<m:GetInboxRules><m:MailboxSmtpAddress>` + u.Mail + `</m:MailboxSmtpAddress></m:GetInboxRules>`,
		`<m:GetInboxRules>`, `<a><b Id="&#0;"/></a>`, ``,
	} {
		f.Add(seed)
	}
	ops := map[string]opFunc{"GetItem": getItem, "GetAttachment": getAttachment, "GetDelegate": getDelegate,
		"GetUserOofSettingsRequest": getUserOofSettings, "GetInboxRules": getInboxRules}
	f.Fuzz(func(t *testing.T, body string) {
		for name, fn := range ops {
			c := &Call{s: s, ctx: t.Context(), Op: name, Body: []byte(body), Mailbox: u, HasMailbox: true}
			if err := fn(c); err != nil {
				continue
			}
			if _, err := parseNode("<r>" + c.Out.String() + "</r>"); err != nil {
				t.Errorf("%s wrote malformed XML: %v", name, err)
			}
		}
	})
}
