package ews

// Calendar items: the tenant's events as EWS CalendarItem elements (types.xsd of Exchange
// 2016, element order of ItemType then CalendarItemType), their file attachments, and the
// item kinds the core's GetItem / SyncFolderItems dispatch asks for.
//
// Shapes and choices (what a parser of this emulator can rely on):
//   - Every calendar the mailbox owns is an IPF.Appointment folder (the default one is the
//     distinguished "calendar"); a calendar another user shares lives in that user's
//     mailbox and is not part of this one.
//   - Start, End, OriginalStart, RecurrenceId, DeletedOccurrence/Start and Occurrence times
//     are UTC ("2006-01-02T15:04:05Z"). An all-day event (and each occurrence of an
//     all-day series, original starts included) starts and ends at midnight in its
//     StartTimeZone (so "2026-11-10T23:00:00Z" for 11 November in Paris), as Exchange
//     stores it; IsAllDayEvent is true.
//   - StartTimeZone / EndTimeZone carry the Windows id (Id) and its display name (Name),
//     Exchange 2010 SP1+ shape, without Periods; an event whose zone the client defined
//     (Graph: "tzone://Microsoft/Custom") has Id="Customized Time Zone" with its Periods
//     (here a single UTC period). The recurrence is expanded in StartTimeZone (EWS has no
//     separate recurrence time zone).
//   - Recurrence StartDate / EndDate are plain dates ("2006-01-02"), in the series' zone.
//   - A series master lists its exceptions in ModifiedOccurrences (Occurrence: ItemId,
//     Start, End, OriginalStart) and its cancelled occurrences in DeletedOccurrences
//     (DeletedOccurrence: Start = the original start); GetItem of an Occurrence's ItemId
//     returns the whole exception (CalendarItemType Exception, UID of the master,
//     RecurrenceId and OriginalStart its original start).
//   - Attachments list FileAttachment without Content; GetAttachment returns Content.
//     AttachmentId Id is "<item id>.<attachment id>" (RootItemId the item).
//   - MyResponseType / ResponseType: Graph none → Unknown, organizer → Organizer,
//     tentativelyAccepted → Tentative, accepted → Accept, declined → Decline,
//     notResponded → NoResponseReceived.

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/sim/tenant"
)

// ---- shared XML pieces of groupware items ----

type gwID struct {
	ID        string `xml:"Id,attr"`
	ChangeKey string `xml:"ChangeKey,attr,omitempty"`
}

type gwBody struct {
	Type string `xml:"BodyType,attr"`
	Text string `xml:",chardata"`
}

type gwStrings struct {
	S []string `xml:"t:String"`
}

func gwStringList(s []string) *gwStrings {
	if len(s) == 0 {
		return nil
	}
	return &gwStrings{S: slices.Clone(s)}
}

type gwMailbox struct {
	Name        string `xml:"t:Name,omitempty"`
	Email       string `xml:"t:EmailAddress,omitempty"`
	RoutingType string `xml:"t:RoutingType,omitempty"`
	MailboxType string `xml:"t:MailboxType,omitempty"`
}

type gwRecipient struct {
	Mailbox gwMailbox `xml:"t:Mailbox"`
}

type gwAttachmentID struct {
	ID           string `xml:"Id,attr"`
	RootItemID   string `xml:"RootItemId,attr,omitempty"`
	RootItemCKey string `xml:"RootItemChangeKey,attr,omitempty"`
}

// gwFileAttachment is a t:FileAttachment (Content only in GetAttachment).
type gwFileAttachment struct {
	XMLName        xml.Name       `xml:"t:FileAttachment"`
	AttachmentID   gwAttachmentID `xml:"t:AttachmentId"`
	Name           string         `xml:"t:Name"`
	ContentType    string         `xml:"t:ContentType"`
	Size           int64          `xml:"t:Size"`
	LastModified   string         `xml:"t:LastModifiedTime,omitempty"`
	IsInline       bool           `xml:"t:IsInline"`
	IsContactPhoto *bool          `xml:"t:IsContactPhoto,omitempty"`
	Content        string         `xml:"t:Content,omitempty"`
}

type gwAttachments struct {
	Files []gwFileAttachment
}

// gwMailboxOf renders an address; MailboxType is Mailbox for a user of the tenant, else
// OneOff.
func gwMailboxOf(ten *tenant.Tenant, a tenant.Address) gwMailbox {
	m := gwMailbox{Name: a.Name, Email: a.Address, RoutingType: "SMTP", MailboxType: "OneOff"}
	if _, ok := ten.User(a.Address); ok {
		m.MailboxType = "Mailbox"
	}
	return m
}

func ewsTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

