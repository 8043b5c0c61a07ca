package tz

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"
)

// transition is one change of a zone's offset, abbreviation or DST flag.
type transition struct {
	at       time.Time // the instant, UTC
	from, to int       // UTC offsets in seconds before and after
	name     string    // abbreviation after
	dst      bool      // daylight saving time after
}

// local is the wall-clock time at which the transition happens, in the offset before it
// (what an observance's DTSTART, RDATE and RRULE express).
func (t transition) local() time.Time {
	return t.at.Add(time.Duration(t.from) * time.Second).UTC()
}

type signature struct {
	from, to int
	name     string
	dst      bool
}

func (t transition) sig() signature { return signature{t.from, t.to, t.name, t.dst} }

const maxTransitions = 20000

// zoneTransitions lists the transitions of loc from the one that starts the period holding
// from up to until (inclusive). first is false when that period has no known start (it has
// been in force since the beginning of the database); then initial describes it.
func zoneTransitions(loc *time.Location, from, until time.Time) (list []transition, initial transition, hasStart bool) {
	t := from.In(loc)
	name, off := t.Zone()
	start, end := t.ZoneBounds()
	cur := transition{at: start, to: off, name: name, dst: t.IsDST()}
	if start.IsZero() {
		cur.from = off
		initial = cur
	} else {
		_, cur.from = start.Add(-time.Nanosecond).In(loc).Zone()
		list = append(list, cur)
		hasStart = true
	}
	prev := cur
	at := from
	for n := 0; n < maxTransitions; n++ {
		at = nextBound(loc, at, end)
		if at.IsZero() || at.After(until) {
			break
		}
		tt := at.In(loc)
		name, off := tt.Zone()
		next := transition{at: at.UTC(), from: prev.to, to: off, name: name, dst: tt.IsDST()}
		if next.from != next.to || next.name != prev.name || next.dst != prev.dst {
			list = append(list, next)
			prev = next
		}
		_, end = tt.ZoneBounds()
	}
	return list, initial, hasStart
}

