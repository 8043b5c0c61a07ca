package ical

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bascule-migrate/bascule/transform"
	"github.com/bascule-migrate/bascule/transform/tz"
	ics "github.com/emersion/go-ical"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// Event converts a calendar record's payload (model.Record.Payload: a Graph event, a series
// master with its exceptionOccurrences and cancelledOccurrences) into one VCALENDAR.
func Event(payload []byte, opt Options) (Result, error) {
	v, err := parseJSON(payload, models.CreateEventFromDiscriminatorValue)
	if err != nil {
		return Result{}, err
	}
	ev, ok := v.(models.Eventable)
	if !ok {
		return Result{}, fmt.Errorf("not a Graph event")
	}
	b := newBuilder(opt)
	uid := cleanParam(str(ev.GetICalUId()))
	if uid == "" {
		id := str(ev.GetId())
		if id == "" {
			return Result{}, fmt.Errorf("event without id nor iCalUId")
		}
		uid = deriveUID(id)
	}
	typ := ""
	if t := ev.GetTypeEscaped(); t != nil {
		typ = t.String()
	}
	if typ == "seriesMaster" && ev.GetRecurrence() != nil {
		return b.series(ev, uid)
	}
	switch typ {
	case "seriesMaster":
		b.warnf("series master without recurrence: written as a single event")
	case "occurrence", "exception":
		b.warnf("%s given without its series: written as a single event", typ)
	}
	tm, err := b.timing(ev, "the event", nil)
	if err != nil {
		return Result{}, err
	}
	c := b.vevent(ev, uid)
	b.setTiming(c, tm, tm.start)
	return b.finish([]*ics.Component{c}, uid, time.Time{})
}

// timing is where an event sits: instants for a timed event, dates (midnight UTC) for an
// all-day one; its start and end zones.
type timing struct {
	allDay           bool
	start, end       time.Time
	startLoc, endLoc *time.Location
}

// timing reads an event's start and end. inherit (the master's timing) gives the zones of
// an exception that names none.
func (b *builder) timing(ev models.Eventable, what string, inherit *timing) (timing, error) {
	var tm timing
	s, e := ev.GetStart(), ev.GetEnd()
	if s == nil {
		return tm, fmt.Errorf("%s has no start", what)
	}
	sdt, szone := str(s.GetDateTime()), str(s.GetTimeZone())
	var edt, ezone string
	if e != nil {
		edt, ezone = str(e.GetDateTime()), str(e.GetTimeZone())
	}
	if boolv(ev.GetIsAllDay()) {
		tm.allDay = true
		var ok bool
		if tm.start, ok = graphDate(sdt); !ok {
			return tm, fmt.Errorf("%s has an unreadable start %q", what, sdt)
		}
		if tm.end, ok = graphDate(edt); !ok || !tm.end.After(tm.start) {
			tm.end = tm.start.AddDate(0, 0, 1)
		}
		tm.startLoc, tm.endLoc = time.UTC, time.UTC
		return tm, nil
	}
	var ok bool
	if tm.start, ok = b.graphTime(sdt, szone, what); !ok {
		return tm, fmt.Errorf("%s has an unreadable start %q", what, sdt)
	}
	if tm.end, ok = b.graphTime(edt, ezone, what); !ok || tm.end.Before(tm.start) {
		if edt != "" {
			b.warnf("%s ends (%q) before it starts: written without an end", what, edt)
		}
		tm.end = tm.start
	}
	startID, endID := str(ev.GetOriginalStartTimeZone()), str(ev.GetOriginalEndTimeZone())
	switch {
	case startID == "" && inherit != nil:
		tm.startLoc = inherit.startLoc
	case startID == "" && szone != "" && !strings.EqualFold(szone, "UTC"):
		tm.startLoc = b.zone(szone, what)
	default:
		tm.startLoc = b.zone(startID, what)
	}
	switch {
	case endID == "" && inherit != nil:
		tm.endLoc = inherit.endLoc
	case endID == "":
		tm.endLoc = tm.startLoc
	case endID == startID:
		tm.endLoc = tm.startLoc
	default:
		tm.endLoc = b.zone(endID, what)
	}
	return tm, nil
}

