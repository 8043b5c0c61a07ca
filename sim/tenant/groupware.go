package tenant

import (
	"fmt"
	"slices"
	"time"

	"github.com/bascule-migrate/bascule/model"
)

// Calendar is one calendar of a mailbox: the default one, a user-made one, or one another
// user shares to this mailbox (Owner set to that user, CanEdit false).
type Calendar struct {
	ID, Name  string
	Color     string // Graph calendarColor: auto, lightBlue, lightGreen...
	HexColor  string // "#rrggbb", "" for the default
	IsDefault bool
	CanEdit   bool
	CanShare  bool
	Owner     Address
	ChangeKey string
	Seq       uint64
}

// Attendee is one attendee of an event.
type Attendee struct {
	Email        Address
	Type         string    // required | optional | resource
	Response     string    // none | organizer | tentativelyAccepted | accepted | declined | notResponded
	ResponseTime time.Time // zero when none
}

// Location is an event location.
type Location struct {
	DisplayName, LocationType, UniqueID, Email string
	Street, City, State, PostalCode, Country   string
}

// Attachment is a file attachment of an event. Its bytes come from Bytes (large ones are
// rendered on demand, never kept).
type Attachment struct {
	ID, Name, ContentType string
	Size                  int64
	IsInline              bool
	Modified              time.Time
	content               []byte // small ones
	seed                  uint64 // large ones: rendered from the seed
}

// Bytes returns the attachment's content.
func (a Attachment) Bytes() []byte {
	if a.content != nil {
		return slices.Clone(a.content)
	}
	return pseudoPDF(a.seed, a.Size)
}

// RecurrencePattern is Graph's recurrencePattern.
type RecurrencePattern struct {
	Type           string // daily | weekly | absoluteMonthly | relativeMonthly | absoluteYearly | relativeYearly
	Interval       int
	Month          int // 1..12 for yearly patterns
	DayOfMonth     int
	DaysOfWeek     []string // "monday"...
	FirstDayOfWeek string
	Index          string // first | second | third | fourth | last
}

// RecurrenceRange is Graph's recurrenceRange. Dates are "2006-01-02".
type RecurrenceRange struct {
	Type                string // endDate | noEnd | numbered
	StartDate, EndDate  string
	NumberOfOccurrences int
	RecurrenceTimeZone  string // Windows id
}

// Recurrence is Graph's patternedRecurrence.
type Recurrence struct {
	Pattern RecurrencePattern
	Range   RecurrenceRange
}

// Event is a calendar item: a single instance, a series master (with its exceptions and
// cancelled occurrences), an exception, or an occurrence produced by Instances.
type Event struct {
	ID, ChangeKey, CalendarID, ICalUID string
	Type                               string // singleInstance | seriesMaster | occurrence | exception
	SeriesMasterID                     string // occurrences and exceptions
	OriginalStart                      time.Time

	Subject            string
	Body, BodyType     string // BodyType "text" or "html"
	Start, End         time.Time
	StartZone, EndZone string // Windows ids as Graph shows them, or CustomZone
	IsAllDay           bool   // Start and End are then midnight-UTC dates (floating), End exclusive
	IsCancelled        bool

	Recurrence *Recurrence
	Exceptions []Event     // seriesMaster: the exceptions, full items
	Cancelled  []time.Time // seriesMaster: original starts (UTC) of cancelled occurrences

	Organizer      Address
	IsOrganizer    bool
	Attendees      []Attendee
	Response       string // the mailbox's own responseStatus.response
	ResponseTime   time.Time
	OnlineProvider string // "" when not an online meeting, else teamsForBusiness...
	JoinURL        string
	ReminderOn     bool
	ReminderMins   int
	Categories     []string
	Sensitivity    string // normal | personal | private | confidential
	ShowAs         string // free | tentative | busy | oof | workingElsewhere
	Importance     string // low | normal | high
	Location       Location
	Locations      []Location
	Attachments    []Attachment

	Created, Modified time.Time
	Seq               uint64
}

func (e Event) clone() Event {
	e.Attendees = slices.Clone(e.Attendees)
	e.Categories = slices.Clone(e.Categories)
	e.Locations = slices.Clone(e.Locations)
	e.Attachments = slices.Clone(e.Attachments)
	e.Cancelled = slices.Clone(e.Cancelled)
	if e.Recurrence != nil {
		r := *e.Recurrence
		r.Pattern.DaysOfWeek = slices.Clone(r.Pattern.DaysOfWeek)
		e.Recurrence = &r
	}
	if e.Exceptions != nil {
		x := make([]Event, len(e.Exceptions))
		for i := range e.Exceptions {
			x[i] = e.Exceptions[i].clone()
		}
		e.Exceptions = x
	}
	return e
}

