package ical

import (
	"bytes"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	ics "github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"
)

type occurrence struct {
	start   time.Time // UTC; midnight UTC for a date
	summary string
}

// expand reads a calendar the way a client does — go-ical to parse, rrule-go to expand the
// master's RRULE with its RDATEs and EXDATEs, overrides replacing the occurrences their
// RECURRENCE-ID names — and lists the occurrences that start in [from, to).
func expand(t *testing.T, data []byte, from, to time.Time) []occurrence {
	t.Helper()
	cal, err := ics.NewDecoder(bytes.NewReader(data)).Decode()
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	var master *ics.Component
	overrides := map[int64]occurrence{}
	for _, c := range cal.Children {
		if c.Name != ics.CompEvent {
			continue
		}
		summary, _ := c.Props.Text(ics.PropSummary)
		start, err := c.Props.DateTime(ics.PropDateTimeStart, time.UTC)
		if err != nil {
			t.Fatalf("DTSTART: %v", err)
		}
		if rid := c.Props.Get(ics.PropRecurrenceID); rid != nil {
			at, err := rid.DateTime(time.UTC)
			if err != nil {
				t.Fatalf("RECURRENCE-ID: %v", err)
			}
			overrides[at.Unix()] = occurrence{start.UTC(), summary}
			continue
		}
		if master != nil {
			t.Fatal("two masters")
		}
		master = c
	}
	summary, _ := master.Props.Text(ics.PropSummary)
	dtstart, err := master.Props.DateTime(ics.PropDateTimeStart, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	var set rrule.Set
	set.DTStart(dtstart)
	if p := master.Props.Get(ics.PropRecurrenceRule); p != nil {
		opt, err := rrule.StrToROptionInLocation(p.Value, dtstart.Location())
		if err != nil {
			t.Fatalf("RRULE %s: %v", p.Value, err)
		}
		opt.Dtstart = dtstart
		r, err := rrule.NewRRule(*opt)
		if err != nil {
			t.Fatal(err)
		}
		set.RRule(r)
	}
	set.RDate(dtstart) // RFC 5545: DTSTART is always an instance
	for _, p := range master.Props.Values(ics.PropRecurrenceDates) {
		d, err := p.DateTime(time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		set.RDate(d)
	}
	for _, p := range master.Props.Values(ics.PropExceptionDates) {
		d, err := p.DateTime(time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		set.ExDate(d)
	}
	var out []occurrence
	for _, at := range set.Between(from.Add(-400*24*time.Hour), to, true) {
		o := occurrence{at.UTC(), summary}
		if x, ok := overrides[at.Unix()]; ok {
			o = x
			delete(overrides, at.Unix())
		}
		if !o.start.Before(from) && o.start.Before(to) {
			out = append(out, o)
		}
	}
	if len(overrides) > 0 && to.After(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("overrides for no occurrence: %v", overrides)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].start.Before(out[j].start) })
	return out
}

func convertFile(t *testing.T, name string) Result {
	t.Helper()
	payload, err := os.ReadFile("testdata/" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Event(payload, goldenOptions)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

var (
	allTime = [2]time.Time{time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)}
	paris   = mustLoad("Europe/Paris")
)

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func localDates(occs []occurrence, loc *time.Location, layout string) []string {
	var s []string
	for _, o := range occs {
		s = append(s, o.start.In(loc).Format(layout))
	}
	return s
}

// A weekly meeting at 10:00 Paris time stays at 10:00 Paris time across both DST changes;
// the cancelled occurrence is gone, the moved ones are where their exceptions say, the
// endDate's own day is included.
func TestWeeklyParisAcrossDST(t *testing.T) {
	res := convertFile(t, "event-weekly-paris")
	occs := expand(t, res.Data, allTime[0], allTime[1])
	byStart := map[string]string{}
	for _, o := range occs {
		byStart[o.start.Format(time.RFC3339)] = o.summary
		local := o.start.In(paris)
		if o.summary == "Weekly sync" && local.Format("15:04") != "10:00" {
			t.Errorf("occurrence at %s Paris time", local)
		}
		if wd := local.Weekday(); o.summary == "Weekly sync" && wd != time.Monday && wd != time.Thursday {
			t.Errorf("occurrence on %s", wd)
		}
	}
	for at, want := range map[string]string{
		"2024-03-04T09:00:00Z": "Weekly sync",             // first, CET
		"2024-03-25T09:00:00Z": "Weekly sync",             // last Monday before the change
		"2024-04-01T08:00:00Z": "Weekly sync",             // first Monday after, CEST
		"2024-03-28T13:00:00Z": "Weekly sync — moved",     // exception moved to 14:00
		"2024-04-04T08:00:00Z": "Weekly sync (after DST)", // exception at the same time
		"2024-10-24T08:00:00Z": "Weekly sync",             // last Thursday in CEST
		"2024-10-31T09:00:00Z": "Weekly sync",             // back to CET
		"2024-11-28T09:00:00Z": "Weekly sync",             // endDate is inclusive
	} {
		if got, ok := byStart[at]; !ok || got != want {
			t.Errorf("at %s: %q (present %v), want %q", at, got, ok, want)
		}
	}
	for _, gone := range []string{"2024-10-28T09:00:00Z", "2024-03-28T09:00:00Z", "2024-12-02T09:00:00Z"} {
		if _, ok := byStart[gone]; ok {
			t.Errorf("occurrence at %s should not exist", gone)
		}
	}
	// Mondays and Thursdays from 4 March to 28 November 2024: 78, one cancelled.
	if len(occs) != 77 {
		t.Errorf("%d occurrences, want 77", len(occs))
	}
}

func TestPatterns(t *testing.T) {
	for _, tc := range []struct {
		file   string
		zone   string
		layout string
		want   []string
	}{
		{"event-relmonthly-lastfriday", "America/New_York", "2006-01-02 15:04 Mon", []string{
			"2024-01-26 16:00 Fri", "2024-02-23 16:00 Fri", "2024-03-29 16:00 Fri", "2024-04-26 16:00 Fri",
			"2024-05-31 16:00 Fri", "2024-06-28 16:00 Fri", "2024-07-26 16:00 Fri", "2024-08-30 16:00 Fri",
			"2024-09-27 16:00 Fri", "2024-10-25 16:00 Fri", "2024-11-29 16:00 Fri", "2024-12-27 16:00 Fri"}},
		{"event-absmonthly-31", "Asia/Tokyo", "2006-01-02 15:04", []string{ // day 31 falls on the month's last day
			"2024-01-31 09:00", "2024-02-29 09:00", "2024-03-31 09:00", "2024-04-30 09:00", "2024-05-31 09:00", "2024-06-30 09:00"}},
		{"event-relyearly-weekday", "Australia/Sydney", "2006-01-02 15:04 Mon", []string{ // second weekday of June, every 2 years
			"2024-06-04 09:00 Tue", "2026-06-02 09:00 Tue", "2028-06-02 09:00 Fri", "2030-06-04 09:00 Tue"}},
		{"event-weekly-startdate", "Europe/Berlin", "2006-01-02 15:04 Mon", []string{ // the range starts on a Saturday
			"2024-03-11 09:30 Mon", "2024-03-25 09:30 Mon", "2024-04-08 09:30 Mon", "2024-04-22 09:30 Mon", "2024-05-06 09:30 Mon"}},
		{"event-allday-weekly", "UTC", "2006-01-02", []string{ // 19 April cancelled, 12 April moved to the 13th
			"2024-04-05", "2024-04-13", "2024-04-26", "2024-05-03"}},
		{"event-custom-zone", "Europe/Berlin", "2006-01-02 15:04", []string{ // the mailbox zone stands in
			"2024-03-20 16:00", "2024-03-27 16:00", "2024-04-03 16:00"}},
		{"event-doc-recurring", "America/Los_Angeles", "2006-01-02 15:04", nil},
	} {
		t.Run(tc.file, func(t *testing.T) {
			res := convertFile(t, tc.file)
			got := localDates(expand(t, res.Data, allTime[0], allTime[1]), mustLoad(tc.zone), tc.layout)
			if tc.want == nil { // Mondays 12:00 Pacific from 4 September to 25 December 2017
				if len(got) != 17 || got[0] != "2017-09-04 12:00" || got[16] != "2017-12-25 12:00" {
					t.Errorf("got %v", got)
				}
				return
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("occurrences\n%v\nwant\n%v", got, tc.want)
			}
		})
	}
}

// Open-ended series: the first occurrences are right and they go on.
func TestNoEnd(t *testing.T) {
	res := convertFile(t, "event-absyearly-feb29")
	got := localDates(expand(t, res.Data, allTime[0], time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC)), time.UTC, "2006-01-02")
	if want := "2024-02-29|2025-02-28|2026-02-28|2027-02-28|2028-02-29"; strings.Join(got, "|") != want {
		t.Errorf("29 February yearly: %v, want %s", got, want)
	}
	res = convertFile(t, "event-daily-noend")
	got = localDates(expand(t, res.Data, allTime[0], time.Date(2024, 2, 12, 0, 0, 0, 0, time.UTC)), mustLoad("Asia/Kolkata"), "2006-01-02 15:04")
	if want := "2024-02-01 09:30|2024-02-04 09:30|2024-02-07 09:30|2024-02-10 09:30"; strings.Join(got, "|") != want {
		t.Errorf("every 3 days: %v, want %s", got, want)
	}
}

// An all-day event stays on its dates whatever the zone: DATE values, no TZID.
func TestAllDayDates(t *testing.T) {
	res := convertFile(t, "event-allday-multiday")
	s := string(res.Data)
	for _, want := range []string{"DTSTART;VALUE=DATE:20240501\r\n", "DTEND;VALUE=DATE:20240504\r\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q", want)
		}
	}
	if strings.Contains(s, "TZID") || strings.Contains(s, "VTIMEZONE") {
		t.Errorf("an all-day event carries a zone:\n%s", s)
	}
}
