package graph

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/bascule-migrate/bascule/sim/tenant"
)

func eventBySubject(t *testing.T, ten *tenant.Tenant, user, subject string) tenant.Event {
	t.Helper()
	for _, e := range ten.Events(user, "") {
		if e.Subject == subject {
			return e
		}
	}
	t.Fatalf("no event %q", subject)
	return tenant.Event{}
}

func tzHeaders(zone string) *abs.RequestHeaders {
	h := abs.NewRequestHeaders()
	if zone != "" {
		h.Add("Prefer", `outlook.timezone="`+zone+`"`)
	}
	return h
}

func TestSDKCalendars(t *testing.T) {
	s, ten := start(t, Options{})
	ctx := context.Background()
	gc, adapter := sdk(t, s, secretCred(t, s, testSecret), true)
	u := ten.Users()[0]
	ub := gc.Users().ByUserId(u.ID)

	cp, err := ub.Calendars().Get(ctx, nil)
	if err != nil {
		t.Fatalf("Calendars().Get() = %v", err)
	}
	cals := cp.GetValue()
	if len(cals) != 3 || !*cals[0].GetIsDefaultCalendar() || *cals[1].GetHexColor() != "#5fbf6a" || cals[1].GetColor().String() != "lightGreen" ||
		*cals[2].GetCanEdit() || *cals[2].GetOwner().GetAddress() != ten.Users()[1].Mail {
		t.Fatalf("calendars: %d, default %v, hexColor %v, shared canEdit %v owner %v", len(cals), *cals[0].GetIsDefaultCalendar(),
			*cals[1].GetHexColor(), *cals[min(2, len(cals)-1)].GetCanEdit(), *cals[min(2, len(cals)-1)].GetOwner().GetAddress())
	}
	def, err := ub.Calendar().Get(ctx, nil)
	if err != nil || *def.GetId() != *cals[0].GetId() || *def.GetName() != "Calendar" {
		t.Fatalf("Calendar().Get() = %v, %v", def, err)
	}
	one, err := ub.Calendars().ByCalendarId(*cals[2].GetId()).Get(ctx, nil)
	if err != nil || *one.GetName() != ten.Users()[1].DisplayName {
		t.Fatalf("shared calendar = %v, %v", one, err)
	}

	// Events of the default calendar, 4 per page: single instances and series masters only.
	top := int32(4)
	ep, err := ub.Events().Get(ctx, &users.ItemEventsRequestBuilderGetRequestConfiguration{QueryParameters: &users.ItemEventsRequestBuilderGetQueryParameters{Top: &top}})
	if err != nil {
		t.Fatalf("Events().Get() = %v", err)
	}
	if ep.GetOdataNextLink() == nil || !strings.HasPrefix(*ep.GetOdataNextLink(), s.GraphEndpoint()) {
		t.Fatalf("events nextLink = %v", ep.GetOdataNextLink())
	}
	got := map[string]models.Eventable{}
	it, _ := msgraphcore.NewPageIterator[models.Eventable](ep, adapter, models.CreateEventCollectionResponseFromDiscriminatorValue)
	if err := it.Iterate(ctx, func(e models.Eventable) bool { got[*e.GetId()] = e; return true }); err != nil {
		t.Fatalf("Iterate(events) = %v", err)
	}
	want := ten.Events(u.ID, *cals[0].GetId())
	if len(got) != len(want) {
		t.Fatalf("listed %d events, default calendar has %d", len(got), len(want))
	}
	for _, e := range want {
		g := got[e.ID]
		if g == nil {
			t.Fatalf("event %q missing", e.Subject)
		}
		if g.GetTypeEscaped().String() != e.Type || *g.GetSubject() != e.Subject || *g.GetChangeKey() != e.ChangeKey || *g.GetOriginalStartTimeZone() != e.StartZone {
			t.Errorf("event %q: type %v subject %q changeKey %v zone %v", e.Subject, g.GetTypeEscaped(), *g.GetSubject(), *g.GetChangeKey(), *g.GetOriginalStartTimeZone())
		}
		if g.GetStart().GetTimeZone() == nil || *g.GetStart().GetTimeZone() != "UTC" {
			t.Errorf("event %q: start zone %v, want UTC", e.Subject, g.GetStart().GetTimeZone())
		}
		if e.Type == "seriesMaster" && (g.GetRecurrence() == nil || g.GetRecurrence().GetPattern().GetTypeEscaped().String() != e.Recurrence.Pattern.Type) {
			t.Errorf("event %q: recurrence %v", e.Subject, g.GetRecurrence())
		}
		if g.GetCancelledOccurrences() != nil || g.GetExceptionOccurrences() != nil {
			t.Errorf("event %q: cancelledOccurrences/exceptionOccurrences without $select/$expand", e.Subject)
		}
	}
	// Special events: split zones, custom zone, all-day, attendees, online meeting.
	flight := got[eventBySubject(t, ten, u.ID, "Vol AF 346 Paris → Montréal ✈").ID]
	if *flight.GetOriginalStartTimeZone() != "Romance Standard Time" || *flight.GetOriginalEndTimeZone() != "Eastern Standard Time" ||
		*flight.GetStart().GetDateTime() != "2026-09-14T08:30:00.0000000" || *flight.GetEnd().GetDateTime() != "2026-09-14T16:45:00.0000000" {
		t.Errorf("split-zone event: %v %v %v %v", *flight.GetOriginalStartTimeZone(), *flight.GetOriginalEndTimeZone(), *flight.GetStart().GetDateTime(), *flight.GetEnd().GetDateTime())
	}
	tokyo := got[eventBySubject(t, ten, u.ID, "Appel avec l'équipe de Tokyo 東京").ID]
	if *tokyo.GetOriginalStartTimeZone() != "tzone://Microsoft/Custom" || tokyo.GetTypeEscaped().String() != "singleInstance" || *tokyo.GetStart().GetDateTime() != "2026-05-20T07:00:00.0000000" {
		t.Errorf("custom-zone event: %v %v", *tokyo.GetOriginalStartTimeZone(), *tokyo.GetStart().GetDateTime())
	}
	seminar := got[eventBySubject(t, ten, u.ID, "Séminaire d'équipe à Annecy").ID]
	if !*seminar.GetIsAllDay() || *seminar.GetStart().GetDateTime() != "2026-06-08T00:00:00.0000000" || *seminar.GetEnd().GetDateTime() != "2026-06-11T00:00:00.0000000" {
		t.Errorf("multi-day all-day event: %v .. %v", *seminar.GetStart().GetDateTime(), *seminar.GetEnd().GetDateTime())
	}
	hebdoT := eventBySubject(t, ten, u.ID, "Point hebdo équipe")
	hebdo := got[hebdoT.ID]
	var kinds []string
	for _, a := range hebdo.GetAttendees() {
		kinds = append(kinds, a.GetTypeEscaped().String()+"/"+a.GetStatus().GetResponse().String())
	}
	if !slices.Equal(kinds, []string{"required/accepted", "optional/tentativelyAccepted", "required/none", "resource/accepted"}) ||
		!*hebdo.GetIsOnlineMeeting() || hebdo.GetOnlineMeetingProvider().String() != "teamsForBusiness" ||
		!strings.HasPrefix(*hebdo.GetOnlineMeeting().GetJoinUrl(), "https://teams.microsoft.com/l/meetup-join/") ||
		*hebdo.GetReminderMinutesBeforeStart() != 15 || !*hebdo.GetIsReminderOn() || hebdo.GetBody().GetContentType().String() != "html" ||
		*hebdo.GetOrganizer().GetEmailAddress().GetAddress() != u.Mail || hebdo.GetRecurrence().GetRangeEscaped().GetRecurrenceTimeZone() == nil {
		t.Errorf("weekly meeting fields: attendees %v online %v", kinds, *hebdo.GetIsOnlineMeeting())
	}

	// $select=cancelledOccurrences and $expand=exceptionOccurrences.
	m, err := ub.Events().ByEventId(hebdoT.ID).Get(ctx, &users.ItemEventsEventItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemEventsEventItemRequestBuilderGetQueryParameters{
			Select: []string{"subject", "type", "cancelledOccurrences", "start"}, Expand: []string{"exceptionOccurrences"}}})
	if err != nil {
		t.Fatalf("master with cancelledOccurrences = %v", err)
	}
	if c := m.GetCancelledOccurrences(); !slices.Equal(c, []string{"OID." + hebdoT.ID + ".2026-04-14", "OID." + hebdoT.ID + ".2026-12-29"}) {
		t.Errorf("cancelledOccurrences = %v", c)
	}
	if m.GetBody() != nil {
		t.Errorf("$select ignored on an event")
	}
	xs := m.GetExceptionOccurrences()
	if len(xs) != 3 {
		t.Fatalf("exceptionOccurrences: %d, want 3", len(xs))
	}
	if x := xs[0]; x.GetTypeEscaped().String() != "exception" || *x.GetSeriesMasterId() != hebdoT.ID || !x.GetOriginalStart().Equal(time.Date(2026, 3, 31, 8, 0, 0, 0, time.UTC)) ||
		*x.GetStart().GetDateTime() != "2026-03-31T12:00:00.0000000" || *x.GetId() != tenant.OccurrenceID(hebdoT.ID, time.Date(2026, 3, 31, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("moved exception: type %v master %v originalStart %v start %v", x.GetTypeEscaped(), *x.GetSeriesMasterId(), x.GetOriginalStart(), *x.GetStart().GetDateTime())
	}
	if *xs[1].GetSubject() != "Point hebdo — spécial budget 💶" || len(xs[2].GetAttendees()) != 3 {
		t.Errorf("changed-subject / changed-attendees exceptions: %q, %d attendees", *xs[1].GetSubject(), len(xs[2].GetAttendees()))
	}

	// Attachments: $expand and the attachments collection, small and large, byte-exact.
	revueT := eventBySubject(t, ten, u.ID, "Revue de projet Hélios")
	rv, err := ub.Events().ByEventId(revueT.ID).Get(ctx, &users.ItemEventsEventItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemEventsEventItemRequestBuilderGetQueryParameters{Expand: []string{"attachments"}}})
	if err != nil || len(rv.GetAttachments()) != 2 || !*rv.GetHasAttachments() || len(rv.GetLocations()) != 2 || rv.GetImportance().String() != "high" {
		t.Fatalf("event with attachments = %v, %v", rv, err)
	}
	al, err := ub.Events().ByEventId(revueT.ID).Attachments().Get(ctx, nil)
	if err != nil || len(al.GetValue()) != 2 {
		t.Fatalf("Attachments().Get() = %v, %v", al, err)
	}
	for i, a := range al.GetValue() {
		fa, ok := a.(models.FileAttachmentable)
		if !ok {
			t.Fatalf("attachment %d is %T, want a fileAttachment", i, a)
		}
		if want := revueT.Attachments[i].Bytes(); string(fa.GetContentBytes()) != string(want) || int64(*fa.GetSize()) != revueT.Attachments[i].Size {
			t.Errorf("attachment %q: %d bytes, want %d", *fa.GetName(), len(fa.GetContentBytes()), len(want))
		}
	}
	if revueT.Attachments[1].Size < 3<<20 {
		t.Errorf("large attachment is only %d bytes", revueT.Attachments[1].Size)
	}

	// Errors.
	_, err = ub.Events().ByEventId("AAMkAnope").Get(ctx, nil)
	var oe *odataerrors.ODataError
	if !errors.As(err, &oe) || oe.ResponseStatusCode != 404 || *oe.GetErrorEscaped().GetCode() != "ErrorItemNotFound" {
		t.Errorf("unknown event: %v", err)
	}
	_, err = ub.CalendarView().Get(ctx, nil)
	if !errors.As(err, &oe) || oe.ResponseStatusCode != 400 {
		t.Errorf("calendarView without a window: %v, want 400", err)
	}
	if c := s.Counts(); c["calendars"] != 1 || c["calendar"] != 2 || c["events"] < 2 || c["event"] != 3 || c["event.attachments"] != 1 || c["calendarView"] != 1 {
		t.Errorf("Counts() = %v", c)
	}
}