// setTiming writes DTSTART/DTEND for an event starting at start (an instant, or a date for
// an all-day event) with tm's length and zones.
func (b *builder) setTiming(c *ics.Component, tm timing, start time.Time) {
	if tm.allDay {
		c.Props.Set(dateProp(ics.PropDateTimeStart, start))
		days := int(tm.end.Sub(tm.start).Hours()/24 + 0.5)
		c.Props.Set(dateProp(ics.PropDateTimeEnd, start.AddDate(0, 0, max(days, 1))))
		return
	}
	c.Props.Set(b.timeProp(ics.PropDateTimeStart, start, tm.startLoc))
	if d := tm.end.Sub(tm.start); d > 0 {
		c.Props.Set(b.timeProp(ics.PropDateTimeEnd, start.Add(d), tm.endLoc))
	}
}

// series writes a series master with its RRULE, EXDATEs and one override per exception.
func (b *builder) series(ev models.Eventable, uid string) (Result, error) {
	rec, err := parseRecurrence(ev.GetRecurrence())
	if err != nil {
		return Result{}, fmt.Errorf("series: %w", err)
	}
	tm, err := b.timing(ev, "the series", nil)
	if err != nil {
		return Result{}, err
	}
	// The series' zone: occurrences keep their local start time in it.
	loc := tm.startLoc
	if tm.allDay {
		loc = time.UTC
	} else if rec.zoneID != "" && rec.zoneID != str(ev.GetOriginalStartTimeZone()) {
		if l, ok := tz.Location(rec.zoneID); ok {
			loc = l
		}
	}
	tm.startLoc = loc
	local := tm.start.In(loc)
	day := local
	if !rec.startDate.IsZero() {
		day = rec.startDate
	}
	// The pattern applies from range.startDate at the master's local start time.
	base := time.Date(day.Year(), day.Month(), day.Day(), local.Hour(), local.Minute(), local.Second(), 0, loc)

	rule := rec.rule
	switch {
	case !rec.endDate.IsZero() && tm.allDay:
		rule += ";UNTIL=" + rec.endDate.Format(dateLayout)
	case !rec.endDate.IsZero():
		// endDate is inclusive: any occurrence that starts on that local date.
		until := time.Date(rec.endDate.Year(), rec.endDate.Month(), rec.endDate.Day(), 23, 59, 59, 0, loc)
		rule += ";UNTIL=" + until.UTC().Format(utcLayout)
	case rec.count > 0:
		rule += ";COUNT=" + strconv.Itoa(rec.count)
	}
	r, err := ruleSet(rule, base)
	if err != nil {
		return Result{}, fmt.Errorf("series: RRULE %s: %w", rule, err)
	}
	// RFC 5545 counts DTSTART as the first occurrence even when the rule does not pick it;
	// Outlook's first occurrence is the first day the pattern picks from startDate on.
	first := r.After(base, true)
	if first.IsZero() {
		b.warnf("the series has no occurrence: written as a single event")
		c := b.vevent(ev, uid)
		b.setTiming(c, tm, tm.start)
		return b.finish([]*ics.Component{c}, uid, time.Time{})
	}
	if r, err = ruleSet(rule, first); err != nil {
		return Result{}, fmt.Errorf("series: RRULE %s: %w", rule, err)
	}
	isOccurrence := func(t time.Time) bool {
		got := r.Between(t.Add(-time.Second), t.Add(time.Second), true)
		return len(got) > 0 && got[0].Equal(t)
	}

	master := b.vevent(ev, uid)
	b.setTiming(master, tm, first)
	p := ics.NewProp(ics.PropRecurrenceRule)
	p.Value = rule
	master.Props.Set(p)

	// The last instant the zones must describe.
	last := first
	switch {
	case rec.noEnd:
		last = laterOf(first, timeOf(ev.GetLastModifiedDateTime())).AddDate(noEndYears, 0, 0)
	case !rec.endDate.IsZero():
		last = rec.endDate.AddDate(0, 0, 2)
	default:
		if all := r.All(); len(all) > 0 {
			last = all[len(all)-1]
		}
	}
	last = last.Add(tm.end.Sub(tm.start))

	// A recurrence id: the original start as the series writes it (a date for all-day).
	occurrenceOf := func(orig time.Time) time.Time {
		if !tm.allDay {
			return orig.In(loc)
		}
		u := orig.UTC()
		if u.Hour() != 0 || u.Minute() != 0 {
			u = orig.In(b.zone(str(ev.GetOriginalStartTimeZone()), "the series"))
		}
		return time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
	}
	occProp := func(name string, t time.Time) *ics.Prop {
		if tm.allDay {
			return dateProp(name, t)
		}
		return b.timeProp(name, t, loc)
	}

	excluded := map[int64]bool{}
	var exdates []time.Time
	for _, id := range ev.GetCancelledOccurrences() {
		i := strings.LastIndexByte(id, '.')
		d, err := time.Parse(time.DateOnly, id[i+1:])
		if err != nil {
			b.warnf("cancelled occurrence %q not understood: not written", cleanParam(id))
			continue
		}
		t := time.Date(d.Year(), d.Month(), d.Day(), first.Hour(), first.Minute(), first.Second(), 0, loc)
		if excluded[t.Unix()] {
			continue
		}
		if !isOccurrence(t) {
			b.warnf("cancelled occurrence on %s is not an occurrence of the series", d.Format(time.DateOnly))
		}
		excluded[t.Unix()] = true
		exdates = append(exdates, t)
	}
	sort.Slice(exdates, func(i, j int) bool { return exdates[i].Before(exdates[j]) })
	for _, t := range exdates {
		master.Props.Add(occProp(ics.PropExceptionDates, t))
	}

	type override struct {
		at time.Time
		c  *ics.Component
	}
	var overrides []override
	seen := map[int64]bool{}
	for _, x := range ev.GetExceptionOccurrences() {
		if x == nil {
			continue
		}
		orig := timeOf(x.GetOriginalStart())
		if orig.IsZero() {
			b.warnf("an exception without originalStart (%q): not written", cleanParam(str(x.GetSubject())))
			continue
		}
		rid := occurrenceOf(orig)
		what := fmt.Sprintf("the exception of %s", rid.Format(time.DateOnly))
		if excluded[rid.Unix()] {
			b.warnf("%s is also cancelled: written as cancelled", what)
			continue
		}
		if seen[rid.Unix()] {
			b.warnf("%s appears twice: the first is written", what)
			continue
		}
		seen[rid.Unix()] = true
		xt, err := b.timing(x, what, &tm)
		if err != nil {
			b.warnf("%s: %v: not written", what, err)
			continue
		}
		if !isOccurrence(rid) {
			// Keep the override valid: its recurrence id must be an instance of the series.
			b.warnf("%s is not an occurrence of the series as written: added as RDATE", what)
			master.Props.Add(occProp(ics.PropRecurrenceDates, rid))
		}
		c := b.vevent(x, uid)
		b.setTiming(c, xt, xt.start)
		c.Props.Set(occProp(ics.PropRecurrenceID, rid))
		overrides = append(overrides, override{rid, c})
		last = laterOf(last, xt.end)
		b.use(loc, rid)
	}
	sort.Slice(overrides, func(i, j int) bool { return overrides[i].at.Before(overrides[j].at) })
	comps := []*ics.Component{master}
	for _, o := range overrides {
		comps = append(comps, o.c)
	}
	return b.finish(comps, uid, last)
}

