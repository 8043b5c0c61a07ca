package graph

import (
	"cmp"
	"encoding/base64"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bascule-migrate/bascule/sim/tenant"
)

// outputZone reads Prefer: outlook.timezone (a Windows id or an IANA name). Without it, or
// with a zone the emulator does not know, times are in UTC and applied is false.
func outputZone(r *http.Request) (loc *time.Location, name string, applied bool) {
	v, ok := prefer(r)["outlook.timezone"]
	if !ok || v == "" {
		return time.UTC, "UTC", false
	}
	l, err := tenant.Zone(v)
	if err != nil {
		return time.UTC, "UTC", false
	}
	return l, v, true
}

type evOpts struct {
	loc      *time.Location
	zone     string
	textBody bool
	q        params
}

func (s *Server) evOptions(w http.ResponseWriter, r *http.Request, q params) evOpts {
	loc, name, applied := outputZone(r)
	var prefs []string
	if applied {
		prefs = append(prefs, `outlook.timezone="`+name+`"`)
	}
	text := prefer(r)["outlook.body-content-type"] == "text"
	if text {
		prefs = append(prefs, `outlook.body-content-type="text"`)
	}
	if len(prefs) > 0 {
		w.Header().Set("Preference-Applied", strings.Join(prefs, ", "))
	}
	return evOpts{loc: loc, zone: name, textBody: text, q: q}
}

func (s *Server) serveCalendar(w http.ResponseWriter, r *http.Request, q params, u tenant.User, rt route) {
	var cal tenant.Calendar
	if rt.coll != "" || rt.class != "calendars" {
		var err error
		if cal, err = s.ten.Calendar(u.ID, rt.coll); err != nil {
			s.notFound(w, r)
			return
		}
	}
	base := "users('" + u.ID + "')"
	switch rt.class {
	case "calendars":
		cals := s.ten.Calendars(u.ID)
		s.page(w, r, q, base+"/calendars", len(cals), 10, func(i int) map[string]any { return s.selectFields(calendarJSON(cals[i]), q) })
		return
	case "calendar":
		obj := s.selectFields(calendarJSON(cal), q)
		obj["@odata.context"] = s.context(base + "/calendars/$entity")
		s.writeJSON(w, r, http.StatusOK, obj)
		return
	}
	o := s.evOptions(w, r, q)
	switch rt.class {
	case "events":
		evs := s.ten.Events(u.ID, cal.ID)
		s.page(w, r, q, base+"/events", len(evs), 10, func(i int) map[string]any { return s.eventJSON(evs[i], o) })
	case "calendarView":
		from, to, ok := s.parseWindow(w, r, q, o.loc)
		if !ok {
			return
		}
		list, err := s.view(u.ID, cal.ID, from, to)
		if err != nil {
			s.graphError(w, r, http.StatusInternalServerError, "ErrorInternalServerError", err.Error())
			return
		}
		s.page(w, r, q, base+"/calendarView", len(list), 10, func(i int) map[string]any { return s.eventJSON(list[i], o) })
	case "calendarView.delta":
		s.gwDelta(w, r, q, "calendarView|"+u.ID+"|"+cal.ID, "#microsoft.graph.event", "Collection(event)",
			func(st *gwState) bool {
				var ok bool
				st.from, st.to, ok = s.parseWindow(w, r, q, o.loc)
				return ok
			},
			func(st *gwState) []gwItem {
				list, _ := s.view(u.ID, cal.ID, st.from, st.to)
				items := make([]gwItem, len(list))
				for i, e := range list {
					items[i] = gwItem{id: e.ID, version: e.ChangeKey + "|" + e.Start.UTC().Format(time.RFC3339), obj: func() map[string]any {
						return s.eventJSON(e, evOpts{loc: o.loc, zone: o.zone, textBody: o.textBody})
					}}
				}
				return items
			})
	default:
		ev, err := s.ten.Event(u.ID, rt.item)
		if err != nil || (rt.coll != "" && ev.CalendarID != cal.ID) {
			s.notFound(w, r)
			return
		}
		switch rt.class {
		case "event":
			obj := s.eventJSON(ev, o)
			obj["@odata.context"] = s.context(base + "/events/$entity")
			s.writeJSON(w, r, http.StatusOK, obj)
		case "event.instances":
			from, to, ok := s.parseWindow(w, r, q, o.loc)
			if !ok {
				return
			}
			var list []tenant.Event
			if ev.Type == "seriesMaster" {
				if list, err = ev.Instances(from, to); err != nil {
					s.graphError(w, r, http.StatusInternalServerError, "ErrorInternalServerError", err.Error())
					return
				}
			}
			s.page(w, r, q, base+"/events('"+ev.ID+"')/instances", len(list), 10, func(i int) map[string]any { return s.eventJSON(list[i], o) })
		case "event.attachments":
			s.page(w, r, q, base+"/events('"+ev.ID+"')/attachments", len(ev.Attachments), 10, func(i int) map[string]any {
				return s.selectFields(attachmentJSON(ev.Attachments[i]), q)
			})
		case "event.attachment", "event.attachment.value":
			i := slices.IndexFunc(ev.Attachments, func(a tenant.Attachment) bool { return a.ID == rt.sub })
			if i < 0 {
				s.notFound(w, r)
				return
			}
			a := ev.Attachments[i]
			if rt.class == "event.attachment" {
				obj := s.selectFields(attachmentJSON(a), q)
				obj["@odata.context"] = s.context(base + "/events('" + ev.ID + "')/attachments/$entity")
				s.writeJSON(w, r, http.StatusOK, obj)
				return
			}
			b := a.Bytes()
			s.stamp(w, r)
			w.Header().Set("Content-Type", a.ContentType)
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(b)
		}
	}
}

