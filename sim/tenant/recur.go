package tenant

import (
	"fmt"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // the emulator must not depend on the host's zoneinfo
)

// windowsZones maps the Windows time zone ids the tenant uses to IANA names. The emulator
// keeps its own short list on purpose: it is the oracle the transform's CLDR-based mapping
// is tested against, so it must not share that code.
var windowsZones = map[string]string{
	"UTC":                            "UTC",
	"Romance Standard Time":          "Europe/Paris",
	"W. Europe Standard Time":        "Europe/Berlin",
	"GMT Standard Time":              "Europe/London",
	"Eastern Standard Time":          "America/New_York",
	"Pacific Standard Time":          "America/Los_Angeles",
	"Tokyo Standard Time":            "Asia/Tokyo",
	"Russian Standard Time":          "Europe/Moscow",
	"AUS Eastern Standard Time":      "Australia/Sydney",
	"India Standard Time":            "Asia/Kolkata",
	"Central European Standard Time": "Europe/Warsaw",
	"Central Standard Time":          "America/Chicago",
}

// CustomZone is the originalStartTimeZone Graph shows for an event whose time zone was
// defined by the client (an iCalendar import, an old Outlook): the start and end come back in
// UTC and no Windows id names the zone.
const CustomZone = "tzone://Microsoft/Custom"

// Zone resolves a Windows time zone id (as Graph shows them) or an IANA name. It returns an
// error for an unknown name and for CustomZone.
func Zone(name string) (*time.Location, error) {
	if iana, ok := windowsZones[name]; ok {
		return time.LoadLocation(iana)
	}
	for w, iana := range windowsZones {
		if strings.EqualFold(w, name) {
			return time.LoadLocation(iana)
		}
	}
	if name == "" || name == CustomZone || strings.HasPrefix(name, "tzone:") {
		return nil, fmt.Errorf("tenant: no time zone %q", name)
	}
	return time.LoadLocation(name)
}

func mustZone(name string) *time.Location {
	loc, err := Zone(name)
	if err != nil {
		panic(err)
	}
	return loc
}