func title(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// attachmentID makes the EWS AttachmentId of attachment attID of item itemID.
func attachmentID(itemID, attID string) string { return itemID + "." + attID }

// splitAttachmentID reverses attachmentID.
func splitAttachmentID(id string) (itemID, attID string, ok bool) {
	return strings.Cut(id, ".")
}

// ---- calendar items ----

type gwAttendee struct {
	Mailbox          gwMailbox `xml:"t:Mailbox"`
	ResponseType     string    `xml:"t:ResponseType,omitempty"`
	LastResponseTime string    `xml:"t:LastResponseTime,omitempty"`
}

type gwAttendees struct {
	A []gwAttendee `xml:"t:Attendee"`
}

// Interval patterns put Interval first; the yearly ones have none.
type gwIntervalPattern struct {
	Interval       int    `xml:"t:Interval"`
	DaysOfWeek     string `xml:"t:DaysOfWeek,omitempty"`
	FirstDayOfWeek string `xml:"t:FirstDayOfWeek,omitempty"`
	DayOfWeekIndex string `xml:"t:DayOfWeekIndex,omitempty"`
	DayOfMonth     int    `xml:"t:DayOfMonth,omitempty"`
}

type gwRelativeYearly struct {
	DaysOfWeek     string `xml:"t:DaysOfWeek"`
	DayOfWeekIndex string `xml:"t:DayOfWeekIndex"`
	Month          string `xml:"t:Month"`
}

type gwAbsoluteYearly struct {
	DayOfMonth int    `xml:"t:DayOfMonth"`
	Month      string `xml:"t:Month"`
}

type gwRange struct {
	StartDate string `xml:"t:StartDate"`
	EndDate   string `xml:"t:EndDate,omitempty"`
	Number    int    `xml:"t:NumberOfOccurrences,omitempty"`
}

// gwRecurrence is t:Recurrence (calendar items) or t:Recurrence of a task (same patterns).
type gwRecurrence struct {
	RelativeYearly  *gwRelativeYearly  `xml:"t:RelativeYearlyRecurrence"`
	AbsoluteYearly  *gwAbsoluteYearly  `xml:"t:AbsoluteYearlyRecurrence"`
	RelativeMonthly *gwIntervalPattern `xml:"t:RelativeMonthlyRecurrence"`
	AbsoluteMonthly *gwIntervalPattern `xml:"t:AbsoluteMonthlyRecurrence"`
	Weekly          *gwIntervalPattern `xml:"t:WeeklyRecurrence"`
	Daily           *gwIntervalPattern `xml:"t:DailyRecurrence"`
	NoEnd           *gwRange           `xml:"t:NoEndRecurrence"`
	EndDate         *gwRange           `xml:"t:EndDateRecurrence"`
	Numbered        *gwRange           `xml:"t:NumberedRecurrence"`
}

type gwOccurrence struct {
	ItemID        gwID   `xml:"t:ItemId"`
	Start         string `xml:"t:Start"`
	End           string `xml:"t:End"`
	OriginalStart string `xml:"t:OriginalStart"`
}

type gwOccurrences struct {
	O []gwOccurrence `xml:"t:Occurrence"`
}

type gwDeletedOccurrence struct {
	Start string `xml:"t:Start"`
}

type gwDeletedOccurrences struct {
	D []gwDeletedOccurrence `xml:"t:DeletedOccurrence"`
}

type gwPeriod struct {
	Bias string `xml:"Bias,attr"`
	Name string `xml:"Name,attr"`
	ID   string `xml:"Id,attr"`
}

type gwTransitionTo struct {
	Kind string `xml:"Kind,attr"`
	To   string `xml:",chardata"`
}

type gwTransition struct {
	To gwTransitionTo `xml:"t:To"`
}

type gwTransitionsGroup struct {
	ID         string         `xml:"Id,attr"`
	Transition []gwTransition `xml:"t:Transition"`
}

type gwTimeZone struct {
	ID                string                `xml:"Id,attr"`
	Name              string                `xml:"Name,attr,omitempty"`
	Periods           *[]gwPeriod           `xml:"t:Periods>t:Period"`
	TransitionsGroups *[]gwTransitionsGroup `xml:"t:TransitionsGroups>t:TransitionsGroup"`
	Transitions       *[]gwTransition       `xml:"t:Transitions>t:Transition"`
}

type gwPostalAddress struct {
	Street     string `xml:"t:Street,omitempty"`
	City       string `xml:"t:City,omitempty"`
	State      string `xml:"t:State,omitempty"`
	Country    string `xml:"t:Country,omitempty"`
	PostalCode string `xml:"t:PostalCode,omitempty"`
	Type       string `xml:"t:Type,omitempty"`
}

type gwEnhancedLocation struct {
	DisplayName   string           `xml:"t:DisplayName"`
	PostalAddress *gwPostalAddress `xml:"t:PostalAddress"`
}

// gwCalendarItem is t:CalendarItem, elements in schema order.
type gwCalendarItem struct {
	XMLName                    xml.Name       `xml:"t:CalendarItem"`
	ItemID                     gwID           `xml:"t:ItemId"`
	ParentFolderID             *gwID          `xml:"t:ParentFolderId"`
	ItemClass                  string         `xml:"t:ItemClass"`
	Subject                    string         `xml:"t:Subject"`
	Sensitivity                string         `xml:"t:Sensitivity"`
	Body                       *gwBody        `xml:"t:Body"`
	Attachments                *gwAttachments `xml:"t:Attachments"`
	DateTimeReceived           string         `xml:"t:DateTimeReceived,omitempty"`
	Size                       int64          `xml:"t:Size"`
	Categories                 *gwStrings     `xml:"t:Categories"`
	Importance                 string         `xml:"t:Importance"`
	DateTimeCreated            string         `xml:"t:DateTimeCreated,omitempty"`
	ReminderDueBy              string         `xml:"t:ReminderDueBy,omitempty"`
	ReminderIsSet              bool           `xml:"t:ReminderIsSet"`
	ReminderMinutesBeforeStart int            `xml:"t:ReminderMinutesBeforeStart"`
	HasAttachments             bool           `xml:"t:HasAttachments"`
	LastModifiedTime           string         `xml:"t:LastModifiedTime,omitempty"`

	UID                  string                `xml:"t:UID"`
	RecurrenceID         string                `xml:"t:RecurrenceId,omitempty"`
	DateTimeStamp        string                `xml:"t:DateTimeStamp,omitempty"`
	Start                string                `xml:"t:Start"`
	End                  string                `xml:"t:End"`
	OriginalStart        string                `xml:"t:OriginalStart,omitempty"`
	IsAllDayEvent        bool                  `xml:"t:IsAllDayEvent"`
	LegacyFreeBusyStatus string                `xml:"t:LegacyFreeBusyStatus"`
	Location             string                `xml:"t:Location,omitempty"`
	IsMeeting            bool                  `xml:"t:IsMeeting"`
	IsCancelled          bool                  `xml:"t:IsCancelled"`
	IsRecurring          bool                  `xml:"t:IsRecurring"`
	MeetingRequestSent   bool                  `xml:"t:MeetingRequestWasSent"`
	IsResponseRequested  bool                  `xml:"t:IsResponseRequested"`
	CalendarItemType     string                `xml:"t:CalendarItemType"`
	MyResponseType       string                `xml:"t:MyResponseType"`
	Organizer            *gwRecipient          `xml:"t:Organizer"`
	RequiredAttendees    *gwAttendees          `xml:"t:RequiredAttendees"`
	OptionalAttendees    *gwAttendees          `xml:"t:OptionalAttendees"`
	Resources            *gwAttendees          `xml:"t:Resources"`
	AppointmentReplyTime string                `xml:"t:AppointmentReplyTime,omitempty"`
	Recurrence           *gwRecurrence         `xml:"t:Recurrence"`
	FirstOccurrence      *gwOccurrence         `xml:"t:FirstOccurrence"`
	LastOccurrence       *gwOccurrence         `xml:"t:LastOccurrence"`
	ModifiedOccurrences  *gwOccurrences        `xml:"t:ModifiedOccurrences"`
	DeletedOccurrences   *gwDeletedOccurrences `xml:"t:DeletedOccurrences"`
	StartTimeZone        *gwTimeZone           `xml:"t:StartTimeZone"`
	EndTimeZone          *gwTimeZone           `xml:"t:EndTimeZone"`
	AllowNewTimeProposal bool                  `xml:"t:AllowNewTimeProposal"`
	IsOnlineMeeting      bool                  `xml:"t:IsOnlineMeeting"`
	EnhancedLocation     *gwEnhancedLocation   `xml:"t:EnhancedLocation"`
	JoinOnlineMeetingURL string                `xml:"t:JoinOnlineMeetingUrl,omitempty"`
	IsOrganizer          bool                  `xml:"t:IsOrganizer"`
}

// windowsZoneNames are the display names of the Windows zones the tenant uses.
var windowsZoneNames = map[string]string{
	"UTC":                            "(UTC) Coordinated Universal Time",
	"Romance Standard Time":          "(UTC+01:00) Brussels, Copenhagen, Madrid, Paris",
	"W. Europe Standard Time":        "(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna",
	"GMT Standard Time":              "(UTC+00:00) Dublin, Edinburgh, Lisbon, London",
	"Eastern Standard Time":          "(UTC-05:00) Eastern Time (US & Canada)",
	"Pacific Standard Time":          "(UTC-08:00) Pacific Time (US & Canada)",
	"Tokyo Standard Time":            "(UTC+09:00) Osaka, Sapporo, Tokyo",
	"Russian Standard Time":          "(UTC+03:00) Moscow, St. Petersburg",
	"AUS Eastern Standard Time":      "(UTC+10:00) Canberra, Melbourne, Sydney",
	"India Standard Time":            "(UTC+05:30) Chennai, Kolkata, Mumbai, New Delhi",
	"Central European Standard Time": "(UTC+01:00) Sarajevo, Skopje, Warsaw, Zagreb",
	"Central Standard Time":          "(UTC-06:00) Central Time (US & Canada)",
}

// CustomTimeZoneID is the TimeZoneDefinition Id of a zone the client defined (Graph's
// "tzone://Microsoft/Custom").
const CustomTimeZoneID = "Customized Time Zone"

func timeZoneXML(id string) *gwTimeZone {
	if id == "" {
		return nil
	}
	if id == tenant.CustomZone || strings.HasPrefix(id, "tzone:") {
		return &gwTimeZone{ID: CustomTimeZoneID, Name: CustomTimeZoneID,
			Periods:           &[]gwPeriod{{Bias: "PT0M", Name: "Standard", ID: "Std"}},
			TransitionsGroups: &[]gwTransitionsGroup{{ID: "0", Transition: []gwTransition{{To: gwTransitionTo{Kind: "Period", To: "Std"}}}}},
			Transitions:       &[]gwTransition{{To: gwTransitionTo{Kind: "Group", To: "0"}}}}
	}
	return &gwTimeZone{ID: id, Name: windowsZoneNames[id]}
}

func zoneOf(name string) *time.Location {
	if loc, err := tenant.Zone(name); err == nil {
		return loc
	}
	return time.UTC
}

// floatingToZone turns a floating all-day date (midnight UTC) into midnight in zone.
func floatingToZone(t time.Time, zone string) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, zoneOf(zone))
}

