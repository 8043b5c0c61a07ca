package ews

import (
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/bascule-migrate/bascule/transform/ical"
)

const masterXML = `<t:CalendarItem xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
 <t:ItemId Id="AAMkMaster=" ChangeKey="DwAAAB"/>
 <t:Subject>Comité de pilotage</t:Subject>
 <t:Sensitivity>Private</t:Sensitivity>
 <t:Body BodyType="HTML">&lt;p&gt;Ordre du jour&lt;/p&gt;</t:Body>
 <t:Attachments><t:FileAttachment><t:AttachmentId Id="att1"/><t:Name>agenda.txt</t:Name><t:ContentType>text/plain</t:ContentType><t:Size>5</t:Size><t:IsInline>false</t:IsInline></t:FileAttachment></t:Attachments>
 <t:DateTimeCreated>2026-01-05T10:00:00Z</t:DateTimeCreated>
 <t:Categories><t:String>Projet</t:String><t:String>Rouge</t:String></t:Categories>
 <t:Importance>High</t:Importance>
 <t:ReminderIsSet>true</t:ReminderIsSet>
 <t:ReminderMinutesBeforeStart>15</t:ReminderMinutesBeforeStart>
 <t:LastModifiedTime>2026-01-06T10:00:00Z</t:LastModifiedTime>
 <t:UID>040000008200E00074C5B7101A82E008000000001</t:UID>
 <t:Start>2026-01-12T08:00:00Z</t:Start>
 <t:End>2026-01-12T09:00:00Z</t:End>
 <t:IsAllDayEvent>false</t:IsAllDayEvent>
 <t:LegacyFreeBusyStatus>Busy</t:LegacyFreeBusyStatus>
 <t:Location>Salle Jaurès</t:Location>
 <t:IsMeeting>true</t:IsMeeting>
 <t:CalendarItemType>RecurringMaster</t:CalendarItemType>
 <t:MyResponseType>Organizer</t:MyResponseType>
 <t:Organizer><t:Mailbox><t:Name>Alice Martin</t:Name><t:EmailAddress>alice@contoso.com</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType></t:Mailbox></t:Organizer>
 <t:RequiredAttendees><t:Attendee><t:Mailbox><t:Name>Bob</t:Name><t:EmailAddress>bob@contoso.com</t:EmailAddress></t:Mailbox><t:ResponseType>Accept</t:ResponseType><t:LastResponseTime>2026-01-05T11:00:00Z</t:LastResponseTime></t:Attendee></t:RequiredAttendees>
 <t:OptionalAttendees><t:Attendee><t:Mailbox><t:Name>Chloé</t:Name><t:EmailAddress>chloe@contoso.com</t:EmailAddress></t:Mailbox><t:ResponseType>Tentative</t:ResponseType></t:Attendee></t:OptionalAttendees>
 <t:Recurrence><t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Monday Thursday</t:DaysOfWeek><t:FirstDayOfWeek>Monday</t:FirstDayOfWeek></t:WeeklyRecurrence>
  <t:NumberedRecurrence><t:StartDate>2026-01-12+01:00</t:StartDate><t:NumberOfOccurrences>10</t:NumberOfOccurrences></t:NumberedRecurrence></t:Recurrence>
 <t:ModifiedOccurrences><t:Occurrence><t:ItemId Id="AAMkExc1=" ChangeKey="DwAAAC"/><t:Start>2026-01-15T13:00:00Z</t:Start><t:End>2026-01-15T14:00:00Z</t:End><t:OriginalStart>2026-01-15T08:00:00Z</t:OriginalStart></t:Occurrence></t:ModifiedOccurrences>
 <t:DeletedOccurrences><t:DeletedOccurrence><t:Start>2026-01-19T08:00:00Z</t:Start></t:DeletedOccurrence></t:DeletedOccurrences>
 <t:StartTimeZone Id="Romance Standard Time" Name="(UTC+01:00) Brussels, Copenhagen, Madrid, Paris"/>
 <t:EndTimeZone Id="Romance Standard Time" Name="(UTC+01:00) Brussels, Copenhagen, Madrid, Paris"/>
</t:CalendarItem>`

const exceptionXML = `<t:CalendarItem xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
 <t:ItemId Id="AAMkExc1=" ChangeKey="DwAAAC"/>
 <t:Subject>Comité de pilotage (décalé)</t:Subject>
 <t:Body BodyType="Text">Décalé à 14 h</t:Body>
 <t:UID>040000008200E00074C5B7101A82E008000000001</t:UID>
 <t:Start>2026-01-15T13:00:00Z</t:Start>
 <t:End>2026-01-15T14:00:00Z</t:End>
 <t:LegacyFreeBusyStatus>Busy</t:LegacyFreeBusyStatus>
 <t:CalendarItemType>Exception</t:CalendarItemType>
 <t:MyResponseType>Organizer</t:MyResponseType>
 <t:Organizer><t:Mailbox><t:Name>Alice Martin</t:Name><t:EmailAddress>alice@contoso.com</t:EmailAddress></t:Mailbox></t:Organizer>
</t:CalendarItem>`