// instanceList pages through /events/{id}/instances or /calendarView.
func listView(ctx context.Context, t *testing.T, gc *msgraphsdk.GraphServiceClient, adapter *msgraphsdk.GraphRequestAdapter, user, master, zone string, from, to time.Time) []models.Eventable {
	t.Helper()
	a, b := from.Format(time.RFC3339), to.Format(time.RFC3339)
	top := int32(7)
	var page models.EventCollectionResponseable
	var err error
	if master != "" {
		page, err = gc.Users().ByUserId(user).Events().ByEventId(master).Instances().Get(ctx, &users.ItemEventsItemInstancesRequestBuilderGetRequestConfiguration{
			Headers: tzHeaders(zone), QueryParameters: &users.ItemEventsItemInstancesRequestBuilderGetQueryParameters{StartDateTime: &a, EndDateTime: &b, Top: &top}})
	} else {
		page, err = gc.Users().ByUserId(user).CalendarView().Get(ctx, &users.ItemCalendarViewRequestBuilderGetRequestConfiguration{
			Headers: tzHeaders(zone), QueryParameters: &users.ItemCalendarViewRequestBuilderGetQueryParameters{StartDateTime: &a, EndDateTime: &b, Top: &top}})
	}
	if err != nil {
		t.Fatalf("instances/calendarView(%s) = %v", master, err)
	}
	var out []models.Eventable
	it, _ := msgraphcore.NewPageIterator[models.Eventable](page, adapter, models.CreateEventCollectionResponseFromDiscriminatorValue)
	it.SetHeaders(tzHeaders(zone)) // the iterator does not carry the first request's headers over
	if err := it.Iterate(ctx, func(e models.Eventable) bool { out = append(out, e); return true }); err != nil {
		t.Fatalf("Iterate = %v", err)
	}
	return out
}

