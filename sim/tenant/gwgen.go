package tenant

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"strings"
	"time"
)

// Groupware generation. Every mailbox gets the same catalog of calendars, events, contact
// folders, contacts, To Do lists and tasks — each one exercising something Outlook really
// produces (every recurrence pattern and range, exceptions, cancellations, DST, all-day,
// multi-day, split and custom time zones, attachments...) — plus Config.Events,
// Config.Contacts and Config.Tasks generated filler items. Catalog dates are fixed (2024-2027),
// so the same seed gives the same items whatever the day.

func at(zone string, y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, mustZone(zone)).UTC()
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

var genCreated = time.Date(2024, 9, 2, 8, 0, 0, 0, time.UTC)

const (
	paris = "Romance Standard Time"
	ny    = "Eastern Standard Time"
)

func weekly(start string, days []string, interval int, rng RecurrenceRange) *Recurrence {
	rng.StartDate = start
	return &Recurrence{Pattern: RecurrencePattern{Type: "weekly", Interval: interval, DaysOfWeek: days, FirstDayOfWeek: "monday"}, Range: rng}
}

func teamsURL(seed int64, box, n int) string {
	h := sha256.Sum256(fmt.Appendf(nil, "teams/%d/%d/%d", seed, box, n))
	return fmt.Sprintf("https://teams.microsoft.com/l/meetup-join/19%%3ameeting_%x%%40thread.v2/0?context=%%7b%%22Tid%%22%%3a%%22%x%%22%%7d", h[:12], h[12:20])
}

var room = Address{"Salle Everest (12 places)", "salle.everest@" + domain}

func roomLoc() Location {
	return Location{DisplayName: room.Name, LocationType: "conferenceRoom", UniqueID: room.Address, Email: room.Address}
}

