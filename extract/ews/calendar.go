package ews

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"time"

	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/bascule-migrate/bascule/transform/tz"
)

// The EWS XML of a calendar item (t:CalendarItem, CalendarItemType), as GetItem returns it
// with AllProperties plus the time zones. Elements are matched by local name: the
// types namespace is the only one they appear in.

// gwItemID is t:ItemId (also t:AttachmentId, t:FolderId: Id and ChangeKey attributes).
type gwItemID struct {
	ID        string `xml:"Id,attr"`
	ChangeKey string `xml:"ChangeKey,attr"`
}

// gwMailbox is t:Mailbox (EmailAddressType).
type gwMailbox struct {
	Name         string `xml:"Name"`
	EmailAddress string `xml:"EmailAddress"`
	RoutingType  string `xml:"RoutingType"`
}

// gwBody is t:Body.
type gwBody struct {
	Type    string `xml:"BodyType,attr"`
	Content string `xml:",chardata"`
}

// gwFileAttachment is t:FileAttachment; Content (base64) only in GetAttachment answers.
type gwFileAttachment struct {
	AttachmentID   gwItemID `xml:"AttachmentId"`
	Name           string   `xml:"Name"`
	ContentType    string   `xml:"ContentType"`
	ContentID      string   `xml:"ContentId"`
	Size           int64    `xml:"Size"`
	LastModified   string   `xml:"LastModifiedTime"`
	IsInline       bool     `xml:"IsInline"`
	IsContactPhoto bool     `xml:"IsContactPhoto"`
	Content        string   `xml:"Content"`
}

type gwAttachments struct {
	Files []gwFileAttachment `xml:"FileAttachment"`
	// Item attachments (an attached message) have no Graph fileAttachment counterpart:
	// counted so the conversion can say it left them out.
	Items []struct {
		Name string `xml:"Name"`
	} `xml:"ItemAttachment"`
}

type gwAttendee struct {
	Mailbox          gwMailbox `xml:"Mailbox"`
	ResponseType     string    `xml:"ResponseType"`
	LastResponseTime string    `xml:"LastResponseTime"`
}

type gwTimeZone struct {
	ID   string `xml:"Id,attr"`
	Name string `xml:"Name,attr"`
}

// gwRecurrence is t:Recurrence: one pattern element and one range element.
type gwRecurrence struct {
	RelativeYearly *gwPattern `xml:"RelativeYearlyRecurrence"`
	AbsoluteYearly *gwPattern `xml:"AbsoluteYearlyRecurrence"`
	RelativeMonth  *gwPattern `xml:"RelativeMonthlyRecurrence"`
	AbsoluteMonth  *gwPattern `xml:"AbsoluteMonthlyRecurrence"`
	Weekly         *gwPattern `xml:"WeeklyRecurrence"`
	Daily          *gwPattern `xml:"DailyRecurrence"`
	// Task regeneration patterns (a new task n days/weeks/… after the last is completed):
	// Graph has no counterpart.
	DailyRegen   *gwPattern `xml:"DailyRegeneration"`
	WeeklyRegen  *gwPattern `xml:"WeeklyRegeneration"`
	MonthlyRegen *gwPattern `xml:"MonthlyRegeneration"`
	YearlyRegen  *gwPattern `xml:"YearlyRegeneration"`

	NoEnd    *gwRange `xml:"NoEndRecurrence"`
	EndDate  *gwRange `xml:"EndDateRecurrence"`
	Numbered *gwRange `xml:"NumberedRecurrence"`
}

type gwPattern struct {
	Interval       string `xml:"Interval"`
	DaysOfWeek     string `xml:"DaysOfWeek"`
	DayOfWeekIndex string `xml:"DayOfWeekIndex"`
	DayOfMonth     string `xml:"DayOfMonth"`
	Month          string `xml:"Month"`
	FirstDayOfWeek string `xml:"FirstDayOfWeek"`
}