// view returns the single instances, occurrences and exceptions of a calendar that overlap
// [from, to), by start.
func (s *Server) view(userID, calID string, from, to time.Time) ([]tenant.Event, error) {
	var out []tenant.Event
	for _, e := range s.ten.Events(userID, calID) {
		list, err := e.Instances(from, to)
		if err != nil {
			return nil, err
		}
		out = append(out, list...)
	}
	slices.SortStableFunc(out, func(a, b tenant.Event) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

func calendarJSON(c tenant.Calendar) map[string]any {
	return map[string]any{
		"id": c.ID, "name": c.Name, "color": c.Color, "hexColor": c.HexColor, "isDefaultCalendar": c.IsDefault,
		"changeKey": c.ChangeKey, "canShare": c.CanShare, "canViewPrivateItems": c.CanEdit, "canEdit": c.CanEdit,
		"isRemovable": !c.IsDefault, "isTallyingResponses": c.CanEdit,
		"allowedOnlineMeetingProviders": []string{"teamsForBusiness"}, "defaultOnlineMeetingProvider": "teamsForBusiness",
		"owner": map[string]any{"name": c.Owner.Name, "address": c.Owner.Address},
	}
}

func attachmentJSON(a tenant.Attachment) map[string]any {
	return map[string]any{
		"@odata.type": "#microsoft.graph.fileAttachment", "@odata.mediaContentType": a.ContentType,
		"id": a.ID, "lastModifiedDateTime": isoTime(a.Modified), "name": a.Name, "contentType": a.ContentType,
		"size": a.Size, "isInline": a.IsInline, "contentId": nil, "contentLocation": nil,
		"contentBytes": base64.StdEncoding.EncodeToString(a.Bytes()),
	}
}

var tags = regexp.MustCompile(`(?s)<head.*?</head>|<[^>]*>`)

func htmlToText(s string) string {
	return strings.TrimSpace(html.UnescapeString(tags.ReplaceAllString(s, " ")))
}

func preview255(body, typ string) string {
	t := body
	if typ == "html" {
		t = htmlToText(body)
	}
	t = strings.Join(strings.Fields(t), " ")
	if r := []rune(t); len(r) > 255 {
		t = string(r[:255])
	}
	return t
}

func dtz(t time.Time, allDay bool, o evOpts) map[string]any {
	if allDay {
		// All-day events are floating: their dates read the same in every zone.
		return map[string]any{"dateTime": t.UTC().Format(graphTime), "timeZone": o.zone}
	}
	return map[string]any{"dateTime": t.In(o.loc).Format(graphTime), "timeZone": o.zone}
}

func locationJSON(l tenant.Location) map[string]any {
	obj := map[string]any{"displayName": l.DisplayName, "locationType": "default", "uniqueIdType": "unknown", "address": map[string]any{}, "coordinates": map[string]any{}}
	if l.DisplayName == "" {
		return obj
	}
	obj["locationType"] = l.LocationType
	obj["uniqueId"] = l.DisplayName
	obj["uniqueIdType"] = "private"
	if l.UniqueID != "" {
		obj["uniqueId"], obj["uniqueIdType"] = l.UniqueID, "directory"
	}
	if l.Email != "" {
		obj["locationEmailAddress"] = l.Email
	}
	if l.Street+l.City+l.PostalCode+l.Country != "" {
		obj["address"] = map[string]any{"street": l.Street, "city": l.City, "state": l.State, "countryOrRegion": l.Country, "postalCode": l.PostalCode}
	}
	return obj
}

func recurrenceJSON(rc *tenant.Recurrence) any {
	if rc == nil {
		return nil
	}
	p, g := rc.Pattern, rc.Range
	days := p.DaysOfWeek
	if days == nil {
		days = []string{}
	}
	end := g.EndDate
	if end == "" {
		end = "0001-01-01"
	}
	return map[string]any{
		"pattern": map[string]any{"type": p.Type, "interval": p.Interval, "month": p.Month, "dayOfMonth": p.DayOfMonth,
			"daysOfWeek": days, "firstDayOfWeek": cmpOr(p.FirstDayOfWeek, "sunday"), "index": cmpOr(p.Index, "first")},
		"range": map[string]any{"type": g.Type, "startDate": g.StartDate, "endDate": end,
			"recurrenceTimeZone": g.RecurrenceTimeZone, "numberOfOccurrences": g.NumberOfOccurrences},
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func responseJSON(resp string, t time.Time) map[string]any {
	tm := "0001-01-01T00:00:00Z"
	if !t.IsZero() {
		tm = isoTime(t)
	}
	return map[string]any{"response": resp, "time": tm}
}

// expands reports whether $expand names nav (case-insensitive), nested options ignored.
func expands(q params, nav string) bool {
	for _, e := range strings.Split(q["expand"], ",") {
		e, _, _ = strings.Cut(strings.TrimSpace(e), "(")
		if strings.EqualFold(e, nav) {
			return true
		}
	}
	return false
}

func selects(q params, prop string) bool {
	for _, f := range strings.Split(q["select"], ",") {
		if strings.EqualFold(strings.TrimSpace(f), prop) {
			return true
		}
	}
	return false
}

// eventJSON renders an event as Graph v1.0 does: times in UTC unless a zone was preferred,
// cancelledOccurrences only when $select'ed, exceptionOccurrences and attachments only when
// $expand'ed.
func (s *Server) eventJSON(e tenant.Event, o evOpts) map[string]any {
	var atts []any
	for _, a := range e.Attendees {
		atts = append(atts, map[string]any{"type": a.Type, "status": responseJSON(a.Response, a.ResponseTime),
			"emailAddress": map[string]any{"name": a.Email.Name, "address": a.Email.Address}})
	}
	var locs []any
	for _, l := range e.Locations {
		locs = append(locs, locationJSON(l))
	}
	body, btype := e.Body, e.BodyType
	if o.textBody && btype == "html" {
		body, btype = htmlToText(body), "text"
	}
	var master any
	if e.SeriesMasterID != "" {
		master = e.SeriesMasterID
	}
	var online any
	if e.JoinURL != "" {
		online = map[string]any{"joinUrl": e.JoinURL}
	}
	obj := map[string]any{
		"@odata.etag": etag(e.ChangeKey), "id": e.ID, "createdDateTime": isoTime(e.Created), "lastModifiedDateTime": isoTime(e.Modified),
		"changeKey": e.ChangeKey, "categories": nonNilStr(e.Categories), "transactionId": nil,
		"originalStartTimeZone": e.StartZone, "originalEndTimeZone": e.EndZone, "iCalUId": e.ICalUID,
		"reminderMinutesBeforeStart": e.ReminderMins, "isReminderOn": e.ReminderOn, "hasAttachments": len(e.Attachments) > 0,
		"subject": e.Subject, "bodyPreview": preview255(e.Body, e.BodyType), "importance": e.Importance, "sensitivity": e.Sensitivity,
		"isAllDay": e.IsAllDay, "isCancelled": e.IsCancelled, "isOrganizer": e.IsOrganizer, "responseRequested": true,
		"seriesMasterId": master, "showAs": e.ShowAs, "type": e.Type,
		"webLink":          "https://outlook.office365.com/owa/?itemid=" + url.QueryEscape(e.ID) + "&exvsurl=1&path=/calendar/item",
		"onlineMeetingUrl": nil, "isOnlineMeeting": e.JoinURL != "", "onlineMeetingProvider": e.OnlineProvider,
		"allowNewTimeProposals": true, "isDraft": false, "hideAttendees": false,
		"responseStatus": responseJSON(e.Response, e.ResponseTime),
		"body":           map[string]any{"contentType": btype, "content": body},
		"start":          dtz(e.Start, e.IsAllDay, o), "end": dtz(e.End, e.IsAllDay, o),
		"location": locationJSON(e.Location), "locations": nonNil(locs), "recurrence": recurrenceJSON(e.Recurrence),
		"attendees":     nonNil(atts),
		"organizer":     map[string]any{"emailAddress": map[string]any{"name": e.Organizer.Name, "address": e.Organizer.Address}},
		"onlineMeeting": online,
	}
	if e.Type == "occurrence" || e.Type == "exception" {
		obj["originalStart"] = isoTime(e.OriginalStart)
	}
	if selects(o.q, "cancelledOccurrences") {
		c := []string{}
		for _, t := range e.Cancelled {
			c = append(c, e.CancelledOccurrenceID(t))
		}
		obj["cancelledOccurrences"] = c
	}
	obj = s.selectFields(obj, o.q)
	if expands(o.q, "exceptionOccurrences") {
		xs := []any{}
		inner := o
		inner.q = params{}
		for _, x := range e.Exceptions {
			// An exception inherits what it does not override: Graph gives it the
			// series' importance and sensitivity.
			xc := x
			xc.Importance = cmp.Or(xc.Importance, e.Importance)
			xc.Sensitivity = cmp.Or(xc.Sensitivity, e.Sensitivity)
			xs = append(xs, s.eventJSON(xc, inner))
		}
		obj["exceptionOccurrences"] = xs
	}
	if expands(o.q, "attachments") {
		as := []any{}
		for _, a := range e.Attachments {
			as = append(as, attachmentJSON(a))
		}
		obj["attachments"] = as
	}
	return obj
}

func nonNilStr(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}