// genGroupware fills mailbox b. Callers hold t.mu (generation time).
func (t *Tenant) genGroupware(b *mailbox) {
	g := &groupware{next: map[string]int{}}
	b.gw = g
	fr := b.lang == "fr-FR"
	self := Address{b.user.DisplayName, b.user.Mail}
	var colleagues []Address
	var owner *mailbox
	for i := 1; i < len(t.boxes); i++ {
		ob := t.boxes[(b.index+i)%len(t.boxes)]
		if ob.user.Purpose != "user" {
			continue
		}
		if owner == nil {
			owner = ob
		}
		colleagues = append(colleagues, Address{ob.user.DisplayName, ob.user.Mail})
	}
	for len(colleagues) < 3 {
		colleagues = append(colleagues, externals[len(colleagues)])
	}
	pick := func(fr, en string) string {
		if b.lang == "fr-FR" {
			return fr
		}
		return en
	}
	mkCal := func(c *Calendar) *Calendar {
		c.ID = g.newID(t.cfg.Seed, b.index, "cal")
		t.seq++
		c.Seq, c.ChangeKey = t.seq, changeKey(t.seq)
		g.cals = append(g.cals, c)
		return c
	}
	def := mkCal(&Calendar{Name: pick("Calendrier", "Calendar"), Color: "auto", IsDefault: true, CanEdit: true, CanShare: true, Owner: self})
	extra := mkCal(&Calendar{Name: "Équipe & projets ✦", Color: "lightGreen", HexColor: "#5fbf6a", CanEdit: true, CanShare: true, Owner: self})
	var shared *Calendar
	if owner != nil {
		shared = mkCal(&Calendar{Name: owner.user.DisplayName, Color: "lightOrange", HexColor: "#f0a35e", Owner: Address{owner.user.DisplayName, owner.user.Mail}})
	}

	n := 0
	add := func(c *Calendar, e Event) {
		n++
		if e.BodyType == "" {
			e.BodyType = "text"
		}
		e.Sensitivity = cmp.Or(e.Sensitivity, "normal")
		e.ShowAs = cmp.Or(e.ShowAs, "busy")
		e.Importance = cmp.Or(e.Importance, "normal")
		if e.EndZone == "" {
			e.EndZone = e.StartZone
		}
		if e.Organizer.Address == "" {
			e.Organizer, e.IsOrganizer = self, true
		}
		if e.Response == "" {
			e.Response = "organizer"
			if !e.IsOrganizer {
				e.Response = "none"
			}
		}
		if e.OnlineProvider == "" {
			e.OnlineProvider = "unknown"
		} else {
			e.JoinURL = teamsURL(t.cfg.Seed, b.index, n)
		}
		if e.Location.DisplayName == "" && len(e.Locations) > 0 {
			e.Location = e.Locations[0]
		}
		if e.Location.DisplayName != "" && len(e.Locations) == 0 {
			e.Locations = []Location{e.Location}
		}
		if e.Categories == nil {
			e.Categories = []string{}
		}
		e.Created = genCreated.Add(time.Duration(n) * time.Hour)
		e.Modified = e.Created.Add(30 * time.Minute)
		for i := range e.Exceptions {
			x := &e.Exceptions[i]
			x.Created, x.Modified = e.Created, e.Modified.Add(time.Duration(i+1)*time.Minute)
		}
		for i := range e.Attachments {
			a := &e.Attachments[i]
			a.ID = g.newID(t.cfg.Seed, b.index, "att")
			a.Modified = e.Created
			if a.content != nil {
				a.Size = int64(len(a.content))
			}
		}
		t.addEvent(b, c, &e)
	}
	// exc derives an exception from master fields (filled before add is called).
	exc := func(m Event, orig time.Time, fn func(*Event)) Event {
		x := m.clone()
		x.OriginalStart = orig
		x.Start, x.End = orig, orig.Add(m.End.Sub(m.Start))
		x.Recurrence = nil
		fn(&x)
		return x
	}
	att := func(a Address, typ, resp string) Attendee {
		at := Attendee{Email: a, Type: typ, Response: resp}
		if resp != "none" && resp != "notResponded" {
			at.ResponseTime = genCreated.Add(26 * time.Hour)
		}
		return at
	}

	// 1. The weekly 10:00 Paris meeting across both 2026 DST changes, with exceptions and
	// cancellations.
	hebdo := Event{Subject: "Point hebdo équipe", BodyType: "html",
		Body:  "<html><body><p>Ordre du jour&nbsp;: avancement, <b>risques</b>, questions diverses.</p><p>À mardi&nbsp;!</p></body></html>",
		Start: at(paris, 2026, 1, 6, 10, 0), End: at(paris, 2026, 1, 6, 11, 0), StartZone: paris,
		Recurrence: weekly("2026-01-06", []string{"tuesday"}, 1, RecurrenceRange{Type: "endDate", EndDate: "2027-06-29", RecurrenceTimeZone: paris}),
		Attendees: []Attendee{att(colleagues[0], "required", "accepted"), att(colleagues[1], "optional", "tentativelyAccepted"),
			att(externals[0], "required", "none"), att(room, "resource", "accepted")},
		OnlineProvider: "teamsForBusiness", ReminderOn: true, ReminderMins: 15, Categories: []string{"Équipe"}, Location: roomLoc()}
	hebdo.Exceptions = []Event{
		exc(hebdo, at(paris, 2026, 3, 31, 10, 0), func(x *Event) { x.Start, x.End = at(paris, 2026, 3, 31, 14, 0), at(paris, 2026, 3, 31, 15, 0) }),
		exc(hebdo, at(paris, 2026, 6, 16, 10, 0), func(x *Event) { x.Subject = "Point hebdo — spécial budget 💶" }),
		exc(hebdo, at(paris, 2026, 9, 8, 10, 0), func(x *Event) {
			x.Attendees = []Attendee{att(colleagues[0], "required", "accepted"), att(externals[1], "required", "declined"), att(room, "resource", "accepted")}
		}),
	}
	hebdo.Cancelled = []time.Time{at(paris, 2026, 4, 14, 10, 0), at(paris, 2026, 12, 29, 10, 0)}
	add(def, hebdo)

	// 2. Daily, numbered, in New York across the US fall-back (2026-11-01).
	add(def, Event{Subject: "Stand-up projet Hélios", Start: at(ny, 2026, 10, 26, 9, 0), End: at(ny, 2026, 10, 26, 9, 15), StartZone: ny,
		Recurrence: &Recurrence{Pattern: RecurrencePattern{Type: "daily", Interval: 1},
			Range: RecurrenceRange{Type: "numbered", StartDate: "2026-10-26", NumberOfOccurrences: 15, RecurrenceTimeZone: ny}},
		Attendees:      []Attendee{att(colleagues[0], "required", "accepted"), att(colleagues[2], "required", "notResponded")},
		OnlineProvider: "teamsForBusiness", ReminderOn: true, ReminderMins: 5})

	// 3. Weekly on several days, every other week, no end, personal.
	add(def, Event{Subject: "Course à pied 🏃", Start: at("W. Europe Standard Time", 2025, 9, 1, 7, 30), End: at("W. Europe Standard Time", 2025, 9, 1, 8, 15),
		StartZone:  "W. Europe Standard Time",
		Recurrence: weekly("2025-09-01", []string{"monday", "wednesday", "friday"}, 2, RecurrenceRange{Type: "noEnd", RecurrenceTimeZone: "W. Europe Standard Time"}),
		ShowAs:     "free", Sensitivity: "personal", Categories: []string{"Perso"}})

	// 4. Absolute monthly, numbered, with a cancellation and a moved occurrence.
	copil := Event{Subject: "Comité de pilotage", Start: at(paris, 2025, 12, 15, 14, 0), End: at(paris, 2025, 12, 15, 15, 30), StartZone: paris,
		Recurrence: &Recurrence{Pattern: RecurrencePattern{Type: "absoluteMonthly", Interval: 1, DayOfMonth: 15},
			Range: RecurrenceRange{Type: "numbered", StartDate: "2025-12-15", NumberOfOccurrences: 24, RecurrenceTimeZone: paris}},
		Attendees:  []Attendee{att(colleagues[0], "required", "accepted"), att(colleagues[1], "required", "accepted"), att(externals[2], "optional", "tentativelyAccepted")},
		Importance: "high", ReminderOn: true, ReminderMins: 30, Location: Location{DisplayName: "Siège — salle du conseil", LocationType: "default"}}
	copil.Exceptions = []Event{exc(copil, at(paris, 2026, 5, 15, 14, 0), func(x *Event) {
		x.Start, x.End = at(paris, 2026, 5, 18, 9, 0), at(paris, 2026, 5, 18, 10, 30)
		x.Subject = "Comité de pilotage (reporté)"
	})}
	copil.Cancelled = []time.Time{at(paris, 2026, 8, 15, 14, 0)}
	add(def, copil)

	// 5. Relative monthly, last Friday, end date.
	add(def, Event{Subject: "Afterwork de fin de mois 🍻", Start: at(paris, 2025, 1, 31, 18, 30), End: at(paris, 2025, 1, 31, 20, 30), StartZone: paris,
		Recurrence: &Recurrence{Pattern: RecurrencePattern{Type: "relativeMonthly", Interval: 1, DaysOfWeek: []string{"friday"}, Index: "last"},
			Range: RecurrenceRange{Type: "endDate", StartDate: "2025-01-31", EndDate: "2027-12-31", RecurrenceTimeZone: paris}},
		ShowAs: "free", Location: Location{DisplayName: "Le Comptoir Général", LocationType: "localBusiness", Street: "80 quai de Jemmapes", City: "Paris", PostalCode: "75010", Country: "France"},
		Attendees: []Attendee{att(colleagues[0], "optional", "accepted"), att(colleagues[1], "optional", "declined")}})

	// 6. Absolute yearly, all day, no end: a birthday.
	add(def, Event{Subject: "Anniversaire de " + colleagues[0].Name + " 🎂", IsAllDay: true, Start: day(2020, 3, 14), End: day(2020, 3, 15), StartZone: paris,
		Recurrence: &Recurrence{Pattern: RecurrencePattern{Type: "absoluteYearly", Interval: 1, Month: 3, DayOfMonth: 14},
			Range: RecurrenceRange{Type: "noEnd", StartDate: "2020-03-14", RecurrenceTimeZone: paris}},
		ShowAs: "free", ReminderOn: true, ReminderMins: 1080, Categories: []string{"Anniversaire"}})

	// 7. Relative yearly: third Thursday of June, numbered.
	add(def, Event{Subject: "Assemblée générale annuelle", Start: at(paris, 2024, 6, 20, 10, 0), End: at(paris, 2024, 6, 20, 12, 30), StartZone: paris,
		Recurrence: &Recurrence{Pattern: RecurrencePattern{Type: "relativeYearly", Interval: 1, Month: 6, DaysOfWeek: []string{"thursday"}, Index: "third"},
			Range: RecurrenceRange{Type: "numbered", StartDate: "2024-06-20", NumberOfOccurrences: 5, RecurrenceTimeZone: paris}},
		Attendees: []Attendee{att(colleagues[0], "required", "accepted"), att(colleagues[1], "required", "accepted"), att(colleagues[2], "required", "accepted")},
		Location:  Location{DisplayName: "Auditorium", LocationType: "default"}})

	// 8. Relative monthly, first Monday every other month, numbered.
	add(def, Event{Subject: "Revue des comptes", Start: at(paris, 2026, 1, 5, 11, 0), End: at(paris, 2026, 1, 5, 12, 0), StartZone: paris,
		Recurrence: &Recurrence{Pattern: RecurrencePattern{Type: "relativeMonthly", Interval: 2, DaysOfWeek: []string{"monday"}, Index: "first"},
			Range: RecurrenceRange{Type: "numbered", StartDate: "2026-01-05", NumberOfOccurrences: 6, RecurrenceTimeZone: paris}},
		Attendees: []Attendee{att(colleagues[1], "required", "accepted")}})

	// 9. Daily every third day in Los Angeles, end date.
	add(def, Event{Subject: "Relevé des compteurs", Start: at("Pacific Standard Time", 2026, 10, 30, 8, 0), End: at("Pacific Standard Time", 2026, 10, 30, 8, 20),
		StartZone: "Pacific Standard Time",
		Recurrence: &Recurrence{Pattern: RecurrencePattern{Type: "daily", Interval: 3},
			Range: RecurrenceRange{Type: "endDate", StartDate: "2026-10-30", EndDate: "2026-12-31", RecurrenceTimeZone: "Pacific Standard Time"}},
		ShowAs: "tentative"})

	// 10. All day, one day.
	add(def, Event{Subject: pick("Armistice (jour férié)", "Armistice Day (holiday)"), IsAllDay: true, Start: day(2026, 11, 11), End: day(2026, 11, 12), StartZone: paris, ShowAs: "oof"})
	// 11. All day, several days.
	add(def, Event{Subject: "Séminaire d'équipe à Annecy", IsAllDay: true, Start: day(2026, 6, 8), End: day(2026, 6, 11), StartZone: paris, ShowAs: "oof",
		Location: Location{DisplayName: "Annecy", LocationType: "default", City: "Annecy", Country: "France"}, Categories: []string{"Équipe"}})
	// 12. Timed, several days.
	add(def, Event{Subject: "Salon VivaTech", Start: at(paris, 2026, 6, 17, 9, 0), End: at(paris, 2026, 6, 19, 18, 0), StartZone: paris,
		Location: Location{DisplayName: "Paris Expo Porte de Versailles", LocationType: "default", Street: "1 place de la Porte de Versailles", City: "Paris", PostalCode: "75015", Country: "France"}})
	// 13. Start and end in different zones.
	add(def, Event{Subject: "Vol AF 346 Paris → Montréal ✈", Start: at(paris, 2026, 9, 14, 10, 30), End: at(ny, 2026, 9, 14, 12, 45), StartZone: paris, EndZone: ny,
		ShowAs: "oof", ReminderOn: true, ReminderMins: 180, Location: Location{DisplayName: "Aéroport Paris-Charles de Gaulle (CDG)", LocationType: "default"}})
	// 14. A custom (client-defined) time zone.
	add(def, Event{Subject: "Appel avec l'équipe de Tokyo 東京", Start: time.Date(2026, 5, 20, 7, 0, 0, 0, time.UTC), End: time.Date(2026, 5, 20, 8, 0, 0, 0, time.UTC),
		StartZone: CustomZone, Attendees: []Attendee{att(externals[4], "required", "accepted")}, OnlineProvider: "teamsForBusiness"})
	// 15. Private.
	add(def, Event{Subject: "Rendez-vous médical", Start: at(paris, 2026, 12, 3, 15, 0), End: at(paris, 2026, 12, 3, 16, 0), StartZone: paris,
		Sensitivity: "private", ShowAs: "oof", ReminderOn: true, ReminderMins: 60})
	// 16. Attachments (small and large), HTML body, two locations, high importance.
	add(def, Event{Subject: "Revue de projet Hélios", BodyType: "html",
		Body:  `<html><head><meta charset="utf-8"></head><body><h1>Revue de projet</h1><ul><li>Bilan du T3</li><li>Budget 2027 (voir la présentation jointe)</li></ul><p style="color:#c00">Présence obligatoire.</p></body></html>`,
		Start: at(paris, 2026, 12, 8, 14, 0), End: at(paris, 2026, 12, 8, 16, 0), StartZone: paris, Importance: "high",
		Locations:  []Location{roomLoc(), {DisplayName: "Bureau de Lyon — salle Fourvière", LocationType: "conferenceRoom", City: "Lyon", Country: "France"}},
		Attendees:  []Attendee{att(colleagues[0], "required", "accepted"), att(colleagues[1], "required", "notResponded"), att(externals[3], "optional", "none"), att(room, "resource", "accepted")},
		Categories: []string{"Projet Hélios", "Important"}, OnlineProvider: "teamsForBusiness", ReminderOn: true, ReminderMins: 15,
		Attachments: []Attachment{
			{Name: "ordre-du-jour.txt", ContentType: "text/plain", content: []byte("Ordre du jour — revue de projet Hélios\r\n1. Bilan du trimestre\r\n2. Budget 2027\r\n3. Questions diverses\r\n")},
			{Name: "présentation-hélios.pdf", ContentType: "application/pdf", Size: 3_500_000 + int64(b.index), seed: uint64(t.cfg.Seed)<<20 | uint64(b.index)},
		}})
	// 17. An invitation from a colleague, answered tentatively.
	add(def, Event{Subject: "Formation sécurité (obligatoire)", Start: at(paris, 2026, 11, 30, 9, 30), End: at(paris, 2026, 11, 30, 11, 0), StartZone: paris,
		Organizer: colleagues[0], IsOrganizer: false, Response: "tentativelyAccepted", ResponseTime: genCreated.Add(50 * time.Hour), ShowAs: "tentative",
		Attendees:      []Attendee{att(self, "required", "tentativelyAccepted"), att(colleagues[1], "required", "accepted")},
		OnlineProvider: "teamsForBusiness", ReminderOn: true, ReminderMins: 15})

	// The extra calendar: a weekly series in Tokyo and a single event.
	add(extra, Event{Subject: "Cours de japonais 日本語", Start: at("Tokyo Standard Time", 2026, 10, 1, 19, 0), End: at("Tokyo Standard Time", 2026, 10, 1, 20, 0),
		StartZone:      "Tokyo Standard Time",
		Recurrence:     weekly("2026-10-01", []string{"thursday"}, 1, RecurrenceRange{Type: "numbered", NumberOfOccurrences: 10, RecurrenceTimeZone: "Tokyo Standard Time"}),
		OnlineProvider: "teamsForBusiness", Categories: []string{"Formation"}})
	add(extra, Event{Subject: "Préparation de l'offsite", Start: at(paris, 2026, 12, 10, 16, 0), End: at(paris, 2026, 12, 10, 17, 0), StartZone: paris,
		Attendees: []Attendee{att(colleagues[2], "required", "accepted")}})

	// The calendar shared by a colleague: its events are theirs.
	if shared != nil {
		oa := shared.Owner
		add(shared, Event{Subject: "Permanence accueil", Start: at(paris, 2026, 11, 2, 9, 0), End: at(paris, 2026, 11, 2, 12, 0), StartZone: paris,
			Recurrence: weekly("2026-11-02", []string{"monday"}, 1, RecurrenceRange{Type: "numbered", NumberOfOccurrences: 8, RecurrenceTimeZone: paris}),
			Organizer:  oa, IsOrganizer: false})
		add(shared, Event{Subject: "Congés — " + oa.Name, IsAllDay: true, Start: day(2026, 12, 21), End: day(2027, 1, 2), StartZone: paris,
			Organizer: oa, IsOrganizer: false, ShowAs: "oof"})
	}

	// Filler events.
	rng := rand.New(rand.NewPCG(uint64(t.cfg.Seed), uint64(b.index)+0xca1e))
	zones := []string{paris, paris, paris, "W. Europe Standard Time", "GMT Standard Time", ny, "Pacific Standard Time", "AUS Eastern Standard Time", "India Standard Time"}
	topics := []string{"Déjeuner avec %s", "Point %s / budget", "Entretien annuel — %s", "Appel client %s", "Réunion de rentrée", "Démo produit", "Café ☕ avec %s", "Atelier « qualité »", "1:1 %s", "Revue de code"}
	for i := range t.cfg.Events {
		z := zones[rng.IntN(len(zones))]
		d := day(2025, 1, 1).AddDate(0, 0, rng.IntN(3*365))
		st := at(z, d.Year(), d.Month(), d.Day(), 8+rng.IntN(10), 15*rng.IntN(4))
		subj := topics[rng.IntN(len(topics))]
		if strings.Contains(subj, "%s") {
			subj = fmt.Sprintf(subj, colleagues[rng.IntN(len(colleagues))].Name)
		}
		e := Event{Subject: subj, Start: st, End: st.Add(time.Duration(30*(1+rng.IntN(4))) * time.Minute), StartZone: z,
			ReminderOn: rng.IntN(3) > 0, ReminderMins: 15}
		if rng.IntN(2) == 0 {
			e.Attendees = []Attendee{att(colleagues[rng.IntN(len(colleagues))], "required", "accepted")}
		}
		if rng.IntN(5) == 0 {
			local := st.In(mustZone(z))
			e.Recurrence = weekly(local.Format(time.DateOnly), []string{strings.ToLower(local.Weekday().String())}, 1+rng.IntN(2),
				RecurrenceRange{Type: "numbered", NumberOfOccurrences: 4 + rng.IntN(20), RecurrenceTimeZone: z})
		}
		c := def
		if i%4 == 3 {
			c = extra
		}
		add(c, e)
	}

	t.genContacts(b, g, fr)
	t.genTasks(b, g, fr, rng)
}

