// Package expand lists the occurrences of the events of an iCalendar object within a window:
// each recurring series expanded by its RRULE and RDATEs (with teambition/rrule-go, the
// library go-ical uses), minus its EXDATEs, with its overrides (RECURRENCE-ID) in place of the
// instances they replace. It is how `bascule verify` compares calendars occurrence by
// occurrence, the same way on both sides: what the source gives (through transform/ical) and
// what the CalDAV server holds.
package expand

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"
)

// Occurrence is one instance of one event.
type Occurrence struct {
	// UID is the event's UID.
	UID string
	// RecurrenceID identifies the instance within its series: its original start, in UTC
	// RFC 3339, or YYYY-MM-DD for an all-day series; "" for a single (non-recurring) event.
	RecurrenceID string
	// Start and End in the same form (End is Start when the event has no end).
	Start, End string
	AllDay     bool
	Summary    string
	Location   string
	// Attendees are the attendees' addresses, lower case, without "mailto:", sorted and
	// joined by ",".
	Attendees string
	// Cancelled is set for an instance (or single event) with STATUS:CANCELLED. Instances
	// removed by EXDATE are not listed at all.
	Cancelled bool
	// Override is set when the instance comes from a RECURRENCE-ID component.
	Override bool
}

// Key is UID and RecurrenceID: what identifies an occurrence on both sides.
func (o Occurrence) Key() string { return o.UID + "\x00" + o.RecurrenceID }

// maxPerSeries bounds the instances listed for one series (a minutely rule over four years
// would otherwise produce millions).
const maxPerSeries = 100000

// Parse decodes data (one iCalendar object, as stored in a CalDAV resource) and expands it.
func Parse(data []byte, from, to time.Time) (occs []Occurrence, err error) {
	cal, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("iCalendar does not parse: %w", err)
	}
	return Calendar(cal, from, to)
}

// decode is go-ical's decoder, whose panics on some malformed input (an index out of range
// in its parameter reader) become errors: what a server returns is outside input.
func decode(data []byte) (cal *ical.Calendar, err error) {
	defer func() {
		if r := recover(); r != nil {
			cal, err = nil, fmt.Errorf("malformed iCalendar (%v)", r)
		}
	}()
	return ical.NewDecoder(bytes.NewReader(data)).Decode()
}

// Calendar lists the occurrences of every VEVENT of cal whose start lies in [from, to), sorted
// by UID and RecurrenceID. Times without a zone are read in UTC. An override is listed when its
// own start or its RECURRENCE-ID lies in the window.
func Calendar(cal *ical.Calendar, from, to time.Time) (out []Occurrence, err error) {
	defer func() {
		// rrule-go panics on some invalid rules; a bad object is an error, never a crash.
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("malformed recurrence (%v)", r)
		}
	}()
	type series struct {
		master    *ical.Component
		overrides []*ical.Component
	}
	byUID := map[string]*series{}
	var order []string
	for _, c := range cal.Children {
		if c.Name != ical.CompEvent {
			continue
		}
		uid, _ := c.Props.Text(ical.PropUID)
		s := byUID[uid]
		if s == nil {
			s = &series{}
			byUID[uid] = s
			order = append(order, uid)
		}
		if c.Props.Get(ical.PropRecurrenceID) != nil {
			s.overrides = append(s.overrides, c)
		} else if s.master == nil {
			s.master = c
		} else {
			return nil, fmt.Errorf("UID %s: two events without RECURRENCE-ID", uid)
		}
	}
	in := func(t time.Time) bool { return !t.Before(from) && t.Before(to) }
	for _, uid := range order {
		s := byUID[uid]
		overrides := map[string]*ical.Component{}
		for _, ov := range s.overrides {
			rid, allDay, err := propTime(ov.Props.Get(ical.PropRecurrenceID))
			if err != nil {
				return nil, fmt.Errorf("UID %s: RECURRENCE-ID: %w", uid, err)
			}
			overrides[format(rid, allDay)] = ov
		}
		if s.master != nil {
			occs, err := series1(uid, s.master, overrides, from, to)
			if err != nil {
				return nil, err
			}
			out = append(out, occs...)
		}
		// Overrides the rule does not produce (or without a master): listed on their own.
		for rid, ov := range overrides {
			o, st, err := occurrence(uid, ov)
			if err != nil {
				return nil, err
			}
			ridT, _, _ := propTime(ov.Props.Get(ical.PropRecurrenceID))
			if !in(st) && !in(ridT) {
				continue
			}
			o.RecurrenceID, o.Override = rid, true
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].UID != out[j].UID {
			return out[i].UID < out[j].UID
		}
		return out[i].RecurrenceID < out[j].RecurrenceID
	})
	return out, nil
}