func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	if u, ok := inRange(*t); ok {
		return u
	}
	return time.Time{}
}

func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

var (
	partstat = map[string]string{"none": "NEEDS-ACTION", "notResponded": "NEEDS-ACTION", "organizer": "ACCEPTED",
		"accepted": "ACCEPTED", "tentativelyAccepted": "TENTATIVE", "declined": "DECLINED"}
	class = map[string]string{"normal": "PUBLIC", "personal": "PRIVATE", "private": "PRIVATE",
		"confidential": "CONFIDENTIAL"}
	busy = map[string]string{"free": "FREE", "tentative": "TENTATIVE", "busy": "BUSY", "oof": "OOF",
		"workingElsewhere": "WORKINGELSEWHERE"}
	priority = map[string]string{"high": "1", "normal": "5", "low": "9"}
)

// vevent writes the properties of an event other than its times and recurrence.
func (b *builder) vevent(ev models.Eventable, uid string) *ics.Component {
	c := ics.NewComponent(ics.CompEvent)
	textProp(c, ics.PropUID, uid)
	b.stamps(c, ev.GetCreatedDateTime(), ev.GetLastModifiedDateTime())
	subject := str(ev.GetSubject())
	textProp(c, ics.PropSummary, subject)
	b.body(c, ev.GetBody())

	if l := ev.GetLocation(); l != nil && strings.TrimSpace(str(l.GetDisplayName())) != "" {
		textProp(c, ics.PropLocation, str(l.GetDisplayName()))
	} else {
		var names []string
		for _, l := range ev.GetLocations() {
			if l != nil && strings.TrimSpace(str(l.GetDisplayName())) != "" {
				names = append(names, str(l.GetDisplayName()))
			}
		}
		textProp(c, ics.PropLocation, strings.Join(names, "; "))
	}

	// The online meeting's join URL goes in CONFERENCE (RFC 7986) and in URL, which more
	// clients show.
	join := ""
	if om := ev.GetOnlineMeeting(); om != nil {
		join = str(om.GetJoinUrl())
	}
	if join == "" {
		join = str(ev.GetOnlineMeetingUrl())
	}
	if join = strings.TrimSpace(join); join != "" {
		if validURI(join) {
			p := ics.NewProp(ics.PropConference)
			p.Params.Set(ics.ParamValue, string(ics.ValueURI))
			p.Params.Set("FEATURE", "VIDEO")
			if prov := ev.GetOnlineMeetingProvider(); prov != nil {
				if label, ok := map[string]string{"teamsForBusiness": "Microsoft Teams", "skypeForBusiness": "Skype for Business", "skypeForConsumer": "Skype"}[prov.String()]; ok {
					p.Params.Set("LABEL", label)
				}
			}
			p.Value = join
			c.Props.Set(p)
			rawProp(c, ics.PropURL, join)
		} else {
			b.warnf("online meeting URL %q is not a URI: not written", cleanParam(join))
		}
	}

	if o := ev.GetOrganizer(); o != nil && o.GetEmailAddress() != nil {
		ea := o.GetEmailAddress()
		if addr := b.mailto(str(ea.GetAddress())); addr != "" {
			p := ics.NewProp(ics.PropOrganizer)
			if cn := cleanParam(str(ea.GetName())); cn != "" {
				p.Params.Set(ics.ParamCommonName, cn)
			}
			p.Params.Set("SCHEDULE-AGENT", "CLIENT")
			p.Value = addr
			c.Props.Set(p)
		}
	}
	rsvp := boolv(ev.GetResponseRequested())
	seen := map[string]bool{}
	// Attendees are written required first, then optional, then resources, each in the
	// source's order: the order Exchange keeps them in (EWS lists them so), whatever order
	// Graph was given them in, so that one event reads the same through either.
	var attendees [3][]*ics.Prop
	for _, a := range ev.GetAttendees() {
		if a == nil || a.GetEmailAddress() == nil {
			continue
		}
		ea := a.GetEmailAddress()
		name := cleanParam(str(ea.GetName()))
		addr := b.mailto(str(ea.GetAddress()))
		if addr == "" {
			b.warnf("attendee %q has no usable address: not written", name)
			continue
		}
		if seen[strings.ToLower(addr)] {
			continue
		}
		seen[strings.ToLower(addr)] = true
		p := ics.NewProp(ics.PropAttendee)
		if name != "" {
			p.Params.Set(ics.ParamCommonName, name)
		}
		role, rank := "REQ-PARTICIPANT", 0
		if t := a.GetTypeEscaped(); t != nil {
			switch t.String() {
			case "optional":
				role, rank = "OPT-PARTICIPANT", 1
			case "resource":
				role, rank = "NON-PARTICIPANT", 2
				p.Params.Set(ics.ParamCalendarUserType, "RESOURCE")
			}
		}
		p.Params.Set(ics.ParamRole, role)
		ps := "NEEDS-ACTION"
		if st := a.GetStatus(); st != nil && st.GetResponse() != nil {
			if v, ok := partstat[st.GetResponse().String()]; ok {
				ps = v
			}
		}
		p.Params.Set(ics.ParamParticipationStatus, ps)
		if rsvp {
			p.Params.Set(ics.ParamRSVP, "TRUE")
		}
		// Migrating must not send invitations: the server leaves scheduling to the client.
		p.Params.Set("SCHEDULE-AGENT", "CLIENT")
		p.Value = addr
		attendees[rank] = append(attendees[rank], p)
	}
	for _, ps := range attendees {
		for _, p := range ps {
			c.Props.Add(p)
		}
	}

	if boolv(ev.GetIsReminderOn()) {
		mins := 15
		if m := ev.GetReminderMinutesBeforeStart(); m != nil && *m >= 0 {
			mins = int(*m)
		}
		c.Children = append(c.Children, alarm(fmt.Sprintf("-PT%dM", mins), subject))
	}
	if s := ev.GetSensitivity(); s != nil {
		if v, ok := class[s.String()]; ok {
			rawProp(c, ics.PropClass, v)
		}
	}
	b.categories(c, ev.GetCategories())
	if s := ev.GetShowAs(); s != nil {
		if v, ok := busy[s.String()]; ok {
			t := "OPAQUE"
			if v == "FREE" {
				t = "TRANSPARENT"
			}
			rawProp(c, ics.PropTransparency, t)
			rawProp(c, "X-MICROSOFT-CDO-BUSYSTATUS", v)
		}
	}
	if i := ev.GetImportance(); i != nil {
		if v, ok := priority[i.String()]; ok {
			rawProp(c, ics.PropPriority, v)
		}
	}
	if boolv(ev.GetIsCancelled()) {
		rawProp(c, ics.PropStatus, "CANCELLED")
	} else {
		rawProp(c, ics.PropStatus, "CONFIRMED")
	}
	for _, a := range ev.GetAttachments() {
		if a == nil {
			continue
		}
		name := cleanParam(str(a.GetName()))
		ct := str(a.GetContentType())
		switch at := a.(type) {
		case models.FileAttachmentable:
			b.attach(c, name, ct, at.GetContentBytes(), a.GetSize())
		case models.ItemAttachmentable:
			b.warnf("attached item %q (an Outlook item, not a file) not carried", name)
		case models.ReferenceAttachmentable:
			b.warnf("attachment %q is a link to a cloud file: not carried", name)
		default:
			b.warnf("attachment %q of an unknown kind not carried", name)
		}
	}
	return c
}

