package ews

import (
	"encoding/json"
	"encoding/xml"
	"testing"

	"github.com/bascule-migrate/bascule/transform/ical"
	"github.com/bascule-migrate/bascule/transform/vcard"
)

// FuzzGraphJSON feeds arbitrary XML to the EWS → Graph JSON conversions: none may panic,
// and whatever they accept must be JSON the transforms read without panicking.
func FuzzGraphJSON(f *testing.F) {
	f.Add(masterXML)
	f.Add(exceptionXML)
	f.Add(contactXML)
	f.Add(taskXML)
	f.Add(`<CalendarItem><ItemId Id="x"/><Start>2026-03-13T23:00:00Z</Start><End>2026-03-14T23:00:00Z</End><IsAllDayEvent>true</IsAllDayEvent><CalendarItemType>RecurringMaster</CalendarItemType><Recurrence><RelativeYearlyRecurrence><DaysOfWeek>Weekday</DaysOfWeek><DayOfWeekIndex>Last</DayOfWeekIndex><Month>February</Month></RelativeYearlyRecurrence><EndDateRecurrence><StartDate>2026-02-01</StartDate><EndDate>2030-01-01Z</EndDate></EndDateRecurrence></Recurrence><DeletedOccurrences><DeletedOccurrence><Start>2027-02-26T23:00:00Z</Start></DeletedOccurrence></DeletedOccurrences></CalendarItem>`)
	f.Add(`<Rule><RuleId>r</RuleId><Conditions><FromAddresses><Address><EmailAddress>a@b</EmailAddress></Address></FromAddresses><WithinSizeRange><MinimumSize>99999999999</MinimumSize></WithinSizeRange><FlaggedForAction>Any</FlaggedForAction></Conditions><Actions><MoveToFolder><DistinguishedFolderId Id="inbox"/></MoveToFolder><Foo><Bar>1</Bar></Foo></Actions></Rule>`)
	f.Add(`<OofSettings><OofState>Scheduled</OofState><ExternalAudience>All</ExternalAudience><Duration><StartTime>x</StartTime></Duration></OofSettings>`)
	f.Fuzz(func(t *testing.T, s string) {
		b := []byte(s)
		var it gwCalendarItem
		if xml.Unmarshal(b, &it) == nil {
			x := it
			atts := it.Attachments.Files
			if payload, err := gwEvent(&it, []*gwCalendarItem{&x}, atts); err == nil {
				if !json.Valid(payload) {
					t.Fatalf("invalid JSON: %s", payload)
				}
				_, _ = ical.Event(payload, ical.Options{})
			}
		}
		var c gwContact
		if xml.Unmarshal(b, &c) == nil {
			if payload, err := gwContactJSON(&c); err == nil {
				_, _ = vcard.Contact(payload, nil, vcard.Options{})
			}
		}
		var k gwTask
		if xml.Unmarshal(b, &k) == nil {
			if payload, _, err := gwTaskJSON(&k); err == nil {
				_, _ = ical.Task(payload, ical.Options{})
			}
		}
		var r gwRule
		if xml.Unmarshal(b, &r) == nil {
			if m, err := gwRuleModel(r, func(string) string { return "" }); err == nil && !json.Valid(m.Payload) {
				t.Fatalf("invalid rule JSON: %s", m.Payload)
			}
		}
		var o gwOofSettings
		if xml.Unmarshal(b, &o) == nil {
			_, _ = autoReply(&o)
		}
	})
}
