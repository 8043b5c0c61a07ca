package ical

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

var icalDay = map[string]string{"sunday": "SU", "monday": "MO", "tuesday": "TU", "wednesday": "WE",
	"thursday": "TH", "friday": "FR", "saturday": "SA"}

var weekIndex = map[string]int{"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}

// recurrence is a Graph patternedRecurrence turned into an RRULE.
type recurrence struct {
	rule      string    // the RRULE value without UNTIL/COUNT
	startDate time.Time // range.startDate (midnight UTC), zero if absent
	endDate   time.Time // range endDate (midnight UTC) for an endDate range
	count     int       // numberOfOccurrences for a numbered range
	noEnd     bool      // a noEnd range
	zoneID    string    // range.recurrenceTimeZone
}

// parseRecurrence maps every pattern and range type of Graph's patternedRecurrence
// (learn.microsoft.com/graph/api/resources/patternedrecurrence). A dayOfMonth past a month's
// end falls on the month's last day, as Outlook schedules "day 31": BYMONTHDAY=28..d with
// BYSETPOS=-1 says the same in RFC 5545.
func parseRecurrence(r models.PatternedRecurrenceable) (*recurrence, error) {
	p := r.GetPattern()
	if p == nil || p.GetTypeEscaped() == nil {
		return nil, fmt.Errorf("recurrence without a pattern type")
	}
	var parts []string
	interval := 1
	if v := p.GetInterval(); v != nil && *v > 1 {
		interval = int(*v)
	}
	var days []string
	for _, d := range p.GetDaysOfWeek() {
		days = append(days, icalDay[d.String()])
	}
	index := 1
	if ix := p.GetIndex(); ix != nil {
		v, ok := weekIndex[ix.String()]
		if !ok {
			return nil, fmt.Errorf("recurrence index %q", ix.String())
		}
		index = v
	}
	dayOfMonth := func() (string, error) {
		v := p.GetDayOfMonth()
		if v == nil || *v < 1 || *v > 31 {
			return "", fmt.Errorf("recurrence dayOfMonth %v", ptrInt(v))
		}
		d := int(*v)
		if d <= 28 {
			return "BYMONTHDAY=" + strconv.Itoa(d), nil
		}
		var ds []string
		for i := 28; i <= d; i++ {
			ds = append(ds, strconv.Itoa(i))
		}
		return "BYMONTHDAY=" + strings.Join(ds, ",") + ";BYSETPOS=-1", nil
	}
	relative := func() (string, error) {
		if len(days) == 0 {
			return "", fmt.Errorf("relative recurrence without daysOfWeek")
		}
		if len(days) == 1 {
			return "BYDAY=" + strconv.Itoa(index) + days[0], nil
		}
		return "BYDAY=" + strings.Join(days, ",") + ";BYSETPOS=" + strconv.Itoa(index), nil
	}
	month := func() (string, error) {
		v := p.GetMonth()
		if v == nil || *v < 1 || *v > 12 {
			return "", fmt.Errorf("recurrence month %v", ptrInt(v))
		}
		return "BYMONTH=" + strconv.Itoa(int(*v)), nil
	}
	wkst := "SU" // Graph's default firstDayOfWeek
	if f := p.GetFirstDayOfWeek(); f != nil {
		wkst = icalDay[f.String()]
	}
	typ := p.GetTypeEscaped().String()
	switch typ {
	case "daily":
		parts = append(parts, "FREQ=DAILY")
	case "weekly":
		if len(days) == 0 {
			return nil, fmt.Errorf("weekly recurrence without daysOfWeek")
		}
		parts = append(parts, "FREQ=WEEKLY", "BYDAY="+strings.Join(days, ","))
	case "absoluteMonthly":
		s, err := dayOfMonth()
		if err != nil {
			return nil, err
		}
		parts = append(parts, "FREQ=MONTHLY", s)
	case "relativeMonthly":
		s, err := relative()
		if err != nil {
			return nil, err
		}
		parts = append(parts, "FREQ=MONTHLY", s)
	case "absoluteYearly", "relativeYearly":
		m, err := month()
		if err != nil {
			return nil, err
		}
		s := dayOfMonth
		if typ == "relativeYearly" {
			s = relative
		}
		v, err := s()
		if err != nil {
			return nil, err
		}
		parts = append(parts, "FREQ=YEARLY", m, v)
	default:
		return nil, fmt.Errorf("recurrence pattern %q", typ)
	}
	if interval > 1 {
		parts = append(parts, "INTERVAL="+strconv.Itoa(interval))
	}
	// WKST changes weekly rules with an interval; Outlook counts weeks from firstDayOfWeek.
	parts = append(parts, "WKST="+wkst)
	rec := &recurrence{rule: strings.Join(parts, ";")}

	rg := r.GetRangeEscaped()
	if rg == nil || rg.GetTypeEscaped() == nil {
		rec.noEnd = true
		return rec, nil
	}
	rec.zoneID = str(rg.GetRecurrenceTimeZone())
	if sd := rg.GetStartDate(); sd != nil {
		if d, err := time.Parse(time.DateOnly, sd.String()); err == nil {
			rec.startDate, _ = inRange(d)
		}
	}
	switch rg.GetTypeEscaped().String() {
	case "endDate":
		ed := rg.GetEndDate()
		if ed == nil {
			return nil, fmt.Errorf("endDate range without endDate")
		}
		d, err := time.Parse(time.DateOnly, ed.String())
		if err != nil {
			return nil, fmt.Errorf("range endDate %q", ed.String())
		}
		if rec.endDate, _ = inRange(d); rec.endDate.IsZero() {
			return nil, fmt.Errorf("range endDate %q out of range", ed.String())
		}
	case "numbered":
		n := rg.GetNumberOfOccurrences()
		if n == nil || *n < 1 {
			return nil, fmt.Errorf("numbered range with %v occurrences", ptrInt(n))
		}
		rec.count = int(min(*n, maxOccurrences))
	default:
		rec.noEnd = true
	}
	return rec, nil
}

func ptrInt(v *int32) any {
	if v == nil {
		return "none"
	}
	return *v
}
