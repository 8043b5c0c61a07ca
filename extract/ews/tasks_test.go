package ews

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/bascule-migrate/bascule/transform/ical"
)

func TestTask(t *testing.T) {
	var k gwTask
	err := xml.Unmarshal([]byte(`<t:Task xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
 <t:ItemId Id="AAMkTask=" ChangeKey="EwAAAB"/><t:Subject>Envoyer le rapport</t:Subject>
 <t:Body BodyType="Text">Version finale</t:Body><t:Importance>High</t:Importance>
 <t:ReminderIsSet>true</t:ReminderIsSet><t:ReminderDueBy>2026-02-02T08:00:00Z</t:ReminderDueBy>
 <t:DueDate>2026-02-02T23:00:00Z</t:DueDate><t:StartDate>2026-01-25T23:00:00Z</t:StartDate>
 <t:Status>Completed</t:Status><t:CompleteDate>2026-02-01T10:30:00Z</t:CompleteDate>
 <t:Recurrence><t:WeeklyRecurrence><t:Interval>2</t:Interval><t:DaysOfWeek>Tuesday</t:DaysOfWeek></t:WeeklyRecurrence><t:NoEndRecurrence><t:StartDate>2026-02-03</t:StartDate></t:NoEndRecurrence></t:Recurrence>
</t:Task>`), &k)
	if err != nil {
		t.Fatal(err)
	}
	payload, warn, err := gwTaskJSON(&k)
	if err != nil || warn != "" {
		t.Fatal(err, warn)
	}
	for _, want := range []string{`"status":"completed"`, `"importance":"high"`, `"checklistItems":[]`,
		`"dueDateTime":{"dateTime":"2026-02-03T00:00:00.0000000","timeZone":"UTC"}`,
		`"completedDateTime":{"dateTime":"2026-02-01T10:30:00.0000000","timeZone":"UTC"}`} {
		if !strings.Contains(string(payload), want) {
			t.Errorf("payload lacks %s:\n%s", want, payload)
		}
	}
	res, err := ical.Task(payload, ical.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := string(res.Data)
	for _, want := range []string{"VTODO", "SUMMARY:Envoyer le rapport", "STATUS:COMPLETED", "DUE;VALUE=DATE:20260203", "RRULE:FREQ=WEEKLY"} {
		if !strings.Contains(out, want) {
			t.Errorf("VTODO lacks %q:\n%s", want, out)
		}
	}

	// A regeneration recurrence is said, not carried.
	k.Recurrence = &gwRecurrence{DailyRegen: &gwPattern{Interval: "3"}}
	if _, warn, err = gwTaskJSON(&k); err != nil || !strings.Contains(warn, "regeneration") {
		t.Errorf("regeneration: %v %q", err, warn)
	}
}
