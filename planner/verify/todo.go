package verify

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-ical"
)

// fieldDiff is one property of a task that differs.
type fieldDiff struct {
	field, want, got string
}

func (f fieldDiff) detail() string {
	switch {
	case f.got == "":
		return fmt.Sprintf("%s %q is not on the target", f.field, f.want)
	case f.want == "":
		return fmt.Sprintf("%s cannot be read on the target", f.field)
	}
	return fmt.Sprintf("%s is %q on the target, %q was written", f.field, f.got, f.want)
}

// Properties a server may rewrite on its own: not compared.
var todoSkip = map[string]bool{
	ical.PropDateTimeStamp: true, ical.PropLastModified: true, ical.PropCreated: true,
	ical.PropSequence: true, ical.PropProductID: true,
}

// compareTodo compares every property of the VTODO migrate wrote (want) with the VTODO the
// target holds (got), value by value after normalisation (dates to UTC instants, text
// unescaped, RRULE parts sorted), so that a server's re-serialisation (Radicale) is no
// difference. Properties the server added are not reported.
func compareTodo(want, got []byte) []fieldDiff {
	wc, err := decodeCal(want)
	if err != nil {
		return []fieldDiff{{field: "VTODO", want: "the written task", got: ""}}
	}
	gc, err := decodeCal(got)
	if err != nil {
		return []fieldDiff{{field: "VTODO", want: "", got: err.Error()}}
	}
	w, g := firstComp(wc, ical.CompToDo), firstComp(gc, ical.CompToDo)
	if w == nil {
		return nil
	}
	if g == nil {
		return []fieldDiff{{field: "VTODO", want: "a task"}}
	}
	var names []string
	for n := range w.Props {
		if !todoSkip[n] {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var out []fieldDiff
	for _, n := range names {
		wv, gv := normProps(w.Props.Values(n)), normProps(g.Props.Values(n))
		if wv != gv {
			out = append(out, fieldDiff{field: n, want: wv, got: gv})
		}
	}
	return out
}

func decodeCal(data []byte) (cal *ical.Calendar, err error) {
	defer func() {
		if r := recover(); r != nil {
			cal, err = nil, fmt.Errorf("malformed iCalendar (%v)", r)
		}
	}()
	return ical.NewDecoder(bytes.NewReader(data)).Decode()
}

func firstComp(cal *ical.Calendar, name string) *ical.Component {
	for _, c := range cal.Children {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// normProps is the values of one property, normalised and sorted, joined by " | ".
func normProps(ps []ical.Prop) string {
	var vs []string
	for _, p := range ps {
		vs = append(vs, normProp(p))
	}
	if len(ps) > 0 && listProps[ps[0].Name] {
		// One property with a comma list or several properties (Cyrus splits them): the
		// same set of values.
		var all []string
		for _, v := range vs {
			all = append(all, strings.Split(v, ",")...)
		}
		sort.Strings(all)
		return strings.Join(all, ",")
	}
	sort.Strings(vs)
	return strings.Join(vs, " | ")
}

// listProps are the properties whose values form one list however they are split.
var listProps = map[string]bool{ical.PropCategories: true, ical.PropResources: true,
	ical.PropExceptionDates: true, ical.PropRecurrenceDates: true}

func normProp(p ical.Prop) string {
	switch p.Name {
	case ical.PropDateTimeStart, ical.PropDue, ical.PropCompleted, ical.PropRecurrenceID,
		ical.PropExceptionDates, ical.PropRecurrenceDates:
		var out []string
		for _, v := range strings.Split(p.Value, ",") {
			q := p
			q.Value = strings.TrimSpace(v)
			if len(q.Value) == 8 {
				q.Params = ical.Params{}
				q.SetValueType(ical.ValueDate)
				if t, err := q.DateTime(time.UTC); err == nil {
					out = append(out, t.Format("2006-01-02"))
					continue
				}
			}
			if t, err := q.DateTime(time.UTC); err == nil {
				out = append(out, t.UTC().Format(time.RFC3339))
			} else {
				out = append(out, q.Value)
			}
		}
		return strings.Join(out, ",")
	case ical.PropRecurrenceRule:
		parts := strings.Split(strings.ToUpper(p.Value), ";")
		sort.Strings(parts)
		return strings.Join(parts, ";")
	case ical.PropSummary, ical.PropDescription, ical.PropLocation, ical.PropComment:
		if t, err := p.Text(); err == nil {
			return strings.ReplaceAll(t, "\r\n", "\n")
		}
	case ical.PropCategories, ical.PropResources:
		var cs []string
		for _, c := range strings.Split(p.Value, ",") {
			cs = append(cs, strings.TrimSpace(c))
		}
		sort.Strings(cs)
		return strings.Join(cs, ",")
	}
	return strings.TrimSpace(p.Value)
}