func (t *Tenant) genContacts(b *mailbox, g *groupware, fr bool) {
	mkF := func(parent, name string, def bool) *ContactFolder {
		f := &ContactFolder{ID: g.newID(t.cfg.Seed, b.index, "cf"), ParentID: parent, DisplayName: name, IsDefault: def}
		t.seq++
		f.Seq = t.seq
		g.cfolders = append(g.cfolders, f)
		return f
	}
	def := mkF(b.root, "Contacts", true)
	sup := mkF(def.ID, map[bool]string{true: "Fournisseurs", false: "Suppliers"}[fr], false)
	abroad := mkF(sup.ID, "Étranger", false)
	n := 0
	add := func(f *ContactFolder, c Contact) {
		n++
		c.ID = g.newID(t.cfg.Seed, b.index, "ct")
		c.FolderID = f.ID
		if c.DisplayName == "" {
			c.DisplayName = strings.TrimSpace(c.GivenName + " " + c.Surname)
		}
		if c.FileAs == "" && c.Surname != "" {
			c.FileAs = c.Surname + ", " + c.GivenName
		}
		c.Created = genCreated.Add(time.Duration(n) * 2 * time.Hour)
		c.Modified = c.Created.Add(time.Minute)
		t.seq++
		c.Seq, c.ChangeKey = t.seq, changeKey(t.seq)
		g.contacts = append(g.contacts, &c)
	}
	add(def, Contact{Title: "Dr", GivenName: "Hélène", MiddleName: "Marie", Surname: "Girard-Lefèvre", NickName: "Léna", Initials: "H.M.G.",
		CompanyName: "Mairie de Saint-Étienne", Department: "Service de l'état civil", JobTitle: "Directrice", OfficeLocation: "Bâtiment B, 2ᵉ étage",
		Profession: "Juriste", Manager: "Étienne Marchand", AssistantName: "Chloé Roux",
		Emails:         []Address{{"Hélène Girard-Lefèvre", "helene.girard@mairie.example"}, {"Hélène (perso)", "lena.girard@courriel.example"}, {"Hélène Girard", "h.girard@association.example"}},
		BusinessPhones: []string{"+33 4 77 12 34 56", "+33 4 77 12 34 00"}, HomePhones: []string{"+33 4 77 98 76 54", "+33 9 72 11 22 33"}, MobilePhone: "+33 6 12 34 56 78",
		BusinessAddress: PostalAddress{"1 place de l'Hôtel de Ville", "Saint-Étienne", "Auvergne-Rhône-Alpes", "42000", "France"},
		HomeAddress:     PostalAddress{"12 rue des Érables\nAppartement 4", "Saint-Priest-en-Jarez", "Auvergne-Rhône-Alpes", "42270", "France"},
		OtherAddress:    PostalAddress{"Chalet « Les Mélèzes »", "Chamonix-Mont-Blanc", "", "74400", "France"},
		Birthday:        day(1980, 2, 29), PersonalNotes: "Rencontrée au congrès de Lyon.\nPréfère être appelée le matin ; allergique aux noix.",
		IMAddresses: []string{"sip:helene.girard@mairie.example", "lena.girard@im.example"}, BusinessHomePage: "https://www.mairie.example/état-civil",
		SpouseName: "Marc Girard", Children: []string{"Léo", "Inès"}, Categories: []string{"Clients", "VIP"}, Photo: photo(uint64(t.cfg.Seed), b.index, 1)})
	add(def, Contact{GivenName: "博", Surname: "佐藤", DisplayName: "佐藤 博", CompanyName: "株式会社サンプル", JobTitle: "部長",
		Emails: []Address{{"佐藤 博", "sato@example.jp"}}, BusinessPhones: []string{"+81 3-1234-5678"}, MobilePhone: "+81 90-1234-5678",
		BusinessAddress: PostalAddress{"千代田区丸の内1-1-1", "東京都", "", "100-0005", "日本"}, Birthday: day(1975, 11, 3),
		Categories: []string{"Clients"}, Photo: photo(uint64(t.cfg.Seed), b.index, 2)})
	add(def, Contact{GivenName: "Дмитрий", Surname: "Смирнов", MiddleName: "Алексеевич", Emails: []Address{{"Дмитрий Смирнов", "dmitri@example.ru"}},
		HomePhones: []string{"+7 495 123-45-67"}, HomeAddress: PostalAddress{"ул. Тверская, д. 7, кв. 12", "Москва", "", "125009", "Россия"},
		PersonalNotes: "Говорит по-французски."})
	add(def, Contact{DisplayName: "newsletter@shop.example", Emails: []Address{{"newsletter@shop.example", "newsletter@shop.example"}}})
	add(sup, Contact{GivenName: "Thomas", Surname: "Petit", CompanyName: "Fournitures Petit & Fils", JobTitle: "Commercial", Department: "Ventes",
		Emails: []Address{{"Thomas Petit", "t.petit@fournisseur.example"}}, BusinessPhones: []string{"+33 1 23 45 67 89"}, MobilePhone: "+33 7 65 43 21 09",
		BusinessAddress: PostalAddress{"ZA des Près, 3 allée Nord", "Villeurbanne", "", "69100", "France"}, BusinessHomePage: "https://fournisseur.example",
		Categories: []string{"Fournisseurs"}, Photo: photo(uint64(t.cfg.Seed), b.index, 3)})
	add(sup, Contact{GivenName: "Sophie", Surname: "Laurent", CompanyName: "Cabinet Laurent", JobTitle: "Avocate associée",
		Emails:         []Address{{"Sophie Laurent", "sophie.laurent@cabinet-laurent.example"}, {"Secrétariat", "secretariat@cabinet-laurent.example"}},
		BusinessPhones: []string{"+33 1 40 00 00 01"}, Birthday: day(1969, 7, 14)})
	add(abroad, Contact{GivenName: "Seán", Surname: "O'Connor", Generation: "Jr.", CompanyName: "Éire Logistics Ltd", Emails: []Address{{"Seán O'Connor", "sean.oconnor@logistics.example"}},
		BusinessPhones: []string{"+353 1 234 5678"}, OtherAddress: PostalAddress{"5 Harbour Road", "Dublin", "Leinster", "D02 XY45", "Ireland"}})

	rng := rand.New(rand.NewPCG(uint64(t.cfg.Seed), uint64(b.index)+0xc0c0))
	given := []string{"Camille", "Noé", "Aurélie", "Jérôme", "Maëlle", "Gaël", "Agnès", "Benoît", "Cécile", "Zoé"}
	family := []string{"Bernard", "Lefèbvre", "Côté", "Fournier", "Gauthier", "Müller", "Roussel", "Mercier", "Ødegård", "Nguyễn"}
	folders := []*ContactFolder{def, def, def, sup, abroad}
	for i := range t.cfg.Contacts {
		gn, fn := given[rng.IntN(len(given))], family[rng.IntN(len(family))]
		local := strings.ToLower(strings.Map(func(r rune) rune {
			if r < 128 {
				return r
			}
			return 'x'
		}, gn+"."+fn))
		c := Contact{GivenName: gn, Surname: fn, Emails: []Address{{gn + " " + fn, fmt.Sprintf("%s%d@exemple.fr", local, i)}},
			MobilePhone: fmt.Sprintf("+33 6 %02d %02d %02d %02d", rng.IntN(100), rng.IntN(100), rng.IntN(100), rng.IntN(100))}
		if rng.IntN(3) == 0 {
			c.CompanyName = "Société " + fn
			c.BusinessPhones = []string{fmt.Sprintf("+33 1 %02d %02d %02d %02d", rng.IntN(100), rng.IntN(100), rng.IntN(100), rng.IntN(100))}
		}
		if rng.IntN(4) == 0 {
			c.Birthday = day(1950+rng.IntN(50), time.Month(1+rng.IntN(12)), 1+rng.IntN(28))
		}
		add(folders[rng.IntN(len(folders))], c)
	}
}