var weekdays = map[string]time.Weekday{"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday,
	"wednesday": time.Wednesday, "thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday}

// ParseDate reads a Graph date ("2006-01-02") as midnight UTC.
func ParseDate(s string) (time.Time, error) { return time.Parse(time.DateOnly, s) }

func dateOf(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func daysIn(y int, m time.Month) int { return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day() }

// nthWeekday returns the day of month y-m picked by index (first..fourth, last) among the
// days whose weekday is in days (Graph's relativeMonthly/relativeYearly). ok is false when
// the month has no such day.
func nthWeekday(y int, m time.Month, days []time.Weekday, index string) (time.Time, bool) {
	var cands []time.Time
	for d := 1; d <= daysIn(y, m); d++ {
		t := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		if slices.Contains(days, t.Weekday()) {
			cands = append(cands, t)
		}
	}
	n := map[string]int{"": 0, "first": 0, "second": 1, "third": 2, "fourth": 3, "last": len(cands) - 1}[index]
	if n < 0 || n >= len(cands) {
		return time.Time{}, false
	}
	return cands[n], true
}

// Dates returns the dates (midnight UTC) of a recurrence's occurrences, read straight from
// Graph's patternedRecurrence documentation: the pattern applies from range.startDate (the
// first occurrence may be later), every interval days/weeks/months/years counted from the
// start's day/week/month/year; a weekly pattern's weeks begin on firstDayOfWeek (default
// sunday); relative patterns pick the index-th (first..fourth, last) day of the month whose
// weekday is listed; an absolute day of month beyond the month's end falls on its last day
// (as Outlook schedules "day 31"). The range ends at endDate (inclusive), after
// numberOfOccurrences occurrences, or never (noEnd); dates after until are not returned
// either. Cancelled occurrences are counted: they are part of the series.
func (r Recurrence) Dates(until time.Time) ([]time.Time, error) {
	start, err := ParseDate(r.Range.StartDate)
	if err != nil {
		return nil, fmt.Errorf("tenant: recurrence startDate %q: %w", r.Range.StartDate, err)
	}
	end := dateOf(until)
	count := -1
	switch r.Range.Type {
	case "endDate":
		e, err := ParseDate(r.Range.EndDate)
		if err != nil {
			return nil, fmt.Errorf("tenant: recurrence endDate %q: %w", r.Range.EndDate, err)
		}
		if e.Before(end) {
			end = e
		}
	case "numbered":
		count = r.Range.NumberOfOccurrences
		if count <= 0 {
			return nil, fmt.Errorf("tenant: numbered range with %d occurrences", count)
		}
	case "noEnd":
	default:
		return nil, fmt.Errorf("tenant: unknown range type %q", r.Range.Type)
	}
	p := r.Pattern
	interval := max(p.Interval, 1)
	var days []time.Weekday
	for _, d := range p.DaysOfWeek {
		wd, ok := weekdays[strings.ToLower(d)]
		if !ok {
			return nil, fmt.Errorf("tenant: unknown day of week %q", d)
		}
		days = append(days, wd)
	}
	var out []time.Time
	// emit adds d when it is in range; it returns false once the range is exhausted.
	emit := func(d time.Time) bool {
		if d.After(end) || (count >= 0 && len(out) >= count) {
			return false
		}
		if !d.Before(start) {
			out = append(out, d)
		}
		return count < 0 || len(out) < count
	}
	const maxSteps = 100000 // a guard, not a limit any real series reaches
	switch p.Type {
	case "daily":
		for d, i := start, 0; i < maxSteps && emit(d); d, i = d.AddDate(0, 0, interval), i+1 {
		}
	case "weekly":
		if len(days) == 0 {
			return nil, fmt.Errorf("tenant: weekly pattern without daysOfWeek")
		}
		fdow := time.Sunday
		if p.FirstDayOfWeek != "" {
			wd, ok := weekdays[strings.ToLower(p.FirstDayOfWeek)]
			if !ok {
				return nil, fmt.Errorf("tenant: unknown firstDayOfWeek %q", p.FirstDayOfWeek)
			}
			fdow = wd
		}
		week := start.AddDate(0, 0, -((int(start.Weekday()) - int(fdow) + 7) % 7))
	weeks:
		for i := 0; i < maxSteps && !week.After(end); i, week = i+1, week.AddDate(0, 0, 7*interval) {
			for k := range 7 {
				d := week.AddDate(0, 0, k)
				if slices.Contains(days, d.Weekday()) && !emit(d) {
					break weeks
				}
			}
		}
	case "absoluteMonthly", "relativeMonthly":
		if p.Type == "absoluteMonthly" && (p.DayOfMonth < 1 || p.DayOfMonth > 31) {
			return nil, fmt.Errorf("tenant: dayOfMonth %d", p.DayOfMonth)
		}
		if p.Type == "relativeMonthly" && len(days) == 0 {
			return nil, fmt.Errorf("tenant: relativeMonthly pattern without daysOfWeek")
		}
		first := time.Date(start.Year(), start.Month(), 1, 0, 0, 0, 0, time.UTC)
		for i := 0; i < maxSteps; i++ {
			m := first.AddDate(0, i*interval, 0)
			if m.After(end) {
				break
			}
			var d time.Time
			if p.Type == "absoluteMonthly" {
				d = time.Date(m.Year(), m.Month(), min(p.DayOfMonth, daysIn(m.Year(), m.Month())), 0, 0, 0, 0, time.UTC)
			} else {
				var ok bool
				if d, ok = nthWeekday(m.Year(), m.Month(), days, p.Index); !ok {
					continue
				}
			}
			if !emit(d) {
				break
			}
		}
	case "absoluteYearly", "relativeYearly":
		if p.Month < 1 || p.Month > 12 {
			return nil, fmt.Errorf("tenant: month %d", p.Month)
		}
		if p.Type == "absoluteYearly" && (p.DayOfMonth < 1 || p.DayOfMonth > 31) {
			return nil, fmt.Errorf("tenant: dayOfMonth %d", p.DayOfMonth)
		}
		if p.Type == "relativeYearly" && len(days) == 0 {
			return nil, fmt.Errorf("tenant: relativeYearly pattern without daysOfWeek")
		}
		mo := time.Month(p.Month)
		for i := 0; i < maxSteps; i++ {
			y := start.Year() + i*interval
			if time.Date(y, mo, 1, 0, 0, 0, 0, time.UTC).After(end) {
				break
			}
			var d time.Time
			if p.Type == "absoluteYearly" {
				d = time.Date(y, mo, min(p.DayOfMonth, daysIn(y, mo)), 0, 0, 0, 0, time.UTC)
			} else {
				var ok bool
				if d, ok = nthWeekday(y, mo, days, p.Index); !ok {
					continue
				}
			}
			if !emit(d) {
				break
			}
		}
	default:
		return nil, fmt.Errorf("tenant: unknown pattern type %q", p.Type)
	}
	return out, nil
}

// RecurrenceZone returns the zone a series is expanded in: range.recurrenceTimeZone, else the
// event's originalStartTimeZone, else UTC.
func (e *Event) RecurrenceZone() *time.Location {
	if e.Recurrence != nil {
		if loc, err := Zone(e.Recurrence.Range.RecurrenceTimeZone); err == nil {
			return loc
		}
	}
	if loc, err := Zone(e.StartZone); err == nil {
		return loc
	}
	return time.UTC
}

// Instances expands a series master into its occurrences and exceptions that overlap
// [from, to), ordered by start: each occurrence starts on a date of the recurrence at the
// master's local start time in the recurrence zone (so 10:00 Paris stays 10:00 Paris across
// DST changes) and lasts as long as the master; cancelled occurrences are left out; an
// exception replaces the occurrence it was made from and is included when its own (possibly
// moved) time overlaps the window. All-day occurrences are midnight-UTC dates (floating). A
// single instance is returned as itself when it overlaps the window.
func (e *Event) Instances(from, to time.Time) ([]Event, error) {
	if e.Type != "seriesMaster" || e.Recurrence == nil {
		if overlaps(e.Start, e.End, from, to) {
			return []Event{e.clone()}, nil
		}
		return nil, nil
	}
	loc := e.RecurrenceZone()
	dur := e.End.Sub(e.Start)
	local := e.Start.In(loc)
	if e.IsAllDay {
		local = e.Start.UTC()
	}
	// Dates up to the day after `to` in the zone: an occurrence starting then cannot overlap.
	dates, err := e.Recurrence.Dates(to.In(loc).AddDate(0, 0, 1))
	if err != nil {
		return nil, err
	}
	cancelled := map[int64]bool{}
	for _, c := range e.Cancelled {
		cancelled[c.Unix()] = true
	}
	exc := map[int64]bool{}
	var out []Event
	for i := range e.Exceptions {
		x := &e.Exceptions[i]
		exc[x.OriginalStart.Unix()] = true
		if overlaps(x.Start, x.End, from, to) {
			out = append(out, x.clone())
		}
	}
	for _, d := range dates {
		var st time.Time
		if e.IsAllDay {
			st = d
		} else {
			st = time.Date(d.Year(), d.Month(), d.Day(), local.Hour(), local.Minute(), local.Second(), 0, loc).UTC()
		}
		if cancelled[st.Unix()] || exc[st.Unix()] || !overlaps(st, st.Add(dur), from, to) {
			continue
		}
		out = append(out, e.occurrence(st, dur))
	}
	slices.SortStableFunc(out, func(a, b Event) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// OccurrenceStarts returns the original start (UTC) of every occurrence of a series master
// whose date is not after until, cancelled and excepted ones included.
func (e *Event) OccurrenceStarts(until time.Time) ([]time.Time, error) {
	if e.Recurrence == nil {
		return nil, fmt.Errorf("tenant: event %s is not a series", e.ID)
	}
	loc := e.RecurrenceZone()
	local := e.Start.In(loc)
	dates, err := e.Recurrence.Dates(until.In(loc))
	if err != nil {
		return nil, err
	}
	out := make([]time.Time, len(dates))
	for i, d := range dates {
		if e.IsAllDay {
			out[i] = d
		} else {
			out[i] = time.Date(d.Year(), d.Month(), d.Day(), local.Hour(), local.Minute(), local.Second(), 0, loc).UTC()
		}
	}
	return out, nil
}

func overlaps(start, end, from, to time.Time) bool {
	if !end.After(start) {
		return !start.Before(from) && start.Before(to)
	}
	return start.Before(to) && end.After(from)
}

// occurrence makes the occurrence of master e that starts at st.
func (e *Event) occurrence(st time.Time, dur time.Duration) Event {
	o := e.clone()
	o.Type = "occurrence"
	o.ID = OccurrenceID(e.ID, st)
	o.SeriesMasterID = e.ID
	o.OriginalStart = st
	o.Start, o.End = st, st.Add(dur)
	o.ICalUID = e.ICalUID + "-" + st.UTC().Format("20060102T150405Z")
	o.Recurrence, o.Exceptions, o.Cancelled = nil, nil, nil
	return o
}

// OccurrenceID returns the stable id of the occurrence of series masterID originally
// starting at orig; an exception made from that occurrence keeps the same id.
func OccurrenceID(masterID string, orig time.Time) string {
	return masterID + "BwAAEg" + orig.UTC().Format("20060102T150405")
}

// CancelledOccurrenceID is the value Graph lists in cancelledOccurrences for the occurrence
// of series master e originally starting at orig: "OID.<masterId>.<local date>".
func (e *Event) CancelledOccurrenceID(orig time.Time) string {
	d := orig.In(e.RecurrenceZone())
	if e.IsAllDay {
		d = orig.UTC()
	}
	return "OID." + e.ID + "." + d.Format(time.DateOnly)
}
