package expand

import (
	"strings"
	"testing"
	"time"
)

var (
	from = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	to   = time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)
)

func ics(lines ...string) []byte {
	all := append([]string{"BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN"}, lines...)
	all = append(all, "END:VCALENDAR", "")
	return []byte(strings.Join(all, "\r\n"))
}

func TestSeriesWithExceptions(t *testing.T) {
	data := ics(
		"BEGIN:VEVENT", "UID:s1", "DTSTAMP:20250101T000000Z",
		"DTSTART;TZID=Europe/Paris:20250303T090000", "DTEND;TZID=Europe/Paris:20250303T100000",
		"RRULE:FREQ=WEEKLY;COUNT=6", "EXDATE;TZID=Europe/Paris:20250310T090000,20250317T090000",
		"SUMMARY:Weekly", "END:VEVENT",
		"BEGIN:VEVENT", "UID:s1", "DTSTAMP:20250101T000000Z", "RECURRENCE-ID;TZID=Europe/Paris:20250324T090000",
		"DTSTART;TZID=Europe/Paris:20250324T140000", "DTEND;TZID=Europe/Paris:20250324T150000",
		"SUMMARY:Moved", "END:VEVENT",
		"BEGIN:VEVENT", "UID:s1", "DTSTAMP:20250101T000000Z", "RECURRENCE-ID:20250331T070000Z",
		"DTSTART:20250331T070000Z", "DTEND:20250331T080000Z", "STATUS:CANCELLED",
		"SUMMARY:Weekly", "END:VEVENT",
		"BEGIN:VEVENT", "UID:one", "DTSTAMP:20250101T000000Z", "DTSTART;VALUE=DATE:20250501",
		"SUMMARY:Holiday", "END:VEVENT",
		"BEGIN:VEVENT", "UID:old", "DTSTAMP:20250101T000000Z", "DTSTART:20100501T100000Z",
		"SUMMARY:Before the window", "END:VEVENT",
	)
	occs, err := Parse(data, from, to)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range occs {
		got = append(got, strings.Join([]string{o.UID, o.RecurrenceID, o.Start, o.End, o.Summary, map[bool]string{true: "cancelled"}[o.Cancelled]}, " "))
	}
	want := []string{
		"one  2025-05-01 2025-05-02 Holiday ",
		// 3 March 09:00 Paris = 08:00Z (CET); 24 March moved; 31 March (CEST) cancelled.
		"s1 2025-03-03T08:00:00Z 2025-03-03T08:00:00Z 2025-03-03T09:00:00Z Weekly ",
		"s1 2025-03-24T08:00:00Z 2025-03-24T13:00:00Z 2025-03-24T14:00:00Z Moved ",
		"s1 2025-03-31T07:00:00Z 2025-03-31T07:00:00Z 2025-03-31T08:00:00Z Weekly cancelled",
		"s1 2025-04-07T07:00:00Z 2025-04-07T07:00:00Z 2025-04-07T08:00:00Z Weekly ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("occurrences:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAllDaySeriesAndWindow(t *testing.T) {
	data := ics(
		"BEGIN:VEVENT", "UID:d", "DTSTAMP:20250101T000000Z", "DTSTART;VALUE=DATE:20231230",
		"DTEND;VALUE=DATE:20231231", "RRULE:FREQ=DAILY;COUNT=4", "EXDATE;VALUE=DATE:20240101",
		"SUMMARY:Days", "END:VEVENT",
	)
	occs, err := Parse(data, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(occs) != 1 || occs[0].RecurrenceID != "2024-01-02" || occs[0].End != "2024-01-03" || !occs[0].AllDay {
		t.Errorf("occurrences = %+v, want the 2 January only (31 Dec before the window, 1 Jan excluded)", occs)
	}
}

func TestBadInput(t *testing.T) {
	for _, data := range [][]byte{
		[]byte("not ical"),
		ics("BEGIN:VEVENT", "UID:x", "DTSTAMP:20250101T000000Z", "SUMMARY:no start", "END:VEVENT"),
		ics("BEGIN:VEVENT", "UID:x", "DTSTAMP:20250101T000000Z", "DTSTART:2025", "END:VEVENT"),
		ics("BEGIN:VEVENT", "UID:x", "DTSTAMP:20250101T000000Z", "DTSTART:20250101T000000Z", "RRULE:FREQ=NOPE", "END:VEVENT"),
	} {
		if _, err := Parse(data, from, to); err == nil {
			t.Errorf("Parse(%q) = nil error", data)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(ics("BEGIN:VEVENT", "UID:s1", "DTSTART;TZID=Europe/Paris:20250303T090000", "RRULE:FREQ=WEEKLY;COUNT=6", "EXDATE:20250310T080000Z", "END:VEVENT"))
	f.Add(ics("BEGIN:VEVENT", "UID:s1", "RECURRENCE-ID;VALUE=DATE:20250303", "DTSTART;VALUE=DATE:20250303", "END:VEVENT"))
	f.Fuzz(func(t *testing.T, data []byte) {
		Parse(data, from, to) // must not panic
	})
}

func TestAttendeesAndLocation(t *testing.T) {
	data := ics("BEGIN:VEVENT", "UID:a", "DTSTAMP:20250101T000000Z", "DTSTART:20250501T100000Z",
		"ATTENDEE;CN=Bob:MAILTO:Bob@Example.org", "ATTENDEE:mailto:alice@example.org", `LOCATION:Salle 2\, étage 3`,
		"END:VEVENT")
	occs, err := Parse(data, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(occs) != 1 || occs[0].Attendees != "alice@example.org,bob@example.org" || occs[0].Location != "Salle 2, étage 3" {
		t.Errorf("occurrences = %+v", occs)
	}
}