type gwRange struct {
	StartDate           string `xml:"StartDate"`
	EndDate             string `xml:"EndDate"`
	NumberOfOccurrences string `xml:"NumberOfOccurrences"`
}

type gwOccurrence struct {
	ItemID        gwItemID `xml:"ItemId"`
	Start         string   `xml:"Start"`
	End           string   `xml:"End"`
	OriginalStart string   `xml:"OriginalStart"`
}

type gwEnhancedLocation struct {
	DisplayName   string `xml:"DisplayName"`
	PostalAddress *struct {
		Street          string `xml:"Street"`
		City            string `xml:"City"`
		State           string `xml:"State"`
		Country         string `xml:"Country"`
		PostalCode      string `xml:"PostalCode"`
		LocationURI     string `xml:"LocationUri"`
		LocationSource  string `xml:"LocationSource"`
		FormattedAddrss string `xml:"FormattedAddress"`
	} `xml:"PostalAddress"`
}

// gwCalendarItem is t:CalendarItem.
type gwCalendarItem struct {
	ItemID               gwItemID            `xml:"ItemId"`
	ParentFolderID       gwItemID            `xml:"ParentFolderId"`
	Subject              string              `xml:"Subject"`
	Sensitivity          string              `xml:"Sensitivity"`
	Body                 *gwBody             `xml:"Body"`
	Attachments          gwAttachments       `xml:"Attachments"`
	DateTimeCreated      string              `xml:"DateTimeCreated"`
	Categories           []string            `xml:"Categories>String"`
	Importance           string              `xml:"Importance"`
	ReminderIsSet        bool                `xml:"ReminderIsSet"`
	ReminderMinutes      int32               `xml:"ReminderMinutesBeforeStart"`
	HasAttachments       bool                `xml:"HasAttachments"`
	LastModifiedTime     string              `xml:"LastModifiedTime"`
	UID                  string              `xml:"UID"`
	Start                string              `xml:"Start"`
	End                  string              `xml:"End"`
	OriginalStart        string              `xml:"OriginalStart"`
	IsAllDayEvent        bool                `xml:"IsAllDayEvent"`
	LegacyFreeBusyStatus string              `xml:"LegacyFreeBusyStatus"`
	Location             string              `xml:"Location"`
	IsMeeting            bool                `xml:"IsMeeting"`
	IsCancelled          bool                `xml:"IsCancelled"`
	CalendarItemType     string              `xml:"CalendarItemType"`
	MyResponseType       string              `xml:"MyResponseType"`
	AppointmentReplyTime string              `xml:"AppointmentReplyTime"`
	Organizer            *gwMailbox          `xml:"Organizer>Mailbox"`
	Required             []gwAttendee        `xml:"RequiredAttendees>Attendee"`
	Optional             []gwAttendee        `xml:"OptionalAttendees>Attendee"`
	Resources            []gwAttendee        `xml:"Resources>Attendee"`
	Recurrence           *gwRecurrence       `xml:"Recurrence"`
	ModifiedOccurrences  []gwOccurrence      `xml:"ModifiedOccurrences>Occurrence"`
	DeletedOccurrences   []string            `xml:"DeletedOccurrences>DeletedOccurrence>Start"`
	StartTimeZone        *gwTimeZone         `xml:"StartTimeZone"`
	EndTimeZone          *gwTimeZone         `xml:"EndTimeZone"`
	StartTimeZoneID      string              `xml:"StartTimeZoneId"`
	EndTimeZoneID        string              `xml:"EndTimeZoneId"`
	TimeZone             string              `xml:"TimeZone"`
	IsOnlineMeeting      bool                `xml:"IsOnlineMeeting"`
	JoinOnlineMeetingURL string              `xml:"JoinOnlineMeetingUrl"`
	IsResponseRequested  *bool               `xml:"IsResponseRequested"`
	IsOrganizer          *bool               `xml:"IsOrganizer"`
	EnhancedLocation     *gwEnhancedLocation `xml:"EnhancedLocation"`
}