func TestSDKInstancesDST(t *testing.T) {
	s, ten := start(t, Options{})
	ctx := context.Background()
	gc, adapter := sdk(t, s, secretCred(t, s, testSecret), true)
	u := ten.Users()[1]
	hebdo := eventBySubject(t, ten, u.ID, "Point hebdo équipe")
	from, to := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)

	// In Paris time every occurrence is at 10:00, before and after both changes; the moved
	// exception at 14:00; the two cancelled ones are absent.
	paris := listView(ctx, t, gc, adapter, u.ID, hebdo.ID, "Romance Standard Time", from, to)
	byDate := map[string]string{}
	for _, e := range paris {
		d, hm, _ := strings.Cut(*e.GetStart().GetDateTime(), "T")
		byDate[d] = hm + " " + e.GetTypeEscaped().String()
		if *e.GetStart().GetTimeZone() != "Romance Standard Time" || *e.GetSeriesMasterId() != hebdo.ID {
			t.Errorf("instance %s: zone %s master %s", d, *e.GetStart().GetTimeZone(), *e.GetSeriesMasterId())
		}
	}
	for d, want := range map[string]string{
		"2026-03-24": "10:00:00.0000000 occurrence", // CET
		"2026-03-31": "14:00:00.0000000 exception",  // moved
		"2026-04-07": "10:00:00.0000000 occurrence", // CEST
		"2026-06-16": "10:00:00.0000000 exception",  // subject changed
		"2026-10-20": "10:00:00.0000000 occurrence", // CEST
		"2026-10-27": "10:00:00.0000000 occurrence", // CET again
	} {
		if byDate[d] != want {
			t.Errorf("%s: %q, want %q", d, byDate[d], want)
		}
	}
	if _, ok := byDate["2026-04-14"]; ok {
		t.Errorf("cancelled occurrence of 2026-04-14 listed")
	}
	if _, ok := byDate["2026-12-29"]; ok {
		t.Errorf("cancelled occurrence of 2026-12-29 listed")
	}
	if len(paris) != 50 { // 52 Tuesdays in 2026 from 6 January, 2 cancelled
		t.Errorf("%d instances in 2026, want 50", len(paris))
	}
	// In UTC: 09:00 in winter, 08:00 in summer.
	utc := listView(ctx, t, gc, adapter, u.ID, hebdo.ID, "", from, to)
	if len(utc) != len(paris) {
		t.Fatalf("%d instances in UTC, %d in Paris time", len(utc), len(paris))
	}
	for i, e := range utc {
		st, _ := time.Parse(graphTime, *e.GetStart().GetDateTime())
		local, _ := time.ParseInLocation(graphTime, *paris[i].GetStart().GetDateTime(), mustLoc(t, "Europe/Paris"))
		if !st.Equal(local) || *e.GetId() != *paris[i].GetId() || *e.GetStart().GetTimeZone() != "UTC" {
			t.Errorf("instance %d: %v UTC vs %v Paris (ids %s %s)", i, st, local, *e.GetId(), *paris[i].GetId())
		}
	}
	// An IANA name works too, with Preference-Applied.
	res := rawGetPrefer(t, s, "/users/"+u.ID+"/events/"+hebdo.ID+"/instances?startDateTime=2026-07-01T00:00:00Z&endDateTime=2026-07-08T00:00:00Z", `outlook.timezone="America/New_York"`)
	if pa := res.Header.Get("Preference-Applied"); pa != `outlook.timezone="America/New_York"` {
		t.Errorf("Preference-Applied = %q", pa)
	}
	var body struct {
		Value []struct {
			Start struct{ DateTime, TimeZone string }
		}
	}
	json.NewDecoder(res.Body).Decode(&body)
	res.Body.Close()
	if len(body.Value) != 1 || body.Value[0].Start.DateTime != "2026-07-07T04:00:00.0000000" || body.Value[0].Start.TimeZone != "America/New_York" {
		t.Errorf("instances in New York time: %+v", body.Value)
	}

	// calendarView agrees with instances for every series, and lists single instances.
	view := listView(ctx, t, gc, adapter, u.ID, "", "", from, to)
	series := map[string][]string{}
	singles := 0
	for _, e := range view {
		switch e.GetTypeEscaped().String() {
		case "occurrence", "exception":
			series[*e.GetSeriesMasterId()] = append(series[*e.GetSeriesMasterId()], *e.GetId()+"@"+*e.GetStart().GetDateTime())
		case "singleInstance":
			singles++
		default:
			t.Errorf("calendarView lists a %v", e.GetTypeEscaped())
		}
	}
	if singles < 5 {
		t.Errorf("calendarView: %d single instances", singles)
	}
	for _, m := range ten.Events(u.ID, ten.Calendars(u.ID)[0].ID) {
		if m.Type != "seriesMaster" {
			continue
		}
		var inst []string
		for _, e := range listView(ctx, t, gc, adapter, u.ID, m.ID, "", from, to) {
			inst = append(inst, *e.GetId()+"@"+*e.GetStart().GetDateTime())
		}
		if !slices.Equal(inst, series[m.ID]) {
			t.Errorf("%q: instances %d and calendarView %d differ", m.Subject, len(inst), len(series[m.ID]))
		}
	}
	// A single instance has no instances.
	if l := listView(ctx, t, gc, adapter, u.ID, eventBySubject(t, ten, u.ID, "Salon VivaTech").ID, "", from, to); len(l) != 0 {
		t.Errorf("instances of a single instance: %d", len(l))
	}
}

