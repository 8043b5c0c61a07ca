// Package ical turns Graph calendar events and Microsoft To Do tasks into iCalendar
// (RFC 5545) with go-ical: one VCALENDAR per item, without METHOD, ready for a CalDAV PUT.
// The Graph JSON is read with msgraph-sdk-go's models through kiota's JSON parse node.
//
// Events. A series master becomes a VEVENT with an RRULE (every patternedRecurrence pattern
// and range); its exceptions become overrides with RECURRENCE-ID in the same resource, its
// cancelled occurrences EXDATEs. Timed events are written as TZID=<IANA> local times with a
// VTIMEZONE per zone used (transform/tz: CLDR mapping, offsets from Go's tzdata); all-day
// events as DATE values (DTEND exclusive), so they stay on their dates in every zone. Choices
// worth knowing:
//   - Occurrences keep their local start time in the series' zone (range.recurrenceTimeZone,
//     else originalStartTimeZone). DTSTART is the first day the pattern picks from
//     range.startDate on: RFC 5545 counts DTSTART as an instance even when the rule does not.
//   - An absolute dayOfMonth past a month's end falls on the month's last day, as Outlook
//     schedules it (BYMONTHDAY=28..d;BYSETPOS=-1); an endDate includes its day (UNTIL is
//     23:59:59 of that local date, in UTC).
//   - tzone://Microsoft/Custom and unknown ids fall back to Options.MailboxTimeZone, else UTC,
//     with a warning.
//   - An exception whose original start the rule does not produce is kept valid with an RDATE
//     (and a warning); one also listed as cancelled is dropped.
//   - ORGANIZER and ATTENDEE carry SCHEDULE-AGENT=CLIENT (RFC 6638): a scheduling server
//     (Cyrus) must not send invitations for a migrated event.
//   - The online meeting join URL goes in CONFERENCE (RFC 7986, with LABEL for Teams/Skype)
//     and in URL, which more clients show.
//   - An HTML body becomes text in DESCRIPTION and stays whole in X-ALT-DESC;FMTTYPE=text/html.
//   - showAs → TRANSP and X-MICROSOFT-CDO-BUSYSTATUS; sensitivity personal and private both
//     → CLASS:PRIVATE; importance → PRIORITY 1/5/9.
//   - File attachments up to Options.MaxInline are inlined (ATTACH;ENCODING=BASE64 with
//     FMTTYPE and RFC 8607 FILENAME); larger ones, item and reference attachments are named in
//     Result.Warnings.
//   - DTSTAMP is lastModifiedDateTime, so the output is a pure function of the payload.
//
// Tasks. A todoTask becomes a VTODO with a UID derived from its id (tasks have no
// iCalUId). Due and start dates are the date part of their dateTime. waitingOnOthers and
// deferred become NEEDS-ACTION plus X-MICROSOFT-TODO-STATUS. A recurring task gets DTSTART
// (its start, else due date) because a VTODO's RRULE counts from it. Checklist items are
// written as "[x] item" / "[ ] item" lines at the end of DESCRIPTION rather than as related
// VTODOs: the task stays one resource (one PUT, one href, one ETag in the state, written or
// not as a whole), every client shows a description while few show RELATED-TO subtasks, and
// a checklist item has no dates, status or recurrence of its own that a VTODO would carry.
package ical