// startZone is the Windows id of the item's start time zone (TimeZoneDefinition Id).
func (it *gwCalendarItem) startZone() string {
	switch {
	case it.StartTimeZone != nil && it.StartTimeZone.ID != "":
		return it.StartTimeZone.ID
	case it.StartTimeZoneID != "":
		return it.StartTimeZoneID
	}
	return strings.TrimSpace(it.TimeZone)
}

func (it *gwCalendarItem) endZone() string {
	switch {
	case it.EndTimeZone != nil && it.EndTimeZone.ID != "":
		return it.EndTimeZone.ID
	case it.EndTimeZoneID != "":
		return it.EndTimeZoneID
	}
	return it.startZone()
}

// allDayDate is the date of an all-day boundary: EWS writes the local midnight of the
// event's zone as an instant; Graph writes the date as midnight UTC.
func allDayDate(t time.Time, zone string) time.Time {
	if loc, ok := tz.Location(zone); ok {
		l := t.In(loc)
		if l.Hour() == 0 && l.Minute() == 0 {
			return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
		}
	}
	return nearestMidnight(t)
}

// enum parses a Graph enum value with the SDK's parser; nil when it does not know it.
func enum[T any](parse func(string) (any, error), v string) *T {
	if v == "" {
		return nil
	}
	r, err := parse(v)
	if err != nil || r == nil {
		return nil
	}
	p, _ := r.(*T)
	return p
}

var responseTypes = map[string]string{
	"Unknown": "none", "Organizer": "organizer", "Tentative": "tentativelyAccepted",
	"Accept": "accepted", "Decline": "declined", "NoResponseReceived": "notResponded",
}

var freeBusy = map[string]string{
	"Free": "free", "Tentative": "tentative", "Busy": "busy", "OOF": "oof",
	"WorkingElsewhere": "workingElsewhere", "NoData": "unknown",
}