// PostalAddress is a contact's physical address.
type PostalAddress struct{ Street, City, State, PostalCode, Country string }

// Contact is an Outlook contact with the fields Outlook fills.
type Contact struct {
	ID, ChangeKey, FolderID                    string
	GivenName, Surname, MiddleName, NickName   string
	Title, Generation, Initials, DisplayName   string
	FileAs                                     string
	CompanyName, Department, JobTitle          string
	OfficeLocation, Profession, Manager        string
	AssistantName                              string
	Emails                                     []Address
	BusinessPhones, HomePhones                 []string
	MobilePhone                                string
	BusinessAddress, HomeAddress, OtherAddress PostalAddress
	Birthday                                   time.Time // zero when none; the date is what counts
	PersonalNotes                              string
	IMAddresses                                []string
	BusinessHomePage                           string
	SpouseName                                 string
	Children                                   []string
	Categories                                 []string
	Photo                                      []byte // JPEG, nil when none
	Created, Modified                          time.Time
	Seq                                        uint64
}

func (c Contact) clone() Contact {
	c.Emails = slices.Clone(c.Emails)
	c.BusinessPhones = slices.Clone(c.BusinessPhones)
	c.HomePhones = slices.Clone(c.HomePhones)
	c.IMAddresses = slices.Clone(c.IMAddresses)
	c.Children = slices.Clone(c.Children)
	c.Categories = slices.Clone(c.Categories)
	c.Photo = slices.Clone(c.Photo)
	return c
}

// ContactFolder is a contact folder. The default one ("Contacts") has ParentID set to the
// mailbox root; Graph v1.0 lists its children under /contactFolders, not itself.
type ContactFolder struct {
	ID, ParentID, DisplayName string
	IsDefault                 bool
	Seq                       uint64
}

// TaskList is a Microsoft To Do list.
type TaskList struct {
	ID, DisplayName   string
	WellKnown         string // defaultList | flaggedEmails | none
	IsOwner, IsShared bool
	ChangeKey         string
	Seq               uint64
}

// ChecklistItem is one step of a To Do task.
type ChecklistItem struct {
	ID, DisplayName  string
	IsChecked        bool
	Created, Checked time.Time // Checked zero when not checked
}

// Task is a Microsoft To Do task.
type Task struct {
	ID, ChangeKey, ListID string
	Title                 string
	Body                  string    // text
	Importance            string    // low | normal | high
	Status                string    // notStarted | inProgress | completed | waitingOnOthers | deferred
	Due                   time.Time // midnight-UTC date, zero when none
	Start                 time.Time // midnight-UTC date, zero when none
	Reminder              time.Time // instant, zero when none
	ReminderOn            bool
	Completed             time.Time // zero unless completed
	Recurrence            *Recurrence
	Categories            []string
	Checklist             []ChecklistItem
	Created, Modified     time.Time
	Seq                   uint64
}

func (t Task) clone() Task {
	t.Categories = slices.Clone(t.Categories)
	t.Checklist = slices.Clone(t.Checklist)
	if t.Recurrence != nil {
		r := *t.Recurrence
		r.Pattern.DaysOfWeek = slices.Clone(r.Pattern.DaysOfWeek)
		t.Recurrence = &r
	}
	return t
}

// groupware is one mailbox's calendars, contacts and tasks.
type groupware struct {
	cals     []*Calendar
	events   []*Event // single instances and series masters, creation order
	cfolders []*ContactFolder
	contacts []*Contact
	lists    []*TaskList
	tasks    []*Task
	next     map[string]int // per id kind: the last number used
}

func (g *groupware) newID(seed int64, box int, kind string) string {
	g.next[kind]++
	return itemID(seed, box, kind, g.next[kind])
}

// bump gives an item a new change-log position and change key. Callers hold t.mu.
func (t *Tenant) bump(seq *uint64, ck *string, modified *time.Time) {
	t.seq++
	*seq = t.seq
	*ck = changeKey(t.seq)
	if modified != nil {
		*modified = time.Now().UTC().Truncate(time.Second)
	}
}