// nextBound returns the next instant after at where loc's zone may change, given end, what
// ZoneBounds said for at; zero when the zone never changes again. ZoneBounds can answer an
// end that is not after at for periods of a rule-based zone that cross a year end (Go 1.26
// with the TZ-string extension); then the answer is found by probing an hour later.
func nextBound(loc *time.Location, at, end time.Time) time.Time {
	if end.IsZero() || end.After(at) {
		return end
	}
	probe := at.Add(time.Hour)
	if zoneState(loc, probe) == zoneState(loc, at) {
		return probe // an artificial boundary: the caller sees nothing changed
	}
	lo, hi := at, probe // the change is in (lo, hi]
	for hi.Sub(lo) > time.Second {
		mid := lo.Add(hi.Sub(lo) / 2)
		if zoneState(loc, mid) == zoneState(loc, at) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi.Truncate(time.Second)
}

type state struct {
	name string
	off  int
	dst  bool
}

func zoneState(loc *time.Location, at time.Time) state {
	t := at.In(loc)
	name, off := t.Zone()
	return state{name, off, t.IsDST()}
}

// rule is a yearly recurrence that a run of transitions follows: the same month, wall-clock
// time and signature each year, on a day that one of the candidate rules picks.
type rule struct {
	month   time.Month
	clock   time.Duration // wall-clock time of day
	weekday time.Weekday
	byDay   bool   // the day follows the weekday (then last / windows)
	last    bool   // "last <weekday> of the month" holds for every year so far
	windows uint32 // bit s: "<weekday> among days s..s+6" holds for every year so far
	fixed   int    // the same day of the month every year, or 0
}

func minDaysIn(m time.Month) int {
	if m == time.February {
		return 28
	}
	return time.Date(2001, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func ruleOf(l time.Time) rule {
	d := l.Day()
	r := rule{
		month:   l.Month(),
		clock:   l.Sub(time.Date(l.Year(), l.Month(), d, 0, 0, 0, 0, time.UTC)),
		weekday: l.Weekday(),
		byDay:   true,
		last:    d+7 > time.Date(l.Year(), l.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day(),
		fixed:   d,
	}
	for s := max(1, d-6); s <= d; s++ {
		if s+6 <= minDaysIn(l.Month()) {
			r.windows |= 1 << s
		}
	}
	return r
}

// merge intersects the candidates of two rules; ok is false when nothing is left.
func (r rule) merge(o rule) (rule, bool) {
	if r.month != o.month || r.clock != o.clock {
		return r, false
	}
	if r.fixed != o.fixed {
		r.fixed = 0
	}
	if !r.byDay || !o.byDay || r.weekday != o.weekday {
		r.byDay, r.last, r.windows = false, false, 0
	} else {
		r.last = r.last && o.last
		r.windows &= o.windows
	}
	if !r.last && r.windows == 0 {
		r.byDay = false
	}
	return r, r.byDay || r.fixed != 0
}

var icalDays = [...]string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}

// rrule renders the rule; until is zero for an open-ended rule.
func (r rule) rrule(until time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "FREQ=YEARLY;BYMONTH=%d", int(r.month))
	day := icalDays[r.weekday]
	switch {
	case r.byDay && r.last:
		fmt.Fprintf(&b, ";BYDAY=-1%s", day)
	case r.byDay:
		s := 0
		for _, c := range []int{1, 8, 15, 22} { // an ordinal weekday when one fits
			if r.windows&(1<<c) != 0 {
				s = c
				break
			}
		}
		if s != 0 {
			fmt.Fprintf(&b, ";BYDAY=%d%s", (s+6)/7, day)
			break
		}
		for s = 1; r.windows&(1<<s) == 0; s++ {
		}
		days := make([]string, 7)
		for i := range days {
			days[i] = strconv.Itoa(s + i)
		}
		fmt.Fprintf(&b, ";BYMONTHDAY=%s;BYDAY=%s", strings.Join(days, ","), day)
	default:
		fmt.Fprintf(&b, ";BYMONTHDAY=%d", r.fixed)
	}
	if !until.IsZero() {
		b.WriteString(";UNTIL=" + until.UTC().Format("20060102T150405Z"))
	}
	return b.String()
}

type run struct {
	items []transition
	rule  rule
}

// runs splits the transitions of one signature into runs of consecutive years that follow
// one yearly rule.
func runs(list []transition) []run {
	var out []run
	for _, t := range list {
		r := ruleOf(t.local())
		if n := len(out); n > 0 {
			cur := &out[n-1]
			last := cur.items[len(cur.items)-1].local()
			if last.Year()+1 == t.local().Year() {
				if m, ok := cur.rule.merge(r); ok {
					cur.rule = m
					cur.items = append(cur.items, t)
					continue
				}
			}
		}
		out = append(out, run{items: []transition{t}, rule: r})
	}
	return out
}

// horizon is how far past the requested range the zone is examined to tell whether its
// last yearly rules go on for good (then they are written without UNTIL).
const horizon = 30

// VTimezone builds the VTIMEZONE of loc that gives every instant from from to to the same
// UTC offset as Go's time zone database. Yearly rules become RRULE observances (the zone's
// current rule open-ended when it holds, unchanged, for decades past to); other
// transitions become observances with RDATEs. The TZID is loc's name. It returns nil for a
// nil loc.
func VTimezone(loc *time.Location, from, to time.Time) *ical.Component {
	if loc == nil {
		return nil
	}
	if to.Before(from) {
		from, to = to, from
	}
	far := to.AddDate(horizon, 0, 0)
	all, initial, hasStart := zoneTransitions(loc, from, far)

	vtz := ical.NewComponent(ical.CompTimezone)
	vtz.Props.SetText(ical.PropTimezoneID, loc.String())
	if !hasStart {
		vtz.Children = append(vtz.Children, observance(initial, "16010101T000000", nil, ""))
	}

	// Which transitions past "to" exist decides whether the final runs are open-ended.
	bySig := map[signature][]transition{}
	var sigs []signature
	for _, t := range all {
		s := t.sig()
		if _, ok := bySig[s]; !ok {
			sigs = append(sigs, s)
		}
		bySig[s] = append(bySig[s], t)
	}
	type emitted struct {
		r    run
		open bool
	}
	var rs []emitted
	openOK := true
	for _, s := range sigs {
		for _, r := range runs(bySig[s]) {
			lastAt := r.items[len(r.items)-1].at
			reachesEnd := far.Sub(lastAt) < 2*366*24*time.Hour
			if r.items[len(r.items)-1].at.After(to) && (!reachesEnd || r.items[0].at.After(to) || len(r.items) < 2) {
				openOK = false // the zone changes after "to" in a way a yearly rule does not tell
			}
			rs = append(rs, emitted{r: r, open: reachesEnd && len(r.items) >= 2})
		}
	}
	singles := map[signature][]transition{}
	for _, e := range rs {
		var in []transition
		for _, t := range e.r.items {
			if !t.at.After(to) {
				in = append(in, t)
			}
		}
		if len(in) == 0 {
			continue
		}
		open := e.open && openOK
		if len(in) == 1 && !open {
			singles[in[0].sig()] = append(singles[in[0].sig()], in[0])
			continue
		}
		until := time.Time{}
		if !open {
			until = in[len(in)-1].at
		}
		vtz.Children = append(vtz.Children, observance(in[0], in[0].local().Format("20060102T150405"), nil, e.r.rule.rrule(until)))
	}
	for _, s := range sigs {
		ts := singles[s]
		if len(ts) == 0 {
			continue
		}
		var rdates []string
		for _, t := range ts[1:] {
			rdates = append(rdates, t.local().Format("20060102T150405"))
		}
		vtz.Children = append(vtz.Children, observance(ts[0], ts[0].local().Format("20060102T150405"), rdates, ""))
	}
	sort.SliceStable(vtz.Children, func(i, j int) bool {
		return vtz.Children[i].Props.Get(ical.PropDateTimeStart).Value < vtz.Children[j].Props.Get(ical.PropDateTimeStart).Value
	})
	return vtz
}

func observance(t transition, dtstart string, rdates []string, rrule string) *ical.Component {
	name := ical.CompTimezoneStandard
	if t.dst {
		name = ical.CompTimezoneDaylight
	}
	c := ical.NewComponent(name)
	p := ical.NewProp(ical.PropDateTimeStart)
	p.Value = dtstart
	c.Props.Set(p)
	setRaw(c, ical.PropTimezoneOffsetFrom, offset(t.from))
	setRaw(c, ical.PropTimezoneOffsetTo, offset(t.to))
	if t.name != "" {
		c.Props.SetText(ical.PropTimezoneName, t.name)
	}
	for _, r := range rdates {
		p := ical.NewProp(ical.PropRecurrenceDates)
		p.Value = r
		c.Props.Add(p)
	}
	if rrule != "" {
		p := ical.NewProp(ical.PropRecurrenceRule)
		p.Value = rrule
		c.Props.Set(p)
	}
	return c
}

func setRaw(c *ical.Component, name, value string) {
	p := ical.NewProp(name)
	p.Value = value
	c.Props.Set(p)
}

// offset renders a UTC offset as iCalendar's UTC-OFFSET: ±hhmm, with seconds when needed.
func offset(sec int) string {
	sign := "+"
	if sec < 0 {
		sign, sec = "-", -sec
	}
	s := fmt.Sprintf("%s%02d%02d", sign, sec/3600, sec/60%60)
	if sec%60 != 0 {
		s += fmt.Sprintf("%02d", sec%60)
	}
	return s
}