var responseTypes = map[string]string{
	"none": "Unknown", "organizer": "Organizer", "tentativelyAccepted": "Tentative",
	"accepted": "Accept", "declined": "Decline", "notResponded": "NoResponseReceived",
}

func responseType(graph string) string {
	if r, ok := responseTypes[graph]; ok {
		return r
	}
	return "Unknown"
}

var freeBusy = map[string]string{"free": "Free", "tentative": "Tentative", "busy": "Busy", "oof": "OOF", "workingElsewhere": "WorkingElsewhere"}

func legacyFreeBusy(showAs string) string {
	if s, ok := freeBusy[showAs]; ok {
		return s
	}
	return "NoData"
}

var calendarItemTypes = map[string]string{"singleInstance": "Single", "seriesMaster": "RecurringMaster", "exception": "Exception", "occurrence": "Occurrence"}

var indexNames = map[string]string{"first": "First", "second": "Second", "third": "Third", "fourth": "Fourth", "last": "Last"}

// relativeDay names Graph's daysOfWeek as EWS's single DayOfWeekType of relative patterns.
func relativeDay(days []string) string {
	set := map[string]bool{}
	for _, d := range days {
		set[strings.ToLower(d)] = true
	}
	week := set["monday"] && set["tuesday"] && set["wednesday"] && set["thursday"] && set["friday"]
	switch {
	case len(set) == 7:
		return "Day"
	case len(set) == 5 && week:
		return "Weekday"
	case len(set) == 2 && set["saturday"] && set["sunday"]:
		return "WeekendDay"
	case len(days) > 0:
		return title(strings.ToLower(days[0]))
	}
	return ""
}

