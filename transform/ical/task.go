package ical

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bascule-migrate/bascule/transform"
	ics "github.com/emersion/go-ical"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

var taskStatus = map[string]string{"notStarted": "NEEDS-ACTION", "inProgress": "IN-PROCESS", "completed": "COMPLETED",
	"waitingOnOthers": "NEEDS-ACTION", "deferred": "NEEDS-ACTION"}

// Task converts a tasks record's payload (model.Record.Payload: a To Do todoTask with its
// checklistItems) into one VCALENDAR holding a VTODO.
func Task(payload []byte, opt Options) (Result, error) {
	v, err := parseJSON(payload, models.CreateTodoTaskFromDiscriminatorValue)
	if err != nil {
		return Result{}, err
	}
	t, ok := v.(models.TodoTaskable)
	if !ok {
		return Result{}, fmt.Errorf("not a To Do task")
	}
	id := str(t.GetId())
	if id == "" {
		return Result{}, fmt.Errorf("task without id")
	}
	b := newBuilder(opt)
	uid := deriveUID(id)
	c := ics.NewComponent(ics.CompToDo)
	textProp(c, ics.PropUID, uid)
	b.stamps(c, t.GetCreatedDateTime(), t.GetLastModifiedDateTime())
	title := str(t.GetTitle())
	textProp(c, ics.PropSummary, title)

	// The description: the body as text, then the checklist as "[x] item" lines.
	desc := ""
	var html string
	if body := t.GetBody(); body != nil && strings.TrimSpace(str(body.GetContent())) != "" {
		desc = str(body.GetContent())
		if ct := body.GetContentType(); ct != nil && ct.String() == "html" {
			html = desc
			desc = transform.HTMLText(desc)
		}
	}
	var lines []string
	for _, it := range t.GetChecklistItems() {
		if it == nil {
			continue
		}
		mark := "[ ] "
		if boolv(it.GetIsChecked()) {
			mark = "[x] "
		}
		lines = append(lines, mark+strings.ReplaceAll(cleanText(str(it.GetDisplayName())), "\n", " "))
	}
	if len(lines) > 0 {
		if strings.TrimSpace(desc) != "" {
			desc = strings.TrimRight(desc, "\n") + "\n\n"
		}
		desc += strings.Join(lines, "\n")
	}
	textProp(c, ics.PropDescription, desc)
	if h := cleanText(html); strings.TrimSpace(h) != "" {
		p := ics.NewProp("X-ALT-DESC")
		p.SetText(h)
		p.Params.Set(ics.ParamFormatType, "text/html")
		c.Props.Set(p)
	}

	// To Do's due and start are dates: the date part of dateTime, in its time zone.
	var due, start time.Time
	if d := t.GetDueDateTime(); d != nil {
		due, _ = graphDate(str(d.GetDateTime()))
	}
	if s := t.GetStartDateTime(); s != nil {
		start, _ = graphDate(str(s.GetDateTime()))
	}
	if !start.IsZero() && !due.IsZero() && start.After(due) {
		b.warnf("the task starts (%s) after it is due (%s): start not written", start.Format(time.DateOnly), due.Format(time.DateOnly))
		start = time.Time{}
	}
	if !due.IsZero() {
		c.Props.Set(dateProp(ics.PropDue, due))
	}

	status := ""
	if s := t.GetStatus(); s != nil {
		status = s.String()
	}
	if v, ok := taskStatus[status]; ok {
		rawProp(c, ics.PropStatus, v)
		if status == "waitingOnOthers" || status == "deferred" {
			rawProp(c, "X-MICROSOFT-TODO-STATUS", status)
		}
	}
	if cd := t.GetCompletedDateTime(); cd != nil {
		if at, ok := b.graphTime(str(cd.GetDateTime()), str(cd.GetTimeZone()), "the completion"); ok {
			c.Props.Set(utcProp(ics.PropCompleted, at))
		}
	}
	if status == "completed" {
		rawProp(c, ics.PropPercentComplete, "100")
	}
	if i := t.GetImportance(); i != nil {
		if v, ok := priority[i.String()]; ok {
			rawProp(c, ics.PropPriority, v)
		}
	}
	if boolv(t.GetIsReminderOn()) {
		if r := t.GetReminderDateTime(); r != nil {
			if at, ok := b.graphTime(str(r.GetDateTime()), str(r.GetTimeZone()), "the reminder"); ok {
				c.Children = append(c.Children, alarmAt(at, title))
			}
		}
	}
	if r := t.GetRecurrence(); r != nil {
		if err := b.taskRecurrence(c, r, &start, due); err != nil {
			b.warnf("recurrence not carried: %v", err)
		}
	}
	if !start.IsZero() {
		c.Props.Set(dateProp(ics.PropDateTimeStart, start))
	}
	b.categories(c, t.GetCategories())
	for _, a := range t.GetAttachments() {
		if a == nil {
			continue
		}
		name := cleanParam(str(a.GetName()))
		if fa, ok := a.(models.TaskFileAttachmentable); ok {
			b.attach(c, name, str(a.GetContentType()), fa.GetContentBytes(), a.GetSize())
		} else {
			b.warnf("attachment %q of an unknown kind not carried", name)
		}
	}
	return b.finish([]*ics.Component{c}, uid, time.Time{})
}

// taskRecurrence writes a task's RRULE. A VTODO's recurrence counts from DTSTART, so a
// recurring task gets DTSTART: its start date, else its due date (To Do anchors the series
// on the due date), else range.startDate. Dates, so UNTIL is a date.
func (b *builder) taskRecurrence(c *ics.Component, r models.PatternedRecurrenceable, start *time.Time, due time.Time) error {
	rec, err := parseRecurrence(r)
	if err != nil {
		return err
	}
	if start.IsZero() {
		*start = due
	}
	if start.IsZero() {
		*start = rec.startDate
	}
	if start.IsZero() {
		return fmt.Errorf("no start, due or range start date")
	}
	rule := rec.rule
	switch {
	case !rec.endDate.IsZero():
		rule += ";UNTIL=" + rec.endDate.Format(dateLayout)
	case rec.count > 0:
		rule += ";COUNT=" + strconv.Itoa(rec.count)
	}
	if _, err := ruleSet(rule, *start); err != nil {
		return fmt.Errorf("RRULE %s: %w", rule, err)
	}
	p := ics.NewProp(ics.PropRecurrenceRule)
	p.Value = rule
	c.Props.Set(p)
	return nil
}

func alarmAt(at time.Time, summary string) *ics.Component {
	a := alarm("", summary)
	p := ics.NewProp(ics.PropTrigger)
	p.Params.Set(ics.ParamValue, string(ics.ValueDateTime))
	p.Value = at.UTC().Format(utcLayout)
	a.Props.Set(p)
	return a
}