func decodeItem(t testing.TB, s string) *gwCalendarItem {
	t.Helper()
	var it gwCalendarItem
	if err := xml.Unmarshal([]byte(s), &it); err != nil {
		t.Fatal(err)
	}
	return &it
}

func TestEventSeries(t *testing.T) {
	m, x := decodeItem(t, masterXML), decodeItem(t, exceptionXML)
	att := m.Attachments.Files[0]
	att.Content = "aGVsbG8="
	payload, err := gwEvent(m, []*gwCalendarItem{x}, []gwFileAttachment{att})
	if err != nil {
		t.Fatal(err)
	}
	var g map[string]any
	if err := json.Unmarshal(payload, &g); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, payload)
	}
	for k, want := range map[string]any{"type": "seriesMaster", "iCalUId": "040000008200E00074C5B7101A82E008000000001",
		"originalStartTimeZone": "Romance Standard Time", "sensitivity": "private", "showAs": "busy", "importance": "high",
		"isReminderOn": true, "changeKey": "DwAAAB"} {
		if g[k] != want {
			t.Errorf("%s = %v, want %v", k, g[k], want)
		}
	}
	start := g["start"].(map[string]any)
	if start["dateTime"] != "2026-01-12T08:00:00.0000000" || start["timeZone"] != "UTC" {
		t.Errorf("start = %v", start)
	}
	rng := g["recurrence"].(map[string]any)["range"].(map[string]any)
	if rng["startDate"] != "2026-01-12" || rng["recurrenceTimeZone"] != "Romance Standard Time" || rng["numberOfOccurrences"] != 10.0 {
		t.Errorf("range = %v", rng)
	}
	if c := g["cancelledOccurrences"].([]any); len(c) != 1 || c[0] != "OID.AAMkMaster=.2026-01-19" {
		t.Errorf("cancelledOccurrences = %v", c)
	}
	xs := g["exceptionOccurrences"].([]any)
	if len(xs) != 1 || xs[0].(map[string]any)["originalStart"] != "2026-01-15T08:00:00Z" || xs[0].(map[string]any)["type"] != "exception" {
		t.Errorf("exceptionOccurrences = %v", xs)
	}
	if a := g["attachments"].([]any); len(a) != 1 || a[0].(map[string]any)["contentBytes"] != "aGVsbG8=" || a[0].(map[string]any)["@odata.type"] != "#microsoft.graph.fileAttachment" {
		t.Errorf("attachments = %v", a)
	}

	res, err := ical.Event(payload, ical.Options{})
	if err != nil {
		t.Fatalf("ical: %v\n%s", err, payload)
	}
	out := strings.ReplaceAll(string(res.Data), "\r\n ", "")
	for _, want := range []string{
		"RRULE:FREQ=WEEKLY;BYDAY=MO,TH;WKST=MO;COUNT=10",
		"DTSTART;TZID=Europe/Paris:20260112T090000",
		"EXDATE;TZID=Europe/Paris:20260119T090000",
		"RECURRENCE-ID;TZID=Europe/Paris:20260115T090000",
		"SUMMARY:Comité de pilotage (décalé)",
		"PARTSTAT=ACCEPTED", "PARTSTAT=TENTATIVE", "CLASS:PRIVATE",
		"ORGANIZER;CN=Alice Martin;", "mailto:alice@contoso.com",
		"CATEGORIES:Projet,Rouge",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("iCalendar lacks %q:\n%s", want, out)
		}
	}
}

func TestEventAllDay(t *testing.T) {
	// An all-day event in Paris: EWS writes local midnight as an instant (23:00 UTC the
	// day before); Graph writes the dates at midnight UTC.
	it := decodeItem(t, `<CalendarItem><ItemId Id="x"/><Start>2026-03-13T23:00:00Z</Start><End>2026-03-14T23:00:00Z</End>
		<IsAllDayEvent>true</IsAllDayEvent><CalendarItemType>Single</CalendarItemType>
		<StartTimeZone Id="Romance Standard Time"/></CalendarItem>`)
	payload, err := gwEvent(it, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Start, End struct{ DateTime, TimeZone string }
		Type       string
	}
	if err := json.Unmarshal(payload, &g); err != nil {
		t.Fatal(err)
	}
	if g.Start.DateTime != "2026-03-14T00:00:00.0000000" || g.End.DateTime != "2026-03-15T00:00:00.0000000" || g.Type != "singleInstance" {
		t.Errorf("all-day: %s", payload)
	}
	res, err := ical.Event(payload, ical.Options{})
	if err != nil || !strings.Contains(string(res.Data), "DTSTART;VALUE=DATE:20260314") {
		t.Errorf("ical: %v\n%s", err, res.Data)
	}
}