func daysList(days []string) string {
	out := make([]string, len(days))
	for i, d := range days {
		out[i] = title(strings.ToLower(d))
	}
	return strings.Join(out, " ")
}

// recurrenceXML converts Graph's patternedRecurrence.
func recurrenceXML(r *tenant.Recurrence) (*gwRecurrence, error) {
	if r == nil {
		return nil, nil
	}
	p := r.Pattern
	out := &gwRecurrence{}
	interval := max(p.Interval, 1)
	month := ""
	if p.Month >= 1 && p.Month <= 12 {
		month = time.Month(p.Month).String()
	}
	switch p.Type {
	case "daily":
		out.Daily = &gwIntervalPattern{Interval: interval}
	case "weekly":
		out.Weekly = &gwIntervalPattern{Interval: interval, DaysOfWeek: daysList(p.DaysOfWeek), FirstDayOfWeek: title(strings.ToLower(p.FirstDayOfWeek))}
	case "absoluteMonthly":
		out.AbsoluteMonthly = &gwIntervalPattern{Interval: interval, DayOfMonth: p.DayOfMonth}
	case "relativeMonthly":
		out.RelativeMonthly = &gwIntervalPattern{Interval: interval, DaysOfWeek: relativeDay(p.DaysOfWeek), DayOfWeekIndex: indexNames[cmpOr(p.Index, "first")]}
	case "absoluteYearly":
		out.AbsoluteYearly = &gwAbsoluteYearly{DayOfMonth: p.DayOfMonth, Month: month}
	case "relativeYearly":
		out.RelativeYearly = &gwRelativeYearly{DaysOfWeek: relativeDay(p.DaysOfWeek), DayOfWeekIndex: indexNames[cmpOr(p.Index, "first")], Month: month}
	default:
		return nil, fmt.Errorf("ews: recurrence pattern %q has no EWS form", p.Type)
	}
	rg := &gwRange{StartDate: r.Range.StartDate}
	switch r.Range.Type {
	case "noEnd":
		out.NoEnd = rg
	case "endDate":
		rg.EndDate = r.Range.EndDate
		out.EndDate = rg
	case "numbered":
		rg.Number = r.Range.NumberOfOccurrences
		out.Numbered = rg
	default:
		return nil, fmt.Errorf("ews: recurrence range %q has no EWS form", r.Range.Type)
	}
	return out, nil
}