func responseStatus(resp, at string) models.ResponseStatusable {
	r := models.NewResponseStatus()
	if v, ok := responseTypes[strings.TrimSpace(resp)]; ok {
		r.SetResponse(enum[models.ResponseType](models.ParseResponseType, v))
	} else {
		r.SetResponse(enum[models.ResponseType](models.ParseResponseType, "none"))
	}
	t, ok := parseEWSTime(at)
	if !ok {
		t = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	r.SetTime(&t)
	return r
}

func emailAddress(m gwMailbox) models.EmailAddressable {
	e := models.NewEmailAddress()
	e.SetName(ptr(m.Name))
	addr := m.EmailAddress
	if strings.EqualFold(m.RoutingType, "EX") {
		// A legacy Exchange DN is no address; Graph gives the SMTP one, which EWS needs a
		// ResolveNames to find. Kept as the name says nothing better.
		addr = ""
	}
	e.SetAddress(ptr(addr))
	return e
}

func itemBody(b *gwBody) models.ItemBodyable {
	ib := models.NewItemBody()
	typ, content := "text", ""
	if b != nil {
		content = b.Content
		if strings.EqualFold(b.Type, "HTML") {
			typ = "html"
		}
	}
	ib.SetContentType(enum[models.BodyType](models.ParseBodyType, typ))
	ib.SetContent(ptr(content))
	return ib
}

// gwDays reads an EWS DaysOfWeek list ("Monday Wednesday", or Day / Weekday / WeekendDay)
// as Graph days.
func gwDays(s string) []models.DayOfWeek {
	var out []models.DayOfWeek
	add := func(names ...string) {
		for _, n := range names {
			if d := enum[models.DayOfWeek](models.ParseDayOfWeek, n); d != nil {
				out = append(out, *d)
			}
		}
	}
	for _, f := range strings.Fields(s) {
		switch f {
		case "Day":
			add("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
		case "Weekday":
			add("monday", "tuesday", "wednesday", "thursday", "friday")
		case "WeekendDay":
			add("sunday", "saturday")
		default:
			add(strings.ToLower(f))
		}
	}
	return out
}

var months = map[string]int32{"January": 1, "February": 2, "March": 3, "April": 4, "May": 5, "June": 6,
	"July": 7, "August": 8, "September": 9, "October": 10, "November": 11, "December": 12}

func atoi32(s string) int32 {
	var n int32
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 9 {
		return 0
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0
		}
		n = n*10 + int32(r-'0')
	}
	return n
}

// gwPatternedRecurrence converts an EWS recurrence into Graph's patternedRecurrence, the
// series' zone (Windows id) as recurrenceTimeZone. An error names what Graph cannot say
// (a task's regeneration pattern, a recurrence without pattern or range).
func gwPatternedRecurrence(r *gwRecurrence, zone string) (models.PatternedRecurrenceable, error) {
	var typ string
	var p *gwPattern
	switch {
	case r.RelativeYearly != nil:
		typ, p = "relativeYearly", r.RelativeYearly
	case r.AbsoluteYearly != nil:
		typ, p = "absoluteYearly", r.AbsoluteYearly
	case r.RelativeMonth != nil:
		typ, p = "relativeMonthly", r.RelativeMonth
	case r.AbsoluteMonth != nil:
		typ, p = "absoluteMonthly", r.AbsoluteMonth
	case r.Weekly != nil:
		typ, p = "weekly", r.Weekly
	case r.Daily != nil:
		typ, p = "daily", r.Daily
	case r.DailyRegen != nil || r.WeeklyRegen != nil || r.MonthlyRegen != nil || r.YearlyRegen != nil:
		return nil, fmt.Errorf("a regeneration recurrence (a new task after each completion) has no Graph counterpart")
	default:
		return nil, fmt.Errorf("recurrence without a known pattern")
	}
	pat := models.NewRecurrencePattern()
	pat.SetTypeEscaped(enum[models.RecurrencePatternType](models.ParseRecurrencePatternType, typ))
	interval := atoi32(p.Interval)
	if strings.HasSuffix(typ, "Yearly") || interval < 1 {
		interval = 1
	}
	pat.SetInterval(&interval)
	pat.SetMonth(ptr(months[strings.TrimSpace(p.Month)]))
	pat.SetDayOfMonth(ptr(atoi32(p.DayOfMonth)))
	days := gwDays(p.DaysOfWeek)
	if days == nil {
		days = []models.DayOfWeek{}
	}
	pat.SetDaysOfWeek(days)
	first := lowerFirst(p.FirstDayOfWeek)
	if first == "" {
		first = "sunday"
	}
	pat.SetFirstDayOfWeek(enum[models.DayOfWeek](models.ParseDayOfWeek, first))
	index := lowerFirst(p.DayOfWeekIndex)
	if index == "" {
		index = "first"
	}
	pat.SetIndex(enum[models.WeekIndex](models.ParseWeekIndex, index))

	rg := models.NewRecurrenceRange()
	var src *gwRange
	var rtyp string
	switch {
	case r.EndDate != nil:
		rtyp, src = "endDate", r.EndDate
	case r.Numbered != nil:
		rtyp, src = "numbered", r.Numbered
	case r.NoEnd != nil:
		rtyp, src = "noEnd", r.NoEnd
	default:
		return nil, fmt.Errorf("recurrence without a range")
	}
	rg.SetTypeEscaped(enum[models.RecurrenceRangeType](models.ParseRecurrenceRangeType, rtyp))
	sd, ok := parseEWSDate(src.StartDate)
	if !ok {
		return nil, fmt.Errorf("recurrence range with an unreadable StartDate %q", src.StartDate)
	}
	rg.SetStartDate(absser.NewDateOnly(sd))
	ed := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	if rtyp == "endDate" {
		if ed, ok = parseEWSDate(src.EndDate); !ok {
			return nil, fmt.Errorf("recurrence range with an unreadable EndDate %q", src.EndDate)
		}
	}
	rg.SetEndDate(absser.NewDateOnly(ed))
	var n int32
	if rtyp == "numbered" {
		n = atoi32(src.NumberOfOccurrences)
	}
	rg.SetNumberOfOccurrences(&n)
	rg.SetRecurrenceTimeZone(ptr(zone))

	pr := models.NewPatternedRecurrence()
	pr.SetPattern(pat)
	pr.SetRangeEscaped(rg)
	return pr, nil
}

// fileAttachment converts an attachment read with GetAttachment (content included).
func fileAttachment(a gwFileAttachment) (models.FileAttachmentable, error) {
	content, err := base64.StdEncoding.DecodeString(strings.TrimSpace(a.Content))
	if err != nil {
		return nil, fmt.Errorf("attachment %q: content is not base64", a.Name)
	}
	fa := models.NewFileAttachment()
	fa.SetId(ptr(a.AttachmentID.ID))
	fa.SetName(ptr(a.Name))
	fa.SetContentType(ptr(a.ContentType))
	size := a.Size
	if size <= 0 || size > 1<<31-1 {
		size = int64(len(content))
	}
	fa.SetSize(ptr(int32(size)))
	fa.SetIsInline(ptr(a.IsInline))
	if t, ok := parseEWSTime(a.LastModified); ok {
		fa.SetLastModifiedDateTime(&t)
	}
	if a.ContentID != "" {
		fa.SetContentId(ptr(a.ContentID))
	}
	fa.SetContentBytes(content)
	return fa, nil
}

// eventOf converts one calendar item (a single instance, a series master, or an
// exception of masterID) into a Graph event, without exceptions nor attachments.
// originalStart is the exception's original start (zero otherwise).
func eventOf(it *gwCalendarItem, masterID string, originalStart time.Time) (models.Eventable, error) {
	ev := models.NewEvent()
	ev.SetId(ptr(it.ItemID.ID))
	ev.SetChangeKey(ptr(it.ItemID.ChangeKey))
	if it.UID != "" {
		ev.SetICalUId(ptr(it.UID))
	}
	ev.SetSubject(ptr(it.Subject))
	ev.SetBody(itemBody(it.Body))

	typ := "singleInstance"
	switch strings.TrimSpace(it.CalendarItemType) {
	case "RecurringMaster":
		typ = "seriesMaster"
	case "Exception":
		typ = "exception"
	case "Occurrence":
		typ = "occurrence"
	}
	ev.SetTypeEscaped(enum[models.EventType](models.ParseEventType, typ))
	if masterID != "" {
		ev.SetSeriesMasterId(ptr(masterID))
		if !originalStart.IsZero() {
			ev.SetOriginalStart(ptr(originalStart.UTC()))
		}
	}

	start, ok := parseEWSTime(it.Start)
	if !ok {
		return nil, fmt.Errorf("calendar item %s has an unreadable Start %q", it.ItemID.ID, it.Start)
	}
	end, ok := parseEWSTime(it.End)
	if !ok {
		end = start
	}
	sz, ez := it.startZone(), it.endZone()
	ev.SetIsAllDay(ptr(it.IsAllDayEvent))
	if it.IsAllDayEvent {
		start, end = allDayDate(start, sz), allDayDate(end, ez)
	}
	ev.SetStart(dtz(start))
	ev.SetEnd(dtz(end))
	ev.SetOriginalStartTimeZone(ptr(sz))
	ev.SetOriginalEndTimeZone(ptr(ez))

	if t, ok := parseEWSTime(it.DateTimeCreated); ok {
		ev.SetCreatedDateTime(&t)
	}
	if t, ok := parseEWSTime(it.LastModifiedTime); ok {
		ev.SetLastModifiedDateTime(&t)
	}
	cats := it.Categories
	if cats == nil {
		cats = []string{}
	}
	ev.SetCategories(cats)
	if s := enum[models.Sensitivity](models.ParseSensitivity, lowerFirst(it.Sensitivity)); s != nil {
		ev.SetSensitivity(s)
	}
	if v, ok := freeBusy[strings.TrimSpace(it.LegacyFreeBusyStatus)]; ok {
		ev.SetShowAs(enum[models.FreeBusyStatus](models.ParseFreeBusyStatus, v))
	}
	if s := enum[models.Importance](models.ParseImportance, lowerFirst(it.Importance)); s != nil {
		ev.SetImportance(s)
	}
	ev.SetIsReminderOn(ptr(it.ReminderIsSet))
	ev.SetReminderMinutesBeforeStart(ptr(it.ReminderMinutes))
	ev.SetIsCancelled(ptr(it.IsCancelled))
	ev.SetHasAttachments(ptr(len(it.Attachments.Files) > 0))
	rr := true
	if it.IsResponseRequested != nil {
		rr = *it.IsResponseRequested
	}
	ev.SetResponseRequested(&rr)
	my := it.MyResponseType
	if my == "" {
		my = "Unknown"
	}
	ev.SetResponseStatus(responseStatus(my, it.AppointmentReplyTime))
	if it.IsOrganizer != nil {
		ev.SetIsOrganizer(it.IsOrganizer)
	} else {
		ev.SetIsOrganizer(ptr(strings.TrimSpace(it.MyResponseType) == "Organizer"))
	}

	loc := models.NewLocation()
	name := it.Location
	if name == "" && it.EnhancedLocation != nil {
		name = it.EnhancedLocation.DisplayName
	}
	loc.SetDisplayName(ptr(name))
	if el := it.EnhancedLocation; el != nil && el.PostalAddress != nil {
		pa := el.PostalAddress
		if pa.Street+pa.City+pa.PostalCode+pa.Country != "" {
			a := models.NewPhysicalAddress()
			a.SetStreet(ptr(pa.Street))
			a.SetCity(ptr(pa.City))
			a.SetState(ptr(pa.State))
			a.SetCountryOrRegion(ptr(pa.Country))
			a.SetPostalCode(ptr(pa.PostalCode))
			loc.SetAddress(a)
		}
	}
	ev.SetLocation(loc)
	locs := []models.Locationable{}
	if name != "" {
		locs = append(locs, loc)
	}
	ev.SetLocations(locs)

	if it.Organizer != nil {
		r := models.NewRecipient()
		r.SetEmailAddress(emailAddress(*it.Organizer))
		ev.SetOrganizer(r)
	}
	atts := []models.Attendeeable{}
	for _, g := range []struct {
		list []gwAttendee
		typ  string
	}{{it.Required, "required"}, {it.Optional, "optional"}, {it.Resources, "resource"}} {
		for _, a := range g.list {
			at := models.NewAttendee()
			at.SetTypeEscaped(enum[models.AttendeeType](models.ParseAttendeeType, g.typ))
			at.SetEmailAddress(emailAddress(a.Mailbox))
			resp := a.ResponseType
			if resp == "" {
				resp = "Unknown"
			}
			at.SetStatus(responseStatus(resp, a.LastResponseTime))
			atts = append(atts, at)
		}
	}
	ev.SetAttendees(atts)
	ev.SetIsOnlineMeeting(ptr(it.IsOnlineMeeting || it.JoinOnlineMeetingURL != ""))
	if it.JoinOnlineMeetingURL != "" {
		om := models.NewOnlineMeetingInfo()
		om.SetJoinUrl(ptr(it.JoinOnlineMeetingURL))
		ev.SetOnlineMeeting(om)
		// EWS names no provider; the join link's host does.
		if p := meetingProvider(it.JoinOnlineMeetingURL); p != "" {
			ev.SetOnlineMeetingProvider(enum[models.OnlineMeetingProviderType](models.ParseOnlineMeetingProviderType, p))
		}
	}

	if typ == "seriesMaster" && it.Recurrence != nil {
		rec, err := gwPatternedRecurrence(it.Recurrence, sz)
		if err != nil {
			return nil, fmt.Errorf("calendar item %s: %w", it.ItemID.ID, err)
		}
		ev.SetRecurrence(rec)
	}
	return ev, nil
}

// meetingProvider is Graph's onlineMeetingProviderType for a join link ("" if unknown).
func meetingProvider(joinURL string) string {
	u, err := url.Parse(strings.TrimSpace(joinURL))
	if err != nil {
		return ""
	}
	h := strings.ToLower(u.Hostname())
	switch {
	case h == "teams.microsoft.com" || strings.HasSuffix(h, ".teams.microsoft.com") || h == "teams.live.com":
		return "teamsForBusiness"
	case strings.HasPrefix(h, "meet.") || strings.HasPrefix(h, "lync.") || strings.Contains(h, "skype"):
		return "skypeForBusiness"
	}
	return ""
}

// cancelledID is Graph's id of a cancelled occurrence: "OID.<masterId>.<date>", the date
// of the occurrence's original start in the series' zone (all-day: its date).
func cancelledID(masterID string, start time.Time, zone string, allDay bool) string {
	var d time.Time
	switch loc, ok := tz.Location(zone); {
	case allDay:
		d = allDayDate(start, zone)
	case ok:
		d = start.In(loc)
	default:
		d = start.UTC()
	}
	return "OID." + masterID + "." + d.Format(time.DateOnly)
}

// gwEvent builds the Graph event payload of a calendar item: for a series master its
// exceptions (the full items GetItem returned for ModifiedOccurrences, any order) become
// exceptionOccurrences (originalStart from the master's list) and its DeletedOccurrences
// cancelledOccurrences; atts are the item's file attachments with their content
// (GetAttachment), written as Graph fileAttachments.
func gwEvent(it *gwCalendarItem, exceptions []*gwCalendarItem, atts []gwFileAttachment) ([]byte, error) {
	ev, err := eventOf(it, "", time.Time{})
	if err != nil {
		return nil, err
	}
	as := []models.Attachmentable{}
	for _, a := range atts {
		fa, err := fileAttachment(a)
		if err != nil {
			return nil, fmt.Errorf("calendar item %s: %w", it.ItemID.ID, err)
		}
		as = append(as, fa)
	}
	ev.SetAttachments(as)
	if str := ev.GetTypeEscaped(); str != nil && *str == models.SERIESMASTER_EVENTTYPE {
		orig := map[string]time.Time{}
		for _, o := range it.ModifiedOccurrences {
			if t, ok := parseEWSTime(o.OriginalStart); ok {
				orig[o.ItemID.ID] = t
			}
		}
		xs := []models.Eventable{}
		for _, x := range exceptions {
			os, ok := orig[x.ItemID.ID]
			if !ok {
				if os, ok = parseEWSTime(x.OriginalStart); !ok {
					return nil, fmt.Errorf("calendar item %s: exception %s without an original start", it.ItemID.ID, x.ItemID.ID)
				}
			}
			if x.StartTimeZone == nil && x.StartTimeZoneID == "" && x.TimeZone == "" {
				x.StartTimeZone, x.EndTimeZone = it.StartTimeZone, it.EndTimeZone
				x.StartTimeZoneID, x.EndTimeZoneID = it.StartTimeZoneID, it.EndTimeZoneID
			}
			xe, err := eventOf(x, it.ItemID.ID, os)
			if err != nil {
				return nil, err
			}
			xe.SetTypeEscaped(ptr(models.EXCEPTION_EVENTTYPE))
			xs = append(xs, xe)
		}
		ev.SetExceptionOccurrences(xs)
		cs := []string{}
		for _, d := range it.DeletedOccurrences {
			t, ok := parseEWSTime(d)
			if !ok {
				return nil, fmt.Errorf("calendar item %s: deleted occurrence with an unreadable Start %q", it.ItemID.ID, d)
			}
			cs = append(cs, cancelledID(it.ItemID.ID, t, it.startZone(), it.IsAllDayEvent))
		}
		ev.SetCancelledOccurrences(cs)
	}
	return graphJSON(ev)
}