func mustLoc(t *testing.T, name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func rawGetPrefer(t *testing.T, s *Server, path, prefer string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.GraphEndpoint()+path, nil)
	req.Header.Set("Authorization", "Bearer "+rawToken(t, s))
	req.Header.Set("Prefer", prefer)
	res, err := (&http.Client{Transport: transport(t, s, false)}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

type viewItem struct {
	removed bool
	ev      models.Eventable
}

func viewDelta(ctx context.Context, t *testing.T, gc *msgraphsdk.GraphServiceClient, user, link string, from, to time.Time) (map[string]viewItem, string, int, error) {
	t.Helper()
	b := gc.Users().ByUserId(user).CalendarView().Delta()
	a, z := from.Format(time.RFC3339), to.Format(time.RFC3339)
	h := abs.NewRequestHeaders()
	h.Add("Prefer", "odata.maxpagesize=9")
	cfg := &users.ItemCalendarViewDeltaRequestBuilderGetRequestConfiguration{Headers: h,
		QueryParameters: &users.ItemCalendarViewDeltaRequestBuilderGetQueryParameters{StartDateTime: &a, EndDateTime: &z}}
	if link != "" {
		b, cfg.QueryParameters = b.WithUrl(link), nil
	}
	items := map[string]viewItem{}
	pages := 0
	for {
		resp, err := b.GetAsDeltaGetResponse(ctx, cfg)
		if err != nil {
			return nil, "", pages, err
		}
		pages++
		for _, e := range resp.GetValue() {
			_, removed := e.GetAdditionalData()["@removed"]
			items[*e.GetId()] = viewItem{removed, e}
		}
		if next := resp.GetOdataNextLink(); next != nil {
			if resp.GetOdataDeltaLink() != nil {
				t.Fatal("a page with both nextLink and deltaLink")
			}
			b, cfg.QueryParameters = b.WithUrl(*next), nil
			continue
		}
		if resp.GetOdataDeltaLink() == nil {
			t.Fatal("last page without deltaLink")
		}
		return items, *resp.GetOdataDeltaLink(), pages, nil
	}
}

func TestSDKCalendarViewDelta(t *testing.T) {
	s, ten := start(t, Options{})
	ctx := context.Background()
	gc, _ := sdk(t, s, secretCred(t, s, testSecret), true)
	u := ten.Users()[0]
	from, to := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	first, link, pages, err := viewDelta(ctx, t, gc, u.ID, "", from, to)
	if err != nil {
		t.Fatalf("initial calendarView delta = %v", err)
	}
	var want int
	for _, e := range ten.Events(u.ID, ten.Calendars(u.ID)[0].ID) {
		l, _ := e.Instances(from, to)
		want += len(l)
	}
	if len(first) != want || pages < 2 {
		t.Fatalf("initial delta: %d items in %d pages, want %d", len(first), pages, want)
	}
	none, link, _, err := viewDelta(ctx, t, gc, u.ID, link, from, to)
	if err != nil || len(none) != 0 {
		t.Fatalf("delta without changes: %d items, %v", len(none), err)
	}

	// Mutations: a single event's subject, a cancelled occurrence, a changed exception, a
	// deleted event, a new event, an event moved out of the window.
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	hebdo := eventBySubject(t, ten, u.ID, "Point hebdo équipe")
	medical := eventBySubject(t, ten, u.ID, "Rendez-vous médical")
	revue := eventBySubject(t, ten, u.ID, "Revue de projet Hélios")
	flight := eventBySubject(t, ten, u.ID, "Vol AF 346 Paris → Montréal ✈")
	must(ten.SetEventSubject(u.ID, medical.ID, "Rendez-vous chez le dentiste"))
	cancelled := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	must(ten.CancelOccurrence(u.ID, hebdo.ID, cancelled))
	must(ten.SetEventSubject(u.ID, hebdo.Exceptions[2].ID, "Point hebdo (invités changés)"))
	must(ten.DeleteEvent(u.ID, revue.ID))
	must(ten.MoveEvent(u.ID, flight.ID, -365*24*time.Hour))
	added, err := ten.AddEvent(u.ID, "", tenant.Event{Subject: "Nouvelle réunion", Start: time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC),
		End: time.Date(2026, 10, 1, 13, 0, 0, 0, time.UTC), StartZone: "UTC", ShowAs: "busy"})
	must(err)
	changes, link, _, err := viewDelta(ctx, t, gc, u.ID, link, from, to)
	if err != nil {
		t.Fatalf("delta after changes = %v", err)
	}
	if c := changes[medical.ID]; c.removed || c.ev == nil || *c.ev.GetSubject() != "Rendez-vous chez le dentiste" {
		t.Errorf("changed subject not reported: %+v", c)
	}
	occ := tenant.OccurrenceID(hebdo.ID, cancelled)
	if !changes[occ].removed || !changes[revue.ID].removed || !changes[flight.ID].removed {
		t.Errorf("@removed missing: cancelled occurrence %v, deleted %v, moved out %v", changes[occ].removed, changes[revue.ID].removed, changes[flight.ID].removed)
	}
	if c := changes[hebdo.Exceptions[2].ID]; c.ev == nil || *c.ev.GetSubject() != "Point hebdo (invités changés)" {
		t.Errorf("changed exception not reported")
	}
	if c := changes[added.ID]; c.ev == nil || c.removed {
		t.Errorf("new event not reported")
	}
	// Changing the master's exception changes the master's change key: its occurrences come
	// again; other series do not.
	for id, c := range changes {
		if c.ev != nil && c.ev.GetSeriesMasterId() != nil && *c.ev.GetSeriesMasterId() != hebdo.ID {
			t.Errorf("unchanged series reported: %s", id)
		}
	}

	// 410 for an expired or unknown token.
	for _, bad := range []string{link, strings.Replace(link, "deltatoken=", "deltatoken=nope", 1)} {
		if bad == link {
			ten.ExpireDeltaTokens()
		}
		_, _, _, err = viewDelta(ctx, t, gc, u.ID, bad, from, to)
		var oe *odataerrors.ODataError
		if !errors.As(err, &oe) || oe.ResponseStatusCode != http.StatusGone || *oe.GetErrorEscaped().GetCode() != "SyncStateNotFound" {
			t.Errorf("delta with token %q: %v, want 410", bad[strings.Index(bad, "?"):], err)
		}
	}
}

func TestGroupwareFaultsAndThrottle(t *testing.T) {
	s, ten := start(t, Options{Throttle: Throttle{Requests: 2, Window: time.Minute}})
	token := rawToken(t, s)
	u := ten.Users()[0]
	s.SetFaults(Faults{Seed: 1, Rate503: 1, Only: []string{"todo.lists"}})
	res, err := rawGet(t, s, token, "/users/"+u.ID+"/todo/lists")
	if err != nil || res.StatusCode != 503 {
		t.Fatalf("todo lists with Rate503=1: %v %v", res.StatusCode, err)
	}
	res.Body.Close()
	s.SetFaults(Faults{})
	// The injected 503 did not reach the limiter; two more requests fill the window.
	for _, p := range []string{"/contacts", "/events"} {
		res, _ = rawGet(t, s, token, "/users/"+u.ID+p)
		res.Body.Close()
	}
	if res, err = rawGet(t, s, token, "/users/"+u.ID+"/calendars"); err != nil || res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third groupware request in the window: %v %v, want 429", res.StatusCode, err)
	}
	res.Body.Close()
}