func (t *Tenant) gw(userID string) (*mailbox, error) {
	b, err := t.boxErr(userID)
	if err != nil {
		return nil, err
	}
	return b, nil
}

func notFound(what, id string) error {
	return fmt.Errorf("tenant: %s %q: %w", what, id, model.ErrNotFound)
}

// Calendars returns the mailbox's calendars, the default first; nil when the mailbox does not
// exist.
func (t *Tenant) Calendars(userID string) []Calendar {
	t.mu.RLock()
	defer t.mu.RUnlock()
	b := t.box(userID)
	if b == nil {
		return nil
	}
	out := make([]Calendar, len(b.gw.cals))
	for i, c := range b.gw.cals {
		out[i] = *c
	}
	return out
}

// Calendar finds a calendar by id; "" or "calendar" names the default one. It returns an
// error wrapping model.ErrNotFound when the mailbox or the calendar does not exist.
func (t *Tenant) Calendar(userID, calID string) (Calendar, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	b, err := t.gw(userID)
	if err != nil {
		return Calendar{}, err
	}
	c := b.calendar(calID)
	if c == nil {
		return Calendar{}, notFound("calendar", calID)
	}
	return *c, nil
}

func (b *mailbox) calendar(id string) *Calendar {
	for _, c := range b.gw.cals {
		if c.ID == id || ((id == "" || id == "calendar") && c.IsDefault) {
			return c
		}
	}
	return nil
}

// Events returns the single instances and series masters of a calendar ("" = every
// calendar), in creation order, with their exceptions and cancellations; nil when the
// mailbox does not exist.
func (t *Tenant) Events(userID, calID string) []Event {
	t.mu.RLock()
	defer t.mu.RUnlock()
	b := t.box(userID)
	if b == nil {
		return nil
	}
	var out []Event
	for _, e := range b.gw.events {
		if calID == "" || e.CalendarID == calID {
			out = append(out, e.clone())
		}
	}
	return out
}

// Event returns a single instance, series master or exception by id. It returns an error
// wrapping model.ErrNotFound when the mailbox or the event does not exist.
func (t *Tenant) Event(userID, eventID string) (Event, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	b, err := t.gw(userID)
	if err != nil {
		return Event{}, err
	}
	e, x := b.event(eventID)
	if e == nil {
		return Event{}, notFound("event", eventID)
	}
	if x != nil {
		return x.clone(), nil
	}
	return e.clone(), nil
}

// event finds an event; for an exception it returns its master and the exception.
func (b *mailbox) event(id string) (*Event, *Event) {
	for _, e := range b.gw.events {
		if e.ID == id {
			return e, nil
		}
		for i := range e.Exceptions {
			if e.Exceptions[i].ID == id {
				return e, &e.Exceptions[i]
			}
		}
	}
	return nil, nil
}

// UpdateEvent applies fn to a single instance, series master or exception and records the
// change (a new change key; changing an exception changes its master's too, as exceptions
// live inside the master in Exchange). fn must not change ID, Type or CalendarID. It returns
// an error wrapping model.ErrNotFound when the mailbox or the event does not exist.
func (t *Tenant) UpdateEvent(userID, eventID string, fn func(*Event)) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, err := t.gw(userID)
	if err != nil {
		return err
	}
	e, x := b.event(eventID)
	if e == nil {
		return notFound("event", eventID)
	}
	if x != nil {
		fn(x)
		t.bump(&x.Seq, &x.ChangeKey, &x.Modified)
	} else {
		fn(e)
	}
	t.bump(&e.Seq, &e.ChangeKey, &e.Modified)
	return nil
}

// SetEventSubject changes an event's (or an exception's) subject.
func (t *Tenant) SetEventSubject(userID, eventID, subject string) error {
	return t.UpdateEvent(userID, eventID, func(e *Event) { e.Subject = subject })
}

// MoveEvent moves an event (or an exception) by d. Moving a series master moves the whole
// series and, as Outlook does when a series' time changes, drops its exceptions and
// cancellations.
func (t *Tenant) MoveEvent(userID, eventID string, d time.Duration) error {
	return t.UpdateEvent(userID, eventID, func(e *Event) {
		e.Start, e.End = e.Start.Add(d), e.End.Add(d)
		if e.Type == "seriesMaster" && e.Recurrence != nil {
			e.Recurrence.Range.StartDate = e.Start.In(e.RecurrenceZone()).Format(time.DateOnly)
			e.Exceptions, e.Cancelled = nil, nil
		}
	})
}