func attendeesXML(ten *tenant.Tenant, list []tenant.Attendee, typ string) *gwAttendees {
	var out []gwAttendee
	for _, a := range list {
		if a.Type != typ {
			continue
		}
		out = append(out, gwAttendee{Mailbox: gwMailboxOf(ten, a.Email), ResponseType: responseType(a.Response), LastResponseTime: ewsTime(a.ResponseTime)})
	}
	if len(out) == 0 {
		return nil
	}
	return &gwAttendees{A: out}
}

func eventAttachmentsXML(itemID string, list []tenant.Attachment) *gwAttachments {
	if len(list) == 0 {
		return nil
	}
	out := &gwAttachments{}
	for _, a := range list {
		out.Files = append(out.Files, gwFileAttachment{AttachmentID: gwAttachmentID{ID: attachmentID(itemID, a.ID), RootItemID: itemID},
			Name: a.Name, ContentType: a.ContentType, Size: a.Size, LastModified: ewsTime(a.Modified), IsInline: a.IsInline})
	}
	return out
}

// eventTimes returns an event's EWS Start and End.
func eventTimes(e tenant.Event) (time.Time, time.Time) {
	if e.IsAllDay {
		return floatingToZone(e.Start, e.StartZone), floatingToZone(e.End, cmpOr(e.EndZone, e.StartZone))
	}
	return e.Start, e.End
}

// calendarItemXML converts a single instance, series master or exception of user's
// calendar (master is the series of an exception, nil otherwise).
func calendarItemXML(ten *tenant.Tenant, e tenant.Event, master *tenant.Event) (*gwCalendarItem, error) {
	start, end := eventTimes(e)
	x := &gwCalendarItem{
		ItemID:         gwID{e.ID, e.ChangeKey},
		ParentFolderID: &gwID{ID: e.CalendarID},
		ItemClass:      "IPM.Appointment",
		Subject:        e.Subject, Sensitivity: title(cmpOr(e.Sensitivity, "normal")),
		Body:             &gwBody{Type: "Text", Text: e.Body},
		DateTimeReceived: ewsTime(e.Created), Size: int64(len(e.Subject) + len(e.Body) + 512),
		Categories: gwStringList(e.Categories), Importance: title(cmpOr(e.Importance, "normal")),
		DateTimeCreated: ewsTime(e.Created), ReminderIsSet: e.ReminderOn, ReminderMinutesBeforeStart: e.ReminderMins,
		HasAttachments: len(e.Attachments) > 0, LastModifiedTime: ewsTime(e.Modified),
		UID: e.ICalUID, DateTimeStamp: ewsTime(e.Modified),
		Start: ewsTime(start), End: ewsTime(end), IsAllDayEvent: e.IsAllDay,
		LegacyFreeBusyStatus: legacyFreeBusy(e.ShowAs), Location: e.Location.DisplayName,
		IsMeeting: len(e.Attendees) > 0, IsCancelled: e.IsCancelled, IsRecurring: e.Type != "singleInstance",
		MeetingRequestSent: len(e.Attendees) > 0 && e.IsOrganizer, IsResponseRequested: true, AllowNewTimeProposal: true,
		CalendarItemType: calendarItemTypes[e.Type], MyResponseType: responseType(e.Response),
		AppointmentReplyTime: ewsTime(e.ResponseTime),
		StartTimeZone:        timeZoneXML(e.StartZone), EndTimeZone: timeZoneXML(cmpOr(e.EndZone, e.StartZone)),
		IsOnlineMeeting: e.JoinURL != "", JoinOnlineMeetingURL: e.JoinURL, IsOrganizer: e.IsOrganizer,
	}
	if strings.EqualFold(e.BodyType, "html") {
		x.Body.Type = "HTML"
	}
	for _, a := range e.Attachments {
		x.Size += a.Size
	}
	x.Attachments = eventAttachmentsXML(e.ID, e.Attachments)
	if e.ReminderOn {
		x.ReminderDueBy = ewsTime(start)
	}
	if e.Organizer.Address != "" {
		x.Organizer = &gwRecipient{Mailbox: gwMailboxOf(ten, e.Organizer)}
	}
	x.RequiredAttendees = attendeesXML(ten, e.Attendees, "required")
	x.OptionalAttendees = attendeesXML(ten, e.Attendees, "optional")
	x.Resources = attendeesXML(ten, e.Attendees, "resource")
	if l := e.Location; l.DisplayName != "" {
		x.EnhancedLocation = &gwEnhancedLocation{DisplayName: l.DisplayName}
		if l.Street != "" || l.City != "" || l.PostalCode != "" || l.Country != "" || l.State != "" {
			x.EnhancedLocation.PostalAddress = &gwPostalAddress{Street: l.Street, City: l.City, State: l.State, Country: l.Country, PostalCode: l.PostalCode, Type: "Business"}
		}
	}
	switch e.Type {
	case "exception", "occurrence":
		if master != nil {
			x.UID = master.ICalUID
		}
		base := e
		if master != nil {
			base = *master
		}
		x.RecurrenceID = ewsTime(originalStart(base, e.OriginalStart))
		x.OriginalStart = x.RecurrenceID
	case "seriesMaster":
		rec, err := recurrenceXML(e.Recurrence)
		if err != nil {
			return nil, err
		}
		x.Recurrence = rec
		x.FirstOccurrence, x.LastOccurrence = boundOccurrences(e)
		if len(e.Exceptions) > 0 {
			xs := slices.Clone(e.Exceptions)
			slices.SortFunc(xs, func(a, b tenant.Event) int { return a.OriginalStart.Compare(b.OriginalStart) })
			x.ModifiedOccurrences = &gwOccurrences{}
			for _, ex := range xs {
				s, en := eventTimes(ex)
				x.ModifiedOccurrences.O = append(x.ModifiedOccurrences.O, gwOccurrence{ItemID: gwID{ex.ID, ex.ChangeKey},
					Start: ewsTime(s), End: ewsTime(en), OriginalStart: ewsTime(originalStart(e, ex.OriginalStart))})
			}
		}
		if len(e.Cancelled) > 0 {
			x.DeletedOccurrences = &gwDeletedOccurrences{}
			for _, c := range e.Cancelled {
				x.DeletedOccurrences.D = append(x.DeletedOccurrences.D, gwDeletedOccurrence{Start: ewsTime(originalStart(e, c))})
			}
		}
	}
	return x, nil
}