func (t *Tenant) genTasks(b *mailbox, g *groupware, fr bool, rng *rand.Rand) {
	mkL := func(name, wk string) *TaskList {
		l := &TaskList{ID: g.newID(t.cfg.Seed, b.index, "tl"), DisplayName: name, WellKnown: wk, IsOwner: true}
		t.seq++
		l.Seq, l.ChangeKey = t.seq, changeKey(t.seq)
		g.lists = append(g.lists, l)
		return l
	}
	def := mkL(map[bool]string{true: "Tâches", false: "Tasks"}[fr], "defaultList")
	flagged := mkL(map[bool]string{true: "E-mails avec indicateur", false: "Flagged Emails"}[fr], "flaggedEmails")
	_ = flagged
	shop := mkL("Courses 🛒", "none")
	n := 0
	add := func(l *TaskList, k Task, steps ...string) {
		n++
		k.ID = g.newID(t.cfg.Seed, b.index, "tk")
		k.ListID = l.ID
		if k.Importance == "" {
			k.Importance = "normal"
		}
		if k.Status == "" {
			k.Status = "notStarted"
		}
		if k.Categories == nil {
			k.Categories = []string{}
		}
		k.Created = genCreated.Add(time.Duration(n) * 3 * time.Hour)
		k.Modified = k.Created.Add(time.Minute)
		for i, s := range steps {
			ci := ChecklistItem{ID: guid(t.cfg.Seed, fmt.Sprintf("check/%d/%d/%d", b.index, n, i)), DisplayName: strings.TrimPrefix(s, "✓"), Created: k.Created}
			if strings.HasPrefix(s, "✓") {
				ci.IsChecked, ci.Checked = true, k.Created.Add(24*time.Hour)
			}
			k.Checklist = append(k.Checklist, ci)
		}
		t.seq++
		k.Seq, k.ChangeKey = t.seq, changeKey(t.seq)
		g.tasks = append(g.tasks, &k)
	}
	add(def, Task{Title: "Envoyer le rapport trimestriel", Body: "Penser à joindre les annexes financières.\nDate limite : mi-décembre.",
		Importance: "high", Due: day(2026, 12, 15), Reminder: time.Date(2026, 12, 14, 8, 0, 0, 0, time.UTC), ReminderOn: true, Categories: []string{"Travail"}},
		"✓Rassembler les chiffres", "Relire avec Élodie", "Envoyer à la direction")
	add(def, Task{Title: "Renouveler le passeport", Status: "completed", Due: day(2026, 10, 1), Completed: time.Date(2026, 10, 2, 14, 31, 0, 0, time.UTC), Categories: []string{"Perso"}})
	add(def, Task{Title: "Arroser les plantes 🌱", Due: day(2026, 11, 28), Start: day(2026, 1, 3),
		Recurrence: &Recurrence{Pattern: RecurrencePattern{Type: "weekly", Interval: 1, DaysOfWeek: []string{"saturday"}, FirstDayOfWeek: "sunday"},
			Range: RecurrenceRange{Type: "noEnd", StartDate: "2026-01-03", RecurrenceTimeZone: "UTC"}}})
	add(def, Task{Title: "Préparer la réunion d'équipe", Status: "inProgress", Due: day(2026, 12, 1), Reminder: time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC), ReminderOn: true})
	add(def, Task{Title: "Relire le contrat fournisseur", Status: "waitingOnOthers", Importance: "low", Body: "En attente du retour de Sophie Laurent."})
	add(def, Task{Title: "Lire « Les Misérables »", Status: "deferred", Categories: []string{"Perso", "Lecture"}})
	add(shop, Task{Title: "Acheter du pain"})
	add(shop, Task{Title: "Fromages", Body: "Pour samedi soir."}, "Comté 18 mois", "✓Reblochon", "Saint-Nectaire")
	verbs := []string{"Appeler %s", "Relancer la facture n° %d", "Réserver la salle", "Mettre à jour le wiki", "Répondre à %s"}
	for i := range t.cfg.Tasks {
		title := verbs[rng.IntN(len(verbs))]
		switch {
		case strings.Contains(title, "%s"):
			title = fmt.Sprintf(title, externals[rng.IntN(len(externals))].Name)
		case strings.Contains(title, "%d"):
			title = fmt.Sprintf(title, 1000+i)
		}
		k := Task{Title: title}
		if rng.IntN(2) == 0 {
			k.Due = day(2026, 1, 1).AddDate(0, 0, rng.IntN(600))
		}
		if rng.IntN(4) == 0 {
			k.Status, k.Completed = "completed", time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(4000))*time.Hour)
		}
		l := def
		if i%5 == 4 {
			l = shop
		}
		add(l, k)
	}
}

// photo renders a small, deterministic JPEG (a two-colour gradient with a disc), about 1 KB.
func photo(seed uint64, box, n int) []byte {
	h := sha256.Sum256(fmt.Appendf(nil, "photo/%d/%d/%d", seed, box, n))
	img := image.NewRGBA(image.Rect(0, 0, 48, 48))
	for y := range 48 {
		for x := range 48 {
			c := color.RGBA{h[0] + uint8(x*2), h[1] + uint8(y*2), h[2], 255}
			if (x-24)*(x-24)+(y-20)*(y-20) < 100 {
				c = color.RGBA{h[3], h[4], h[5], 255}
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80})
	return buf.Bytes()
}

// pseudoPDF renders size bytes that start like a PDF, from seed (a large attachment that is
// never held in memory longer than one call).
func pseudoPDF(seed uint64, size int64) []byte {
	out := make([]byte, size)
	n := copy(out, "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	rng := rand.New(rand.NewPCG(seed, 0x9df))
	for i := n; i < len(out); i += 8 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], rng.Uint64())
		copy(out[i:], w[:])
	}
	return out
}