// stamps writes DTSTAMP (required; the last modification, which keeps the output a pure
// function of the payload), CREATED and LAST-MODIFIED.
func (b *builder) stamps(c *ics.Component, created, modified *time.Time) {
	cr, mo := timeOf(created), timeOf(modified)
	stamp := mo
	if stamp.IsZero() {
		stamp = cr
	}
	if stamp.IsZero() {
		stamp = time.Unix(0, 0)
	}
	c.Props.Set(utcProp(ics.PropDateTimeStamp, stamp))
	if !cr.IsZero() {
		c.Props.Set(utcProp(ics.PropCreated, cr))
	}
	if !mo.IsZero() {
		c.Props.Set(utcProp(ics.PropLastModified, mo))
	}
}

// body writes DESCRIPTION as text; an HTML body is rendered as text and kept whole in
// X-ALT-DESC;FMTTYPE=text/html (read by Outlook and Thunderbird).
func (b *builder) body(c *ics.Component, body models.ItemBodyable) {
	if body == nil {
		return
	}
	content := str(body.GetContent())
	if strings.TrimSpace(content) == "" {
		return
	}
	if ct := body.GetContentType(); ct != nil && ct.String() == "html" {
		textProp(c, ics.PropDescription, transform.HTMLText(content))
		if h := cleanText(content); strings.TrimSpace(h) != "" {
			p := ics.NewProp("X-ALT-DESC")
			p.SetText(h)
			p.Params.Set(ics.ParamFormatType, "text/html")
			c.Props.Set(p)
		}
		return
	}
	textProp(c, ics.PropDescription, content)
}