// originalStart shows the original start of an occurrence of series e: the instant, or
// for an all-day series midnight in its zone (the tenant keeps floating dates).
func originalStart(e tenant.Event, orig time.Time) time.Time {
	if e.IsAllDay {
		return floatingToZone(orig, e.StartZone)
	}
	return orig
}

// boundOccurrences returns the first and (for a bounded series) last occurrence of a
// series master that is not cancelled.
func boundOccurrences(e tenant.Event) (first, last *gwOccurrence) {
	if e.Recurrence == nil {
		return nil, nil
	}
	until := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	bounded := e.Recurrence.Range.Type != "noEnd"
	if !bounded {
		// The first occurrence is within a year or so of the range start.
		if d, err := tenant.ParseDate(e.Recurrence.Range.StartDate); err == nil {
			until = d.AddDate(5, 0, 0)
		}
	}
	starts, err := e.OccurrenceStarts(until)
	if err != nil {
		return nil, nil
	}
	dur := e.End.Sub(e.Start)
	occ := func(orig time.Time) *gwOccurrence {
		for _, x := range e.Exceptions {
			if x.OriginalStart.Equal(orig) {
				s, en := eventTimes(x)
				return &gwOccurrence{ItemID: gwID{x.ID, x.ChangeKey}, Start: ewsTime(s), End: ewsTime(en), OriginalStart: ewsTime(originalStart(e, orig))}
			}
		}
		o := tenant.Event{Start: orig, End: orig.Add(dur), IsAllDay: e.IsAllDay, StartZone: e.StartZone, EndZone: e.EndZone}
		s, en := eventTimes(o)
		return &gwOccurrence{ItemID: gwID{ID: tenant.OccurrenceID(e.ID, orig), ChangeKey: e.ChangeKey}, Start: ewsTime(s), End: ewsTime(en), OriginalStart: ewsTime(s)}
	}
	live := slices.DeleteFunc(starts, func(t time.Time) bool { return slices.ContainsFunc(e.Cancelled, t.Equal) })
	if len(live) == 0 {
		return nil, nil
	}
	first = occ(live[0])
	if bounded {
		last = occ(live[len(live)-1])
	}
	return first, last
}

// ownCalendars returns the calendars of the mailbox that live in it (not those another
// user shares with it).
func ownCalendars(ten *tenant.Tenant, u tenant.User) []tenant.Calendar {
	var out []tenant.Calendar
	for _, c := range ten.Calendars(u.ID) {
		if c.Owner.Address == "" || strings.EqualFold(c.Owner.Address, u.Mail) {
			out = append(out, c)
		}
	}
	return out
}

// calendarItems lists the items SyncFolderItems shows for a calendar folder: its single
// instances and series masters (exceptions live inside their master, as in Exchange), with
// their change keys (a master's changes when one of its exceptions changes).
func calendarItems(ten *tenant.Tenant, userID, calID string) []gwItemRef {
	var out []gwItemRef
	for _, e := range ten.Events(userID, calID) {
		out = append(out, gwItemRef{ID: e.ID, ChangeKey: e.ChangeKey, Kind: "CalendarItem", Seq: e.Seq})
	}
	return out
}

// gwItemRef is one groupware item as a folder listing shows it.
type gwItemRef struct {
	ID, ChangeKey string
	Kind          string // element name: CalendarItem, Contact, Task
	Seq           uint64 // tenant change-log position of its last change
}