// series1 expands one master; overrides it consumes are deleted from the map.
func series1(uid string, m *ical.Component, overrides map[string]*ical.Component, from, to time.Time) ([]Occurrence, error) {
	base, start, err := occurrence(uid, m)
	if err != nil {
		return nil, err
	}
	ropt, err := m.Props.RecurrenceRule()
	if err != nil {
		return nil, fmt.Errorf("UID %s: RRULE: %w", uid, err)
	}
	rdates, err := propTimes(m.Props.Values(ical.PropRecurrenceDates))
	if err != nil {
		return nil, fmt.Errorf("UID %s: RDATE: %w", uid, err)
	}
	if ropt == nil && len(rdates) == 0 {
		if start.Before(from) || !start.Before(to) {
			return nil, nil
		}
		return []Occurrence{base}, nil
	}
	exdates, err := propTimes(m.Props.Values(ical.PropExceptionDates))
	if err != nil {
		return nil, fmt.Errorf("UID %s: EXDATE: %w", uid, err)
	}
	set := &rrule.Set{}
	set.DTStart(start)
	if ropt != nil {
		ropt.Dtstart = start
		rule, err := rrule.NewRRule(*ropt)
		if err != nil {
			return nil, fmt.Errorf("UID %s: RRULE: %w", uid, err)
		}
		set.RRule(rule)
	} else {
		set.RDate(start) // DTSTART is the first instance of an RDATE-only series
	}
	for _, t := range rdates {
		set.RDate(t)
	}
	for _, t := range exdates {
		set.ExDate(t)
	}
	dur := duration(base)
	var out []Occurrence
	// All-day instances are dates at midnight UTC; a day's margin keeps zoned ones too.
	it := set.Iterator()
	n := 0
	for {
		t, ok := it()
		if !ok || !t.Before(to) {
			break
		}
		if n++; n > maxPerSeries {
			return nil, fmt.Errorf("UID %s: more than %d instances in the window", uid, maxPerSeries)
		}
		rid := format(t, base.AllDay)
		if ov, ok := overrides[rid]; ok {
			delete(overrides, rid)
			o, st, err := occurrence(uid, ov)
			if err != nil {
				return nil, err
			}
			if (st.Before(from) || !st.Before(to)) && (t.Before(from)) {
				continue
			}
			o.RecurrenceID, o.Override = rid, true
			out = append(out, o)
			continue
		}
		if t.Before(from) {
			continue
		}
		o := base
		o.RecurrenceID = rid
		o.Start = format(t, base.AllDay)
		o.End = format(t.Add(dur), base.AllDay)
		out = append(out, o)
	}
	return out, nil
}

// duration is End − Start of an occurrence built by occurrence().
func duration(o Occurrence) time.Duration {
	s, err1 := parseFormatted(o.Start)
	e, err2 := parseFormatted(o.End)
	if err1 != nil || err2 != nil {
		return 0
	}
	return e.Sub(s)
}

func parseFormatted(s string) (time.Time, error) {
	if len(s) == 10 {
		return time.Parse("2006-01-02", s)
	}
	return time.Parse(time.RFC3339, s)
}

// occurrence reads one VEVENT's own start, end, summary and status.
func occurrence(uid string, c *ical.Component) (Occurrence, time.Time, error) {
	st, allDay, err := propTime(c.Props.Get(ical.PropDateTimeStart))
	if err != nil {
		return Occurrence{}, time.Time{}, fmt.Errorf("UID %s: DTSTART: %w", uid, err)
	}
	end := st
	if p := c.Props.Get(ical.PropDateTimeEnd); p != nil {
		if end, _, err = propTime(p); err != nil {
			return Occurrence{}, time.Time{}, fmt.Errorf("UID %s: DTEND: %w", uid, err)
		}
	} else if p := c.Props.Get(ical.PropDuration); p != nil {
		d, err := p.Duration()
		if err != nil {
			return Occurrence{}, time.Time{}, fmt.Errorf("UID %s: DURATION: %w", uid, err)
		}
		end = st.Add(d)
	} else if allDay {
		end = st.AddDate(0, 0, 1) // RFC 5545 §3.6.1: a DATE start without end lasts one day
	}
	sum, _ := c.Props.Text(ical.PropSummary)
	loc, _ := c.Props.Text(ical.PropLocation)
	status, _ := c.Props.Text(ical.PropStatus)
	var as []string
	for _, a := range c.Props.Values(ical.PropAttendee) {
		v := strings.ToLower(strings.TrimSpace(a.Value))
		as = append(as, strings.TrimPrefix(v, "mailto:"))
	}
	sort.Strings(as)
	return Occurrence{UID: uid, Start: format(st, allDay), End: format(end, allDay), AllDay: allDay,
		Summary: sum, Location: loc, Attendees: strings.Join(as, ","), Cancelled: strings.EqualFold(status, "CANCELLED")}, st, nil
}

// format is the form of times in an Occurrence.
func format(t time.Time, allDay bool) string {
	if allDay {
		return t.Format("2006-01-02")
	}
	return t.UTC().Format(time.RFC3339)
}

// propTime reads a DATE or DATE-TIME property (TZID honoured; floating = UTC). A DATE is
// midnight UTC of that day.
func propTime(p *ical.Prop) (time.Time, bool, error) {
	if p == nil {
		return time.Time{}, false, errors.New("missing")
	}
	ts, err := propTimes([]ical.Prop{*p})
	if err != nil {
		return time.Time{}, false, err
	}
	if len(ts) != 1 {
		return time.Time{}, false, fmt.Errorf("%d values", len(ts))
	}
	return ts[0], p.ValueType() == ical.ValueDate || len(strings.TrimSpace(p.Value)) == 8, nil
}

// propTimes reads every value of DATE / DATE-TIME list properties (EXDATE, RDATE may hold
// several, comma-separated).
func propTimes(ps []ical.Prop) ([]time.Time, error) {
	var out []time.Time
	for _, p := range ps {
		for _, v := range strings.Split(p.Value, ",") {
			v = strings.TrimSpace(v)
			if v == "" {
				continue
			}
			if p.ValueType() == ical.ValuePeriod {
				v, _, _ = strings.Cut(v, "/")
			}
			q := p
			q.Value = v
			q.Params = ical.Params{}
			for k, vs := range p.Params {
				q.Params[k] = vs
			}
			if len(v) == 8 {
				q.SetValueType(ical.ValueDate)
			} else if q.ValueType() == ical.ValuePeriod || q.ValueType() == ical.ValueDate {
				q.SetValueType(ical.ValueDateTime)
			}
			t, err := q.DateTime(time.UTC)
			if err != nil {
				return nil, err
			}
			if len(v) == 8 {
				t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
			}
			out = append(out, t)
		}
	}
	return out, nil
}