func (b *builder) categories(c *ics.Component, cats []string) {
	var list []string
	for _, s := range cats {
		if s = strings.TrimSpace(cleanParam(s)); s != "" {
			list = append(list, s)
		}
	}
	if len(list) > 0 {
		p := ics.NewProp(ics.PropCategories)
		p.SetTextList(list)
		c.Props.Set(p)
	}
}

func alarm(trigger, summary string) *ics.Component {
	a := ics.NewComponent(ics.CompAlarm)
	rawProp(a, ics.PropAction, "DISPLAY")
	if strings.TrimSpace(summary) == "" {
		summary = "Reminder"
	}
	textProp(a, ics.PropDescription, summary)
	rawProp(a, ics.PropTrigger, trigger)
	return a
}

// attach inlines a file attachment up to MaxInline, and names it in the warnings otherwise.
func (b *builder) attach(c *ics.Component, name, contentType string, content []byte, size *int32) {
	if len(content) == 0 {
		if size != nil && *size > 0 {
			b.warnf("attachment %q (%d bytes) came without its content: not carried", name, *size)
		}
		return
	}
	if b.opt.MaxInline < 0 || int64(len(content)) > b.opt.MaxInline {
		b.warnf("attachment %q (%d bytes) not carried: larger than the %d bytes carried inline", name, len(content), max(b.opt.MaxInline, 0))
		return
	}
	p := ics.NewProp(ics.PropAttach)
	p.SetBinary(content)
	if mt, _, _ := strings.Cut(contentType, ";"); validMediaType(strings.TrimSpace(mt)) {
		p.Params.Set(ics.ParamFormatType, strings.ToLower(strings.TrimSpace(mt)))
	}
	if name != "" {
		p.Params.Set("FILENAME", name) // RFC 8607
	}
	c.Props.Add(p)
}

func validMediaType(s string) bool {
	t, sub, ok := strings.Cut(s, "/")
	token := func(x string) bool {
		return x != "" && !strings.ContainsFunc(x, func(r rune) bool {
			return r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?=`, r)
		})
	}
	return ok && token(t) && token(sub)
}