// getCalendarItem renders the calendar item (or exception) id of user, or an error
// wrapping model.ErrNotFound.
func getCalendarItem(ten *tenant.Tenant, u tenant.User, id string) (any, error) {
	e, err := ten.Event(u.ID, id)
	if err != nil {
		return nil, err
	}
	var master *tenant.Event
	if e.SeriesMasterID != "" {
		m, err := ten.Event(u.ID, e.SeriesMasterID)
		if err != nil {
			return nil, err
		}
		master = &m
	}
	if !slices.ContainsFunc(ownCalendars(ten, u), func(c tenant.Calendar) bool { return c.ID == e.CalendarID }) {
		return nil, fmt.Errorf("ews: event %s: %w", id, model.ErrNotFound)
	}
	return calendarItemXML(ten, e, master)
}

// getEventAttachment returns attachment attID of event itemID with its Content.
func getEventAttachment(ten *tenant.Tenant, u tenant.User, itemID, attID string) (*gwFileAttachment, error) {
	e, err := ten.Event(u.ID, itemID)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(e.Attachments, func(a tenant.Attachment) bool { return a.ID == attID })
	if i < 0 {
		return nil, fmt.Errorf("ews: attachment %s: %w", attID, model.ErrNotFound)
	}
	a := e.Attachments[i]
	return &gwFileAttachment{AttachmentID: gwAttachmentID{ID: attachmentID(itemID, a.ID), RootItemID: itemID, RootItemCKey: e.ChangeKey},
		Name: a.Name, ContentType: a.ContentType, Size: a.Size, LastModified: ewsTime(a.Modified), IsInline: a.IsInline,
		Content: base64.StdEncoding.EncodeToString(a.Bytes())}, nil
}

// marshalGW renders a groupware element; it cannot fail on the types above, so an error
// is a programming error reported to the caller.
func marshalGW(v any) (string, error) {
	b, err := xml.Marshal(v)
	return string(b), err
}

// ---- plugging into the core's GetItem / SyncFolderItems ----

func init() {
	registerItemSource(classCalendar, calendarSource{})
	registerItemSource(classContacts, contactSource{})
	registerItemSource(classTasks, taskSource{})
	register("GetAttachment", getAttachment)
}

// idOnly tells whether shape asks for nothing but ids.
func idOnly(shape *itemShape) bool {
	return shape != nil && shape.base() == "idonly" && len(shape.Additional.FieldURI) == 0
}

// renderItem renders a groupware element, or only its ItemId for an IdOnly shape.
func renderItem(elem string, id gwID, full func() (any, error), shape *itemShape) (string, error) {
	if idOnly(shape) {
		return fmt.Sprintf(`<t:%s><t:ItemId Id="%s" ChangeKey="%s"/></t:%s>`, elem, esc(id.ID), esc(id.ChangeKey), elem), nil
	}
	v, err := full()
	if err != nil {
		return "", err
	}
	return marshalGW(v)
}

// syncRefs turns a folder listing into the core's sync items.
func syncRefs(refs []gwItemRef, full func(id string) (any, error), shape *itemShape) []syncItem {
	out := make([]syncItem, len(refs))
	for i, r := range refs {
		out[i] = syncItem{ID: r.ID, ChangeKey: r.ChangeKey, Sig: r.ChangeKey, XML: func() string {
			s, err := renderItem(r.Kind, gwID{r.ID, r.ChangeKey}, func() (any, error) { return full(r.ID) }, shape)
			if err != nil {
				return fmt.Sprintf(`<t:%s><t:ItemId Id="%s" ChangeKey="%s"/></t:%s>`, r.Kind, esc(r.ID), esc(r.ChangeKey), r.Kind)
			}
			return s
		}}
	}
	return out
}