// seriesOccurrence checks that orig is an occurrence start of master e (not cancelled).
func seriesOccurrence(e *Event, orig time.Time) error {
	if e.Type != "seriesMaster" {
		return fmt.Errorf("tenant: event %s is not a series master", e.ID)
	}
	starts, err := e.OccurrenceStarts(orig.AddDate(0, 0, 2))
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(starts, orig.Equal) {
		return notFound("occurrence", orig.UTC().Format(time.RFC3339))
	}
	if slices.ContainsFunc(e.Cancelled, orig.Equal) {
		return notFound("occurrence (cancelled)", orig.UTC().Format(time.RFC3339))
	}
	return nil
}

// ModifyOccurrence applies fn to the occurrence of series masterID originally starting at
// orig, making it an exception if it is not one yet, and changes the master's change key. It
// returns the exception. It returns an error wrapping model.ErrNotFound when the mailbox, the
// master or such an occurrence does not exist.
func (t *Tenant) ModifyOccurrence(userID, masterID string, orig time.Time, fn func(*Event)) (Event, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, err := t.gw(userID)
	if err != nil {
		return Event{}, err
	}
	e, x := b.event(masterID)
	if e == nil || x != nil {
		return Event{}, notFound("series master", masterID)
	}
	orig = orig.UTC()
	i := slices.IndexFunc(e.Exceptions, func(x Event) bool { return x.OriginalStart.Equal(orig) })
	if i < 0 {
		if err := seriesOccurrence(e, orig); err != nil {
			return Event{}, err
		}
		e.Exceptions = append(e.Exceptions, e.occurrence(orig, e.End.Sub(e.Start)))
		i = len(e.Exceptions) - 1
		x := &e.Exceptions[i]
		x.Type = "exception"
		x.Created = time.Now().UTC().Truncate(time.Second)
	}
	x = &e.Exceptions[i]
	fn(x)
	t.bump(&x.Seq, &x.ChangeKey, &x.Modified)
	t.bump(&e.Seq, &e.ChangeKey, &e.Modified)
	return x.clone(), nil
}

// CancelOccurrence cancels (deletes) the occurrence of series masterID originally starting at
// orig, an exception or not, and changes the master's change key. It returns an error
// wrapping model.ErrNotFound when the mailbox, the master or such an occurrence does not
// exist.
func (t *Tenant) CancelOccurrence(userID, masterID string, orig time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, err := t.gw(userID)
	if err != nil {
		return err
	}
	e, x := b.event(masterID)
	if e == nil || x != nil {
		return notFound("series master", masterID)
	}
	orig = orig.UTC()
	if err := seriesOccurrence(e, orig); err != nil {
		return err
	}
	e.Exceptions = slices.DeleteFunc(e.Exceptions, func(x Event) bool { return x.OriginalStart.Equal(orig) })
	e.Cancelled = append(e.Cancelled, orig)
	slices.SortFunc(e.Cancelled, time.Time.Compare)
	t.bump(&e.Seq, &e.ChangeKey, &e.Modified)
	return nil
}

// AddEvent adds a single instance or series master to a calendar ("" = the default) and
// returns it with its id, iCalUId and change key set. Exceptions of a new master get their
// ids from their OriginalStart. It returns an error wrapping model.ErrNotFound when the
// mailbox or calendar does not exist.
func (t *Tenant) AddEvent(userID, calID string, e Event) (Event, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, err := t.gw(userID)
	if err != nil {
		return Event{}, err
	}
	c := b.calendar(calID)
	if c == nil {
		return Event{}, notFound("calendar", calID)
	}
	e = e.clone()
	t.addEvent(b, c, &e)
	return e.clone(), nil
}

