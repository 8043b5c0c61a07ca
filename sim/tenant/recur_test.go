package tenant

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/model"
)

func dates(t *testing.T, r Recurrence, until string) []string {
	t.Helper()
	u, _ := ParseDate(until)
	ds, err := r.Dates(u)
	if err != nil {
		t.Fatalf("Dates(%+v) = %v", r, err)
	}
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Format(time.DateOnly)
	}
	return out
}

// The expected dates below were worked out by hand from a calendar.
func TestRecurrenceDates(t *testing.T) {
	for _, c := range []struct {
		name  string
		r     Recurrence
		until string
		want  []string
	}{
		{"weekly Mon/Wed/Fri every 2 weeks", Recurrence{RecurrencePattern{Type: "weekly", Interval: 2, DaysOfWeek: []string{"monday", "wednesday", "friday"}, FirstDayOfWeek: "monday"},
			RecurrenceRange{Type: "noEnd", StartDate: "2025-09-01"}}, "2025-09-30",
			[]string{"2025-09-01", "2025-09-03", "2025-09-05", "2025-09-15", "2025-09-17", "2025-09-19", "2025-09-29"}},
		{"weekly starting mid-week", Recurrence{RecurrencePattern{Type: "weekly", Interval: 2, DaysOfWeek: []string{"monday", "friday"}, FirstDayOfWeek: "monday"},
			RecurrenceRange{Type: "numbered", StartDate: "2025-09-03", NumberOfOccurrences: 4}}, "2030-01-01",
			[]string{"2025-09-05", "2025-09-15", "2025-09-19", "2025-09-29"}},
		// The same days and start: which day begins the week decides which weeks are skipped.
		{"weekly, weeks begin on Sunday", Recurrence{RecurrencePattern{Type: "weekly", Interval: 2, DaysOfWeek: []string{"sunday", "monday"}, FirstDayOfWeek: "sunday"},
			RecurrenceRange{Type: "numbered", StartDate: "2025-09-07", NumberOfOccurrences: 4}}, "2030-01-01",
			[]string{"2025-09-07", "2025-09-08", "2025-09-21", "2025-09-22"}},
		{"weekly, weeks begin on Monday", Recurrence{RecurrencePattern{Type: "weekly", Interval: 2, DaysOfWeek: []string{"sunday", "monday"}, FirstDayOfWeek: "monday"},
			RecurrenceRange{Type: "numbered", StartDate: "2025-09-07", NumberOfOccurrences: 4}}, "2030-01-01",
			[]string{"2025-09-07", "2025-09-15", "2025-09-21", "2025-09-29"}},
		{"weekly, default first day is Sunday", Recurrence{RecurrencePattern{Type: "weekly", Interval: 2, DaysOfWeek: []string{"sunday", "monday"}},
			RecurrenceRange{Type: "numbered", StartDate: "2025-09-07", NumberOfOccurrences: 2}}, "2030-01-01",
			[]string{"2025-09-07", "2025-09-08"}},
		{"daily every 3 days to an end date", Recurrence{RecurrencePattern{Type: "daily", Interval: 3},
			RecurrenceRange{Type: "endDate", StartDate: "2026-12-20", EndDate: "2026-12-29"}}, "2030-01-01",
			[]string{"2026-12-20", "2026-12-23", "2026-12-26", "2026-12-29"}},
		{"absolute monthly day 31 falls on the month's last day", Recurrence{RecurrencePattern{Type: "absoluteMonthly", Interval: 1, DayOfMonth: 31},
			RecurrenceRange{Type: "numbered", StartDate: "2026-01-31", NumberOfOccurrences: 4}}, "2030-01-01",
			[]string{"2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"}},
		{"absolute monthly from a later day starts next month", Recurrence{RecurrencePattern{Type: "absoluteMonthly", Interval: 2, DayOfMonth: 10},
			RecurrenceRange{Type: "numbered", StartDate: "2026-01-20", NumberOfOccurrences: 3}}, "2030-01-01",
			[]string{"2026-03-10", "2026-05-10", "2026-07-10"}},
		{"relative monthly last Friday", Recurrence{RecurrencePattern{Type: "relativeMonthly", Interval: 1, DaysOfWeek: []string{"friday"}, Index: "last"},
			RecurrenceRange{Type: "endDate", StartDate: "2026-01-01", EndDate: "2026-05-29"}}, "2030-01-01",
			[]string{"2026-01-30", "2026-02-27", "2026-03-27", "2026-04-24", "2026-05-29"}},
		{"relative monthly first Monday every other month", Recurrence{RecurrencePattern{Type: "relativeMonthly", Interval: 2, DaysOfWeek: []string{"monday"}, Index: "first"},
			RecurrenceRange{Type: "numbered", StartDate: "2026-01-05", NumberOfOccurrences: 6}}, "2030-01-01",
			[]string{"2026-01-05", "2026-03-02", "2026-05-04", "2026-07-06", "2026-09-07", "2026-11-02"}},
		{"relative monthly first weekday", Recurrence{RecurrencePattern{Type: "relativeMonthly", Interval: 1, DaysOfWeek: []string{"monday", "tuesday", "wednesday", "thursday", "friday"}},
			RecurrenceRange{Type: "numbered", StartDate: "2026-02-01", NumberOfOccurrences: 3}}, "2030-01-01",
			[]string{"2026-02-02", "2026-03-02", "2026-04-01"}},
		{"absolute yearly", Recurrence{RecurrencePattern{Type: "absoluteYearly", Interval: 1, Month: 3, DayOfMonth: 14},
			RecurrenceRange{Type: "noEnd", StartDate: "2020-03-14"}}, "2023-03-13",
			[]string{"2020-03-14", "2021-03-14", "2022-03-14"}},
		{"relative yearly third Thursday of June", Recurrence{RecurrencePattern{Type: "relativeYearly", Interval: 1, Month: 6, DaysOfWeek: []string{"thursday"}, Index: "third"},
			RecurrenceRange{Type: "numbered", StartDate: "2024-06-20", NumberOfOccurrences: 5}}, "2040-01-01",
			[]string{"2024-06-20", "2025-06-19", "2026-06-18", "2027-06-17", "2028-06-15"}},
		{"relative yearly last Sunday of October every 2 years", Recurrence{RecurrencePattern{Type: "relativeYearly", Interval: 2, Month: 10, DaysOfWeek: []string{"sunday"}, Index: "last"},
			RecurrenceRange{Type: "endDate", StartDate: "2026-01-01", EndDate: "2030-12-31"}}, "2040-01-01",
			[]string{"2026-10-25", "2028-10-29", "2030-10-27"}},
	} {
		if got := dates(t, c.r, c.until); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	for _, bad := range []Recurrence{
		{RecurrencePattern{Type: "weekly"}, RecurrenceRange{Type: "noEnd", StartDate: "2026-01-01"}},
		{RecurrencePattern{Type: "daily"}, RecurrenceRange{Type: "sometimes", StartDate: "2026-01-01"}},
		{RecurrencePattern{Type: "daily"}, RecurrenceRange{Type: "noEnd", StartDate: "01/01/2026"}},
		{RecurrencePattern{Type: "absoluteYearly", Month: 13, DayOfMonth: 1}, RecurrenceRange{Type: "noEnd", StartDate: "2026-01-01"}},
		{RecurrencePattern{Type: "hourly"}, RecurrenceRange{Type: "noEnd", StartDate: "2026-01-01"}},
	} {
		if _, err := bad.Dates(time.Now()); err == nil {
			t.Errorf("Dates(%+v) = nil error, want one", bad)
		}
	}
}

func find(t *testing.T, ten *Tenant, user, subject string) Event {
	t.Helper()
	for _, e := range ten.Events(user, "") {
		if e.Subject == subject {
			return e
		}
	}
	t.Fatalf("no event %q", subject)
	return Event{}
}

func TestInstancesDST(t *testing.T) {
	ten := Generate(Small())
	u := ten.Users()[0].ID
	paris := mustZone("Romance Standard Time")
	m := find(t, ten, u, "Point hebdo équipe")
	inst, err := m.Instances(time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 22, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	// 17 and 24 March: 09:00 UTC (CET); 31 March moved to 14:00 CEST = 12:00 UTC; 7 April:
	// 08:00 UTC (CEST); 14 April cancelled; 21 April 08:00 UTC.
	want := []string{"2026-03-17T09:00:00Z occurrence", "2026-03-24T09:00:00Z occurrence", "2026-03-31T12:00:00Z exception",
		"2026-04-07T08:00:00Z occurrence", "2026-04-21T08:00:00Z occurrence"}
	var got []string
	for _, e := range inst {
		got = append(got, e.Start.UTC().Format(time.RFC3339)+" "+e.Type)
		if e.SeriesMasterID != m.ID || e.End.Sub(e.Start) != time.Hour {
			t.Errorf("instance %+v: master %s, duration %v", e.ID, e.SeriesMasterID, e.End.Sub(e.Start))
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("instances around the March change:\n got %v\nwant %v", got, want)
	}
	// Autumn: 20 October 08:00 UTC, 27 October 09:00 UTC (CET again), both 10:00 in Paris.
	inst, _ = m.Instances(time.Date(2026, 10, 19, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	if len(inst) != 2 || inst[0].Start.Hour() != 8 || inst[1].Start.Hour() != 9 {
		t.Fatalf("instances around the October change: %v", inst)
	}
	// Over the whole series, every occurrence is at 10:00 Paris time on a Tuesday.
	inst, _ = m.Instances(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC))
	n := 0
	for _, e := range inst {
		l := e.Start.In(paris)
		if e.Type == "occurrence" {
			n++
			if l.Hour() != 10 || l.Minute() != 0 || l.Weekday() != time.Tuesday {
				t.Errorf("occurrence at %v Paris time", l)
			}
			if e.OriginalStart != e.Start || e.ID != OccurrenceID(m.ID, e.Start) {
				t.Errorf("occurrence %s: originalStart %v, id not derived from it", e.ID, e.OriginalStart)
			}
		}
	}
	// 2026-01-06 .. 2027-06-29 is 78 Tuesdays; 3 are exceptions and 2 cancelled.
	if n != 73 || len(inst) != 76 {
		t.Errorf("%d occurrences, %d instances; want 73 and 76", n, len(inst))
	}
	if inst[0].Start != m.Start || inst[len(inst)-1].Start != at("Romance Standard Time", 2027, 6, 29, 10, 0) {
		t.Errorf("series runs %v .. %v", inst[0].Start, inst[len(inst)-1].Start)
	}
	if got := m.CancelledOccurrenceID(m.Cancelled[0]); got != "OID."+m.ID+".2026-04-14" {
		t.Errorf("CancelledOccurrenceID = %s", got)
	}

	// New York across the US fall-back: 09:00 EDT = 13:00 UTC, then 09:00 EST = 14:00 UTC.
	d := find(t, ten, u, "Stand-up projet Hélios")
	inst, _ = d.Instances(time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	if len(inst) != 15 || inst[0].Start.Hour() != 13 || inst[6].Start.Hour() != 14 || inst[14].Start.Format(time.DateOnly) != "2026-11-09" {
		t.Errorf("daily NY series: %d instances, first %v, 7th %v, last %v", len(inst), inst[0].Start, inst[min(6, len(inst)-1)].Start, inst[len(inst)-1].Start)
	}
	// All-day yearly: midnight-UTC dates whatever the zone.
	b := find(t, ten, u, "Anniversaire de "+ten.Users()[1].DisplayName+" 🎂")
	inst, _ = b.Instances(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC))
	if len(inst) != 1 || !inst[0].Start.Equal(day(2027, 3, 14)) || !inst[0].End.Equal(day(2027, 3, 15)) || !inst[0].IsAllDay {
		t.Errorf("all-day yearly instances: %+v", inst)
	}
}

func TestGroupwareCatalog(t *testing.T) {
	a, b := Generate(Small()), Generate(Small())
	for _, u := range a.Users() {
		if !reflect.DeepEqual(a.Events(u.ID, ""), b.Events(u.ID, "")) || !reflect.DeepEqual(a.Contacts(u.ID, ""), b.Contacts(u.ID, "")) ||
			!reflect.DeepEqual(a.Tasks(u.ID, ""), b.Tasks(u.ID, "")) || !reflect.DeepEqual(a.Calendars(u.ID), b.Calendars(u.ID)) {
			t.Fatalf("%s: groupware differs between two generations", u.UPN)
		}
		cals := a.Calendars(u.ID)
		if len(cals) != 3 || !cals[0].IsDefault || cals[1].HexColor == "" || cals[2].CanEdit || cals[2].Owner.Address == u.Mail {
			t.Errorf("%s calendars: %+v", u.UPN, cals)
		}
		types := map[string]bool{}
		for _, e := range a.Events(u.ID, "") {
			if e.Type != "seriesMaster" {
				continue
			}
			types[e.Recurrence.Pattern.Type+"/"+e.Recurrence.Range.Type] = true
			starts, err := e.OccurrenceStarts(time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC))
			if err != nil || len(starts) == 0 || !starts[0].Equal(e.Start) {
				t.Errorf("%s %q: master starts %v, first occurrence %v (%v)", u.UPN, e.Subject, e.Start, starts[:min(1, len(starts))], err)
			}
			for _, x := range e.Exceptions {
				if !slices.ContainsFunc(starts, x.OriginalStart.Equal) || x.SeriesMasterID != e.ID || x.Type != "exception" {
					t.Errorf("%q: exception %+v is not one of its occurrences", e.Subject, x.OriginalStart)
				}
			}
			for _, c := range e.Cancelled {
				if !slices.ContainsFunc(starts, c.Equal) {
					t.Errorf("%q: cancelled %v is not one of its occurrences", e.Subject, c)
				}
			}
		}
		for _, p := range []string{"daily", "weekly", "absoluteMonthly", "relativeMonthly", "absoluteYearly", "relativeYearly"} {
			if !slices.ContainsFunc(keys(types), func(k string) bool { return strings.HasPrefix(k, p+"/") }) {
				t.Errorf("%s: no %s series", u.UPN, p)
			}
		}
		for _, r := range []string{"endDate", "noEnd", "numbered"} {
			if !slices.ContainsFunc(keys(types), func(k string) bool { return strings.HasSuffix(k, "/"+r) }) {
				t.Errorf("%s: no series with a %s range", u.UPN, r)
			}
		}
		if n := len(a.Contacts(u.ID, "")); n != 7+8 {
			t.Errorf("%s: %d contacts, want 15", u.UPN, n)
		}
		if n := len(a.Tasks(u.ID, "")); n != 8+6 {
			t.Errorf("%s: %d tasks, want 14", u.UPN, n)
		}
	}
	// Groupware does not disturb mail: the first message is what it was without it.
	c := Small()
	c.Events, c.Contacts, c.Tasks = 0, 0, 0
	plain := Generate(c)
	u := a.Users()[0].ID
	if !reflect.DeepEqual(plain.Messages(u), a.Messages(u)) {
		t.Errorf("filler groupware changed the messages")
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestGroupwareMutations(t *testing.T) {
	ten := Generate(Small())
	u := ten.Users()[1].ID
	m := find(t, ten, u, "Point hebdo équipe")
	orig := at("Romance Standard Time", 2026, 5, 5, 10, 0)
	x, err := ten.ModifyOccurrence(u, m.ID, orig, func(e *Event) { e.Subject = "Changé" })
	if err != nil || x.Type != "exception" || x.ID != OccurrenceID(m.ID, orig) {
		t.Fatalf("ModifyOccurrence = %+v, %v", x.ID, err)
	}
	m2, _ := ten.Event(u, m.ID)
	if m2.ChangeKey == m.ChangeKey || len(m2.Exceptions) != len(m.Exceptions)+1 {
		t.Errorf("master after a new exception: changeKey %s (was %s), %d exceptions", m2.ChangeKey, m.ChangeKey, len(m2.Exceptions))
	}
	if err := ten.CancelOccurrence(u, m.ID, orig); err != nil {
		t.Fatal(err)
	}
	m3, _ := ten.Event(u, m.ID)
	if m3.ChangeKey == m2.ChangeKey || len(m3.Exceptions) != len(m.Exceptions) || len(m3.Cancelled) != len(m.Cancelled)+1 {
		t.Errorf("master after cancelling the exception: %d exceptions, %d cancelled", len(m3.Exceptions), len(m3.Cancelled))
	}
	if err := ten.CancelOccurrence(u, m.ID, orig); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("cancelling twice: %v, want ErrNotFound", err)
	}
	if _, err := ten.ModifyOccurrence(u, m.ID, orig.Add(time.Hour), func(*Event) {}); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("modifying a non-occurrence: %v, want ErrNotFound", err)
	}
	// Changing an exception through UpdateEvent changes the master too.
	xid := m3.Exceptions[0].ID
	if err := ten.SetEventSubject(u, xid, "Encore changé"); err != nil {
		t.Fatal(err)
	}
	if m4, _ := ten.Event(u, m.ID); m4.ChangeKey == m3.ChangeKey || m4.Exceptions[0].Subject != "Encore changé" {
		t.Errorf("exception update not reflected on the master")
	}
	// Returned events are copies.
	m4, _ := ten.Event(u, m.ID)
	m4.Attendees[0].Response = "declined"
	if m5, _ := ten.Event(u, m.ID); m5.Attendees[0].Response == "declined" {
		t.Errorf("Event() returned a shared slice")
	}
	ev, err := ten.AddEvent(u, "", Event{Subject: "Nouveau", Start: orig, End: orig.Add(time.Hour), StartZone: "Romance Standard Time"})
	if err != nil || ev.Type != "singleInstance" || ev.ID == "" {
		t.Fatalf("AddEvent = %+v, %v", ev, err)
	}
	if err := ten.DeleteEvent(u, ev.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ten.Event(u, ev.ID); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("deleted event still found: %v", err)
	}
	k := ten.Tasks(u, "")[0]
	if err := ten.CompleteTask(u, k.ID); err != nil {
		t.Fatal(err)
	}
	if k2, _ := ten.Task(u, k.ID); k2.Status != "completed" || k2.Completed.IsZero() || k2.ChangeKey == k.ChangeKey {
		t.Errorf("completed task: %+v", k2)
	}
	c := ten.Contacts(u, "")[0]
	if err := ten.DeleteContact(u, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := ten.DeleteContact(u, c.ID); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("deleting twice: %v", err)
	}
}