// sortRefs orders a listing oldest change first.
func sortRefs(refs []gwItemRef) []gwItemRef {
	slices.SortStableFunc(refs, func(a, b gwItemRef) int { return cmpUint(a.Seq, b.Seq) })
	return refs
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

type calendarSource struct{}

func (calendarSource) syncItems(c *Call, u tenant.User, f efolder, shape *itemShape) ([]syncItem, error) {
	ten := c.Tenant()
	return syncRefs(sortRefs(calendarItems(ten, u.ID, f.ID)), func(id string) (any, error) { return getCalendarItem(ten, u, id) }, shape), nil
}

func (calendarSource) getItem(c *Call, u tenant.User, ref itemRef, shape *itemShape) (string, bool, error) {
	ten := c.Tenant()
	id := ref.ID
	if ref.Kind == "OccurrenceItemId" {
		return occurrenceItem(ten, u, ref, shape)
	}
	if ref.Kind == "RecurringMasterItemId" {
		id = ref.OccurrenceID
		e, err := ten.Event(u.ID, id)
		if err != nil {
			return "", false, nil
		}
		id = cmpOr(e.SeriesMasterID, e.ID)
	}
	e, err := ten.Event(u.ID, id)
	if err != nil {
		return "", false, nil
	}
	x, err := renderItem("CalendarItem", gwID{e.ID, e.ChangeKey}, func() (any, error) { return getCalendarItem(ten, u, id) }, shape)
	if errors.Is(err, model.ErrNotFound) {
		return "", false, nil
	}
	return x, err == nil, err
}

// occurrenceItem answers an OccurrenceItemId: the InstanceIndex-th occurrence (1-based,
// cancelled ones counted) of the series, the exception when it was modified.
func occurrenceItem(ten *tenant.Tenant, u tenant.User, ref itemRef, shape *itemShape) (string, bool, error) {
	m, err := ten.Event(u.ID, ref.RecurringMasterID)
	if err != nil || m.Type != "seriesMaster" || ref.InstanceIndex < 1 {
		return "", false, nil
	}
	until := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	if m.Recurrence.Range.Type == "noEnd" {
		until = time.Now().AddDate(50, 0, 0)
	}
	starts, err := m.OccurrenceStarts(until)
	if err != nil || ref.InstanceIndex > len(starts) {
		return "", false, nil
	}
	orig := starts[ref.InstanceIndex-1]
	if slices.ContainsFunc(m.Cancelled, orig.Equal) {
		return "", false, nil
	}
	for _, x := range m.Exceptions {
		if x.OriginalStart.Equal(orig) {
			s, err := renderItem("CalendarItem", gwID{x.ID, x.ChangeKey}, func() (any, error) { return calendarItemXML(ten, x, &m) }, shape)
			return s, err == nil, err
		}
	}
	list, err := m.Instances(orig, orig.Add(time.Second))
	if err != nil {
		return "", false, err
	}
	for _, o := range list {
		if o.OriginalStart.Equal(orig) && o.Type == "occurrence" {
			o.ChangeKey = m.ChangeKey
			s, err := renderItem("CalendarItem", gwID{o.ID, o.ChangeKey}, func() (any, error) { return calendarItemXML(ten, o, &m) }, shape)
			return s, err == nil, err
		}
	}
	return "", false, nil
}

type contactSource struct{}

func (contactSource) syncItems(c *Call, u tenant.User, f efolder, shape *itemShape) ([]syncItem, error) {
	ten := c.Tenant()
	return syncRefs(sortRefs(contactItems(ten, u.ID, f.ID)), func(id string) (any, error) { return getContact(ten, u, id) }, shape), nil
}

func (contactSource) getItem(c *Call, u tenant.User, ref itemRef, shape *itemShape) (string, bool, error) {
	if ref.Kind != "ItemId" && ref.Kind != "" {
		return "", false, nil
	}
	ten := c.Tenant()
	k, err := ten.Contact(u.ID, ref.ID)
	if err != nil {
		return "", false, nil
	}
	x, err := renderItem("Contact", gwID{k.ID, k.ChangeKey}, func() (any, error) { return contactXML(k), nil }, shape)
	return x, err == nil, err
}

type taskSource struct{}

func (taskSource) syncItems(c *Call, u tenant.User, f efolder, shape *itemShape) ([]syncItem, error) {
	ten := c.Tenant()
	return syncRefs(sortRefs(taskItems(ten, u.ID, f.ID)), func(id string) (any, error) { return getTask(ten, u, id) }, shape), nil
}

func (taskSource) getItem(c *Call, u tenant.User, ref itemRef, shape *itemShape) (string, bool, error) {
	if ref.Kind != "ItemId" && ref.Kind != "" {
		return "", false, nil
	}
	ten := c.Tenant()
	k, err := ten.Task(u.ID, ref.ID)
	if err != nil {
		return "", false, nil
	}
	x, err := renderItem("Task", gwID{k.ID, k.ChangeKey}, func() (any, error) { return taskXML(u, k) }, shape)
	return x, err == nil, err
}

// getAttachment answers GetAttachment for calendar item attachments and contact photos:
// one GetAttachmentResponseMessage per AttachmentId (m:Attachments with the
// FileAttachment and its Content); ErrorInvalidIdMalformed for an id it cannot read,
// ErrorItemNotFound for an attachment that does not exist.
func getAttachment(c *Call) error {
	var req struct {
		IDs []struct {
			ID string `xml:"Id,attr"`
		} `xml:"AttachmentIds>AttachmentId"`
	}
	if err := c.decode(&req); err != nil {
		return err
	}
	c.begin()
	for _, r := range req.IDs {
		if !c.HasMailbox {
			c.fail("ErrorMissingEmailAddress", "When making a request as an account that does not have a mailbox, you must specify the mailbox primary SMTP address for any distinguished folders.")
			continue
		}
		itemID, attID, ok := splitAttachmentID(r.ID)
		if !ok || itemID == "" || attID == "" {
			c.fail("ErrorInvalidIdMalformed", "Id is malformed.")
			continue
		}
		var a *gwFileAttachment
		var err error
		if attID == contactPhotoID {
			a, err = getContactPhoto(c.Tenant(), c.Mailbox, itemID)
		} else {
			a, err = getEventAttachment(c.Tenant(), c.Mailbox, itemID, attID)
		}
		if err != nil {
			c.fail("ErrorItemNotFound", "The specified object was not found in the store.")
			continue
		}
		x, err := marshalGW(a)
		if err != nil {
			return err
		}
		c.ok(`<m:Attachments>` + x + `</m:Attachments>`)
	}
	c.end()
	return nil
}