// addEvent files e in calendar c, giving it (and its exceptions) ids. Callers hold t.mu.
func (t *Tenant) addEvent(b *mailbox, c *Calendar, e *Event) {
	e.ID = b.gw.newID(t.cfg.Seed, b.index, "ev")
	e.CalendarID = c.ID
	if e.ICalUID == "" {
		e.ICalUID = "040000008200E00074C5B7101A82E008000000000000000000000000000000000" + e.ID[len(e.ID)-24:]
	}
	if e.Type == "" {
		e.Type = "singleInstance"
		if e.Recurrence != nil {
			e.Type = "seriesMaster"
		}
	}
	if e.Created.IsZero() {
		e.Created = time.Now().UTC().Truncate(time.Second)
	}
	if e.Modified.IsZero() {
		e.Modified = e.Created
	}
	for i := range e.Exceptions {
		x := &e.Exceptions[i]
		x.Type, x.SeriesMasterID, x.CalendarID = "exception", e.ID, c.ID
		x.OriginalStart = x.OriginalStart.UTC()
		x.ID = OccurrenceID(e.ID, x.OriginalStart)
		x.ICalUID = e.ICalUID + "-" + x.OriginalStart.Format("20060102T150405Z")
		x.Recurrence, x.Exceptions, x.Cancelled = nil, nil, nil
		if x.Created.IsZero() {
			x.Created, x.Modified = e.Created, e.Modified
		}
		t.seq++
		x.Seq, x.ChangeKey = t.seq, changeKey(t.seq)
	}
	t.seq++
	e.Seq, e.ChangeKey = t.seq, changeKey(t.seq)
	b.gw.events = append(b.gw.events, e)
}

// DeleteEvent deletes a single instance or a whole series. It returns an error wrapping
// model.ErrNotFound when the mailbox or the event does not exist.
func (t *Tenant) DeleteEvent(userID, eventID string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, err := t.gw(userID)
	if err != nil {
		return err
	}
	e, x := b.event(eventID)
	if e == nil || x != nil {
		return notFound("event", eventID)
	}
	b.gw.events = slices.DeleteFunc(b.gw.events, func(y *Event) bool { return y == e })
	t.seq++
	return nil
}

// ContactFolders returns every contact folder of the mailbox, the default first, parents
// before children; nil when the mailbox does not exist.
func (t *Tenant) ContactFolders(userID string) []ContactFolder {
	t.mu.RLock()
	defer t.mu.RUnlock()
	b := t.box(userID)
	if b == nil {
		return nil
	}
	out := make([]ContactFolder, len(b.gw.cfolders))
	for i, f := range b.gw.cfolders {
		out[i] = *f
	}
	return out
}

// ContactFolder finds a contact folder by id; "contacts" names the default one. It returns an
// error wrapping model.ErrNotFound when the mailbox or folder does not exist.
func (t *Tenant) ContactFolder(userID, id string) (ContactFolder, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	b, err := t.gw(userID)
	if err != nil {
		return ContactFolder{}, err
	}
	for _, f := range b.gw.cfolders {
		if f.ID == id || (f.IsDefault && (id == "contacts" || id == "")) {
			return *f, nil
		}
	}
	return ContactFolder{}, notFound("contact folder", id)
}

// Contacts returns the contacts of a folder ("" = every folder) in creation order; nil when
// the mailbox does not exist.
func (t *Tenant) Contacts(userID, folderID string) []Contact {
	t.mu.RLock()
	defer t.mu.RUnlock()
	b := t.box(userID)
	if b == nil {
		return nil
	}
	var out []Contact
	for _, c := range b.gw.contacts {
		if folderID == "" || c.FolderID == folderID {
			out = append(out, c.clone())
		}
	}
	return out
}

func (b *mailbox) contact(id string) *Contact {
	for _, c := range b.gw.contacts {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// Contact returns one contact. It returns an error wrapping model.ErrNotFound when the
// mailbox or contact does not exist.
func (t *Tenant) Contact(userID, id string) (Contact, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	b, err := t.gw(userID)
	if err != nil {
		return Contact{}, err
	}
	c := b.contact(id)
	if c == nil {
		return Contact{}, notFound("contact", id)
	}
	return c.clone(), nil
}

// UpdateContact applies fn to a contact and records the change. fn must not change ID or
// FolderID. It returns an error wrapping model.ErrNotFound when the mailbox or contact does
// not exist.
func (t *Tenant) UpdateContact(userID, id string, fn func(*Contact)) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, err := t.gw(userID)
	if err != nil {
		return err
	}
	c := b.contact(id)
	if c == nil {
		return notFound("contact", id)
	}
	fn(c)
	t.bump(&c.Seq, &c.ChangeKey, &c.Modified)
	return nil
}

// AddContact adds a contact to a folder ("" or "contacts" = the default) and returns it. It
// returns an error wrapping model.ErrNotFound when the mailbox or folder does not exist.
func (t *Tenant) AddContact(userID, folderID string, c Contact) (Contact, error) {
	f, err := t.ContactFolder(userID, folderID)
	if err != nil {
		return Contact{}, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	b, err := t.gw(userID)
	if err != nil {
		return Contact{}, err
	}
	c = c.clone()
	c.ID = b.gw.newID(t.cfg.Seed, b.index, "ct")
	c.FolderID = f.ID
	if c.Created.IsZero() {
		c.Created = time.Now().UTC().Truncate(time.Second)
	}
	c.Modified = c.Created
	t.seq++
	c.Seq, c.ChangeKey = t.seq, changeKey(t.seq)
	b.gw.contacts = append(b.gw.contacts, &c)
	return c.clone(), nil
}

// DeleteContact deletes a contact. It returns an error wrapping model.ErrNotFound when the
// mailbox or contact does not exist.
func (t *Tenant) DeleteContact(userID, id string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, err := t.gw(userID)
	if err != nil {
		return err
	}
	c := b.contact(id)
	if c == nil {
		return notFound("contact", id)
	}
	b.gw.contacts = slices.DeleteFunc(b.gw.contacts, func(x *Contact) bool { return x == c })
	t.seq++
	return nil
}

// TaskLists returns the mailbox's To Do lists, the default first; nil when the mailbox does
// not exist.
func (t *Tenant) TaskLists(userID string) []TaskList {
	t.mu.RLock()
	defer t.mu.RUnlock()
	b := t.box(userID)
	if b == nil {
		return nil
	}
	out := make([]TaskList, len(b.gw.lists))
	for i, l := range b.gw.lists {
		out[i] = *l
	}
	return out
}

// TaskList finds a To Do list by id. It returns an error wrapping model.ErrNotFound when the
// mailbox or list does not exist.
func (t *Tenant) TaskList(userID, id string) (TaskList, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	b, err := t.gw(userID)
	if err != nil {
		return TaskList{}, err
	}
	for _, l := range b.gw.lists {
		if l.ID == id {
			return *l, nil
		}
	}
	return TaskList{}, notFound("task list", id)
}

// Tasks returns the tasks of a list in creation order; nil when the mailbox does not exist.
func (t *Tenant) Tasks(userID, listID string) []Task {
	t.mu.RLock()
	defer t.mu.RUnlock()
	b := t.box(userID)
	if b == nil {
		return nil
	}
	var out []Task
	for _, k := range b.gw.tasks {
		if listID == "" || k.ListID == listID {
			out = append(out, k.clone())
		}
	}
	return out
}

func (b *mailbox) task(id string) *Task {
	for _, k := range b.gw.tasks {
		if k.ID == id {
			return k
		}
	}
	return nil
}

// Task returns one task. It returns an error wrapping model.ErrNotFound when the mailbox or
// task does not exist.
func (t *Tenant) Task(userID, id string) (Task, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	b, err := t.gw(userID)
	if err != nil {
		return Task{}, err
	}
	k := b.task(id)
	if k == nil {
		return Task{}, notFound("task", id)
	}
	return k.clone(), nil
}

// UpdateTask applies fn to a task and records the change. fn must not change ID or ListID.
// It returns an error wrapping model.ErrNotFound when the mailbox or task does not exist.
func (t *Tenant) UpdateTask(userID, id string, fn func(*Task)) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, err := t.gw(userID)
	if err != nil {
		return err
	}
	k := b.task(id)
	if k == nil {
		return notFound("task", id)
	}
	fn(k)
	t.bump(&k.Seq, &k.ChangeKey, &k.Modified)
	return nil
}

// CompleteTask marks a task completed now.
func (t *Tenant) CompleteTask(userID, id string) error {
	return t.UpdateTask(userID, id, func(k *Task) {
		k.Status = "completed"
		k.Completed = time.Now().UTC().Truncate(time.Second)
	})
}

// DeleteTask deletes a task. It returns an error wrapping model.ErrNotFound when the mailbox
// or task does not exist.
func (t *Tenant) DeleteTask(userID, id string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, err := t.gw(userID)
	if err != nil {
		return err
	}
	k := b.task(id)
	if k == nil {
		return notFound("task", id)
	}
	b.gw.tasks = slices.DeleteFunc(b.gw.tasks, func(x *Task) bool { return x == k })
	t.seq++
	return nil
}
